/** The store's database on a PostgreSQL server, through a `pg` connection pool. */
import pg from "pg";
import type { Database, PoolStats, Queryable, QueryResult } from "./db.js";

export interface PostgresOptions {
  /** `postgres://user@host:port/db`; a password in it is allowed but a file is better. */
  readonly url: string;
  /** The password for the URL's user (from DATABASE_PASSWORD_FILE); overrides one in the URL. */
  readonly password?: string;
  /** Most connections the pool opens (default 10). */
  readonly max?: number;
  /** Called for errors on idle connections, which would otherwise crash the process. */
  readonly onError?: (err: Error) => void;
}

// Timestamps and jsonb are parsed the same way PGlite parses them; int8 stays a
// string (as counts can exceed 2^53 in principle) and callers convert.
function wrap(result: pg.QueryResult): QueryResult<never> {
  return { rows: result.rows as never[], rowCount: result.rowCount ?? 0 };
}

function client(c: pg.PoolClient | pg.Pool): Queryable {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = [], name?: string) =>
      wrap(
        await c.query(
          name === undefined
            ? { text: sql, values: params as unknown[] }
            : { name, text: sql, values: params as unknown[] },
        ),
      ) as QueryResult<R>,
  };
}

/**
 * Opens a pool. No connection is made until the first query, so callers
 * follow with a query (the migrations) to find out whether the server is there.
 *
 * @example
 * ```ts
 * await using db = openPostgres({ url: "postgres://postgres@127.0.0.1:5432/licenses" });
 * await db.query("SELECT 1");
 * ```
 */
export function openPostgres(options: PostgresOptions): Database {
  const max = options.max ?? 10;
  // pg lets a connection string without a password override the `password`
  // option with an empty one, so a password from a file goes into the URL.
  let connectionString = options.url;
  if (options.password !== undefined) {
    const url = new URL(options.url);
    url.password = encodeURIComponent(options.password);
    connectionString = url.toString();
  }
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: "datatools-license",
  });
  pool.on("error", (err) => options.onError?.(err));
  const root = client(pool);
  let closed = false;
  const db: Database = {
    kind: "postgres",
    query: root.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const c = await pool.connect();
      let broken = false;
      try {
        await c.query("BEGIN");
        const out = await fn(client(c));
        await c.query("COMMIT");
        return out;
      } catch (err) {
        try {
          await c.query("ROLLBACK");
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        c.release(broken);
      }
    },
    poolStats(): PoolStats {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max };
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
    [Symbol.asyncDispose]: () => db.close(),
  };
  return db;
}
