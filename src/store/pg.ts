/** The store's database on a PostgreSQL server, through a `pg` connection pool. */
import pg from "pg";
import { LicenseError } from "../core/errors.js";
import type { Database, PoolStats, Queryable, QueryResult } from "./db.js";

/** How long a connection (new, or a turn in a full pool) may take by default, in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** How long one statement may go unanswered by default, in ms. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;
// A transaction left open by a client that vanished behind a frozen link holds its row locks
// until the server notices; this ends it on the server's side. Ours never idle this long.
const IDLE_IN_TRANSACTION_MS = 60_000;

export interface PostgresOptions {
  /** `postgres://user@host:port/db`; a password in it is allowed but a file is better. */
  readonly url: string;
  /** The password for the URL's user (from DATABASE_PASSWORD_FILE); overrides one in the URL. */
  readonly password?: string;
  /** Most connections the pool opens (default 10). */
  readonly max?: number;
  /**
   * Longest wait for a connection, new or a turn in a full pool (default
   * {@link DEFAULT_CONNECT_TIMEOUT_MS}); then DATABASE_UNAVAILABLE.
   */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait for one statement's answer (default {@link DEFAULT_QUERY_TIMEOUT_MS}); then
   * DATABASE_UNAVAILABLE and the connection is closed. The server cancels it too (statement_timeout).
   */
  readonly queryTimeoutMs?: number;
  /** Called for errors on idle connections, which would otherwise crash the process. */
  readonly onError?: (err: Error) => void;
}

// Timestamps and jsonb are parsed the same way PGlite parses them; int8 stays a
// string (as counts can exceed 2^53 in principle) and callers convert.
function wrap(result: pg.QueryResult): QueryResult<never> {
  return { rows: result.rows as never[], rowCount: result.rowCount ?? 0 };
}

const unavailable = (message: string, cause?: unknown) =>
  new LicenseError("DATABASE_UNAVAILABLE", message, cause === undefined ? {} : { cause });

/**
 * Opens a pool. No connection is made until the first query, so callers
 * follow with a query (the migrations) to find out whether the server is there.
 * Every wait is bounded: a connection by `connectTimeoutMs`, each statement by
 * `queryTimeoutMs`, so a stalled server or a frozen link gives DATABASE_UNAVAILABLE
 * in bounded time instead of a hang.
 *
 * @example
 * ```ts
 * await using db = openPostgres({ url: "postgres://postgres@127.0.0.1:5432/licenses" });
 * await db.query("SELECT 1");
 * ```
 */
export function openPostgres(options: PostgresOptions): Database {
  const max = options.max ?? 10;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
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
    // Bounds both opening a connection and waiting for a turn when the pool is full.
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Lets the kernel find dead idle connections (a link that went away without a close).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // The server stops working on a statement this client has given up on.
    statement_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(IDLE_IN_TRANSACTION_MS, queryTimeoutMs),
    application_name: "datatools-license",
  });
  pool.on("error", (err) => options.onError?.(err));
  // A connection that fails while checked out fails its statement, which is where that is
  // handled; without a listener its "error" event would crash the process.
  pool.on("connect", (c) => c.on("error", () => undefined));

  // Connections whose statement went unanswered: never used again, closed on release.
  const abandoned = new WeakSet<pg.PoolClient>();
  let closed = false;

  async function connect(): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (err) {
      // Every failure to get a connection (timeout, refused, authentication, shutting down)
      // means the database cannot be used now. The cause keeps the driver's words.
      throw unavailable(
        closed
          ? "the database connection is closed"
          : "could not connect to the database; retry later",
        err,
      );
    }
  }

  function run(c: pg.PoolClient, sql: string, params: readonly unknown[], name?: string) {
    if (abandoned.has(c)) {
      return Promise.reject(unavailable("the database connection was abandoned after a timeout"));
    }
    const pending = c.query(
      name === undefined
        ? { text: sql, values: params as unknown[] }
        : { name, text: sql, values: params as unknown[] },
    );
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned.add(c);
        reject(unavailable(`the database did not answer within ${queryTimeoutMs} ms; retry later`));
      }, queryTimeoutMs);
    });
    // The race also settles the statement's own late failure (when its connection is closed).
    return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
  }

  // Releasing an abandoned connection closes it: pg destroys the socket of a client
  // with a statement still outstanding, so nothing waits on a dead link.
  const release = (c: pg.PoolClient, broken = false) => c.release(broken || abandoned.has(c));

  const db: Database = {
    kind: "postgres",
    async query<R>(sql: string, params: readonly unknown[] = [], name?: string) {
      const c = await connect();
      try {
        return wrap(await run(c, sql, params, name)) as QueryResult<R>;
      } finally {
        release(c);
      }
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const c = await connect();
      const tx: Queryable = {
        query: async <R>(sql: string, params: readonly unknown[] = [], name?: string) =>
          wrap(await run(c, sql, params, name)) as QueryResult<R>,
      };
      let broken = false;
      try {
        await run(c, "BEGIN", []);
        const out = await fn(tx);
        await run(c, "COMMIT", []);
        return out;
      } catch (err) {
        // After a timeout the link may be dead: closing the connection ends the transaction
        // on the server, without a second wait for a ROLLBACK that may never be answered.
        if (!abandoned.has(c)) {
          try {
            await run(c, "ROLLBACK", []);
          } catch {
            broken = true;
          }
        }
        throw err;
      } finally {
        release(c, broken);
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
