/** The license server's store: database adapters, migrations and the repositories. */
export { sqlState, isConnectionError, UNIQUE_VIOLATION } from "./db.js";
export type { Database, PoolStats, Queryable, QueryResult } from "./db.js";
export { openDatabase, redactUrl } from "./open.js";
export type { DatabaseTarget } from "./open.js";
export {
  MIGRATIONS,
  LATEST_VERSION,
  migrate,
  schemaVersion,
  assertSchemaCurrent,
} from "./migrations.js";
export type { Migration, MigrateResult } from "./migrations.js";
export * as licenses from "./licenses.js";
export type {
  LicenseRecord,
  LicenseEvent,
  LicenseStatus,
  LicenseCounts,
  LicensePage,
  ListFilter,
  NewLicense,
  Actor,
} from "./licenses.js";
export * as tokens from "./tokens.js";
export type { AdminToken } from "./tokens.js";
export { claimKey, completeKey, requestHash } from "./idempotency.js";
export type { StoredResponse } from "./idempotency.js";
export { importRecords, verifyInThread } from "./import.js";
export type { ImportSummary, ImportOptions, Rejection, VerifyOutcome } from "./import.js";
export { createVerifyPool } from "./verify-pool.js";
export type { VerifyPool } from "./verify-pool.js";
