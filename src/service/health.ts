/** The database's health and schema: readiness, status and migration, for the server and the commands. */
import { LicenseError } from "../core/errors.js";
import type { Database } from "../store/db.js";
import { LATEST_VERSION, migrate, schemaVersion, type MigrateResult } from "../store/migrations.js";

export { LATEST_VERSION } from "../store/migrations.js";

/**
 * How long a readiness check waits for the database before answering that it is
 * unavailable: well under a load balancer's probe timeout, and shorter than the
 * database's own query timeout.
 */
export const READY_TIMEOUT_MS = 2_500;

/** `work`, or DATABASE_UNAVAILABLE once `ms` have passed (the work is left to its own timeout). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new LicenseError("DATABASE_UNAVAILABLE", `the database did not answer within ${ms} ms`),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a ready database reports. */
export interface Readiness {
  readonly status: "ready";
  readonly schema_version: number;
  readonly database: Database["kind"];
}

/**
 * The database answers within {@link READY_TIMEOUT_MS} and holds this release's
 * schema; else DATABASE_UNAVAILABLE or SCHEMA_OUTDATED.
 */
export async function readiness(db: Database, timeoutMs = READY_TIMEOUT_MS): Promise<Readiness> {
  let version: number;
  try {
    version = await within(timeoutMs, schemaVersion(db));
  } catch (err) {
    if (err instanceof LicenseError && err.code === "DATABASE_UNAVAILABLE") throw err;
    throw new LicenseError("DATABASE_UNAVAILABLE", "the database cannot be reached", {
      cause: err,
    });
  }
  if (version < LATEST_VERSION) {
    throw new LicenseError(
      "SCHEMA_OUTDATED",
      `the database schema is at version ${version}, this server needs ${LATEST_VERSION}; run dtlicense db migrate`,
    );
  }
  return { status: "ready", schema_version: version, database: db.kind };
}

/** The schema version the database is at, and the one this release needs. */
export async function schemaStatus(db: Database): Promise<{ version: number; needed: number }> {
  return { version: await schemaVersion(db), needed: LATEST_VERSION };
}

/** Applies every missing migration (see store/migrations.ts). */
export function migrateDatabase(db: Database): Promise<MigrateResult> {
  return migrate(db);
}
