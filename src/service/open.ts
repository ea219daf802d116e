/**
 * Opening the configured database as a service context, the same way for the
 * server and every operator command: a PostgreSQL server, or the embedded
 * PGlite database in the data folder (which the server running on it holds
 * locked). One rule for the schema: what writes migrates first, exactly as the
 * server does at start; what only reads needs the current schema.
 */
import { LicenseError } from "../core/errors.js";
import type { KeyRing, Signer } from "../core/keys.js";
import { runningServer } from "../config/data-dir.js";
import type { DatabaseConfig } from "../config/server.js";
import type { Database } from "../store/db.js";
import { assertSchemaCurrent, migrate, type MigrateResult } from "../store/migrations.js";
import { openDatabase, redactUrl } from "../store/open.js";
import { createServiceContext, type ServiceContext, type ServiceEvents } from "./context.js";

/**
 * What a caller does with the schema: `migrate` (anything that writes, as the
 * server at start), `require` (reads: SCHEMA_OUTDATED unless current), `none`
 * (`db status`, `db migrate` and `doctor`, which look at the schema themselves).
 */
export type SchemaPolicy = "migrate" | "require" | "none";

export interface OpenServiceOptions {
  readonly database: DatabaseConfig;
  /** The data folder (for the running server's address when the embedded database is locked). */
  readonly dataDir: string;
  readonly keys: { readonly signer: Signer | undefined; readonly ring: KeyRing };
  readonly schema: SchemaPolicy;
  readonly now?: () => Date;
  readonly events?: ServiceEvents;
  /** Share hot reads and inserts among concurrent callers (the server). */
  readonly batching?: boolean;
  /** Most PostgreSQL connections (a one-shot command needs few); default: the configured pool. */
  readonly max?: number;
  /** Errors on idle connections (which would otherwise crash the process). */
  readonly onError?: (err: Error) => void;
}

/** An open service context and what it holds open. */
export interface OpenedService extends AsyncDisposable {
  readonly ctx: ServiceContext;
  readonly db: Database;
  /** Where the data is, for people: the redacted database URL or the embedded database's folder. */
  readonly where: string;
  /** What `schema: "migrate"` applied. */
  readonly migrated: MigrateResult | undefined;
  close(): Promise<void>;
}

/** Where the configured data is, for people (no secrets). */
export function describeDatabase(database: DatabaseConfig): string {
  return database.kind === "postgres"
    ? redactUrl(database.url)
    : `${database.dir} (embedded PostgreSQL)`;
}

/**
 * Opens the configured database, applies the schema policy and builds the
 * context. An embedded database in use by a running server is refused with
 * DATA_DIR_LOCKED naming that server.
 *
 * @example
 * ```ts
 * await using opened = await openService({ database, dataDir, keys, schema: "migrate" });
 * await createToken(opened.ctx, "ops laptop", "cli");
 * ```
 */
export async function openService(options: OpenServiceOptions): Promise<OpenedService> {
  const { database } = options;
  let db: Database;
  try {
    db = await openDatabase(
      database.kind === "postgres"
        ? { ...database, ...(options.max !== undefined ? { max: options.max } : {}) }
        : database,
      options.onError,
    );
  } catch (err) {
    if (!(err instanceof LicenseError) || err.code !== "DATA_DIR_LOCKED") throw err;
    const server = runningServer(options.dataDir);
    throw new LicenseError(
      "DATA_DIR_LOCKED",
      `the embedded database in ${database.kind === "pglite" ? database.dir : options.dataDir} is in use by ` +
        (server
          ? `the server running at ${server.url} (pid ${server.pid})`
          : "another process (a running dtlicense serve, or another command)") +
        "; stop it first (Ctrl-C or SIGTERM), then run this command again " +
        "(only import and admin token go through a running server's API)",
      { cause: err },
    );
  }
  let migrated: MigrateResult | undefined;
  try {
    if (options.schema === "migrate") migrated = await migrate(db);
    else if (options.schema === "require") await assertSchemaCurrent(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  const ctx = createServiceContext({
    db,
    signer: options.keys.signer,
    ring: options.keys.ring,
    ...(options.now ? { now: options.now } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(options.batching !== undefined ? { batching: options.batching } : {}),
  });
  const close = () => db.close();
  return {
    ctx,
    db,
    where: describeDatabase(database),
    migrated,
    close,
    [Symbol.asyncDispose]: close,
  };
}
