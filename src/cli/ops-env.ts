/** Opening a deployment's configured database for the operator commands (`db`, `admin`, `keys`, `doctor`). */
import { LicenseError } from "../core/errors.js";
import { loadDatabaseConfig } from "../config/server.js";
import type { Database } from "../store/db.js";
import type { CliContext } from "./context.js";

/** The configured database's kind and a description without secrets. */
export interface OpenedDatabase {
  readonly db: Database;
  readonly where: string;
}

/**
 * Opens the database the server would use (DATABASE_URL, DATABASE_URL_FILE,
 * DATABASE_PASSWORD_FILE; else the embedded one in the data folder, which a
 * running server holds locked: DATA_DIR_LOCKED, naming that server). `max`
 * caps the PostgreSQL pool (a one-shot command needs few connections); without
 * it the configured pool size is used.
 */
export async function openDeploymentDatabase(
  ctx: CliContext,
  dataDir?: string,
  max?: number,
): Promise<OpenedDatabase> {
  const { database, dataDir: folder } = loadDatabaseConfig(
    ctx.env,
    dataDir ? { dataDir } : {},
    ctx.home,
  );
  const { openDatabase, redactUrl } = await import("../store/open.js");
  if (database.kind === "postgres") {
    const db = await openDatabase({ ...database, ...(max !== undefined ? { max } : {}) });
    return { db, where: redactUrl(database.url) };
  }
  try {
    const db = await openDatabase(database);
    return { db, where: `embedded database in ${database.dir}` };
  } catch (err) {
    if (!(err instanceof LicenseError) || err.code !== "DATA_DIR_LOCKED") throw err;
    // admin token and import went to the running server's API already; the others have none.
    const { runningServer } = await import("../server/server-file.js");
    const server = runningServer(folder);
    throw new LicenseError(
      "DATA_DIR_LOCKED",
      `the embedded database in ${database.dir} is in use by ` +
        (server
          ? `the server running at ${server.url} (pid ${server.pid})`
          : "another process (a running dtlicense serve, or another command)") +
        "; stop it first (Ctrl-C or SIGTERM), then run this command again " +
        "(only import and admin token go through a running server's API)",
      { cause: err },
    );
  }
}
