/** Opening a deployment's configured database for the operator commands (`db`, `admin`, `keys`, `doctor`). */
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
 * DATABASE_PASSWORD_FILE; else the embedded one in the data folder). `max`
 * caps the PostgreSQL pool (a one-shot command needs few connections); without
 * it the configured pool size is used.
 */
export async function openDeploymentDatabase(
  ctx: CliContext,
  dataDir?: string,
  max?: number,
): Promise<OpenedDatabase> {
  const { database } = loadDatabaseConfig(ctx.env, dataDir ? { dataDir } : {}, ctx.home);
  const { openDatabase, redactUrl } = await import("../store/open.js");
  if (database.kind === "postgres") {
    const db = await openDatabase({ ...database, ...(max !== undefined ? { max } : {}) });
    return { db, where: redactUrl(database.url) };
  }
  const db = await openDatabase(database);
  return { db, where: `embedded database in ${database.dir}` };
}
