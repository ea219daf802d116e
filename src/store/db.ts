/**
 * The one interface the store needs from a database, and the helpers shared by
 * its two implementations: `pg` (a PostgreSQL server) and PGlite (PostgreSQL
 * compiled to WebAssembly, embedded in this process). Both speak the same SQL.
 */
import { isLicenseError } from "../core/errors.js";

/** Rows and the number of rows a statement touched. */
export interface QueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number;
}

/** Something SQL can be sent to: the database itself or one open transaction. */
export interface Queryable {
  /**
   * Runs one statement with `$1…` parameters. `name` asks the `pg` driver to
   * keep a named prepared statement for it (hot reads); PGlite ignores it.
   */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    name?: string,
  ): Promise<QueryResult<R>>;
}

/** Connection-pool figures for /metrics. */
export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
  readonly max: number;
}

/** An open database. */
export interface Database extends Queryable, AsyncDisposable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

/** The SQLSTATE of a database error, when it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** SQLSTATE 23505: a unique constraint refused the row. */
export const UNIQUE_VIOLATION = "23505";

/** The constraint a unique violation names, when the driver reports it. */
export function violatedConstraint(err: unknown): string | undefined {
  const c = (err as { constraint?: unknown } | null)?.constraint;
  if (typeof c === "string") return c;
  const m = /unique constraint "([^"]+)"/.exec((err as Error)?.message ?? "");
  return m?.[1];
}

/**
 * True for errors meaning the database cannot be reached or did not answer in
 * time (not a bad statement): network and connection failures, the adapters'
 * own DATABASE_UNAVAILABLE (a connection or statement timeout), and a statement
 * the server cancelled at its statement_timeout.
 */
export function isConnectionError(err: unknown): boolean {
  if (isLicenseError(err, "DATABASE_UNAVAILABLE")) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
      "ENOTFOUND",
      "EHOSTUNREACH",
      "EPIPE",
      "57014",
      "57P01",
      "57P02",
      "57P03",
      "53300",
    ].includes(code) || code.startsWith("08")
  );
}
