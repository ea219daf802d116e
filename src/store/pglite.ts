/**
 * The store's database embedded in this process: PGlite, PostgreSQL compiled
 * to WebAssembly, keeping its files in a folder (or in memory for tests).
 * It is one connection, so statements and transactions run one at a time.
 */
import { mkdirSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { lock } from "proper-lockfile";
import { LicenseError } from "../core/errors.js";
import type { Database, PoolStats, Queryable, QueryResult } from "./db.js";
import {
  PGLITE_SHARED_BUFFERS,
  WASM_BASELINE_FLAG,
  createPgliteDir,
  hasDatabase,
  isEmptyDir,
} from "./pglite-create.js";

/** PGlite's own start parameters with a smaller shared buffer pool (see pglite-create.ts). */
const START_PARAMS = [
  ...PGlite.defaultStartParams,
  "-c",
  `shared_buffers=${PGLITE_SHARED_BUFFERS}`,
];

/** Sets {@link WASM_BASELINE_FLAG} once, before PGlite's module is first compiled. */
function useBaselineWasmCompiler(): void {
  if (baselineSet) return;
  setFlagsFromString(WASM_BASELINE_FLAG);
  baselineSet = true;
}
let baselineSet = false;

function wrap(pglite: Pick<PGlite, "query">): Queryable {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = []) => {
      const r = await pglite.query<R>(sql, params as unknown[]);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length } as QueryResult<R>;
    },
  };
}

/**
 * Opens (creating on first use) the embedded database in `dir`, or an
 * in-memory one when `dir` is undefined. A lock file keeps a second process
 * from opening the same folder, which would corrupt it. An empty folder is
 * created in a short-lived child process first, so this process never holds
 * the memory of PGlite's initdb.
 *
 * @example
 * ```ts
 * await using db = await openPglite("/home/me/.datatools-license/pgdata");
 * ```
 */
export async function openPglite(dir?: string): Promise<Database> {
  let release: (() => Promise<void>) | undefined;
  if (dir !== undefined) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      release = await lock(dir, {
        realpath: false,
        lockfilePath: `${dir}.lock`,
        stale: 15_000,
        // A lock refresh that runs late (a long blocking task) must not kill a working server;
        // the lock only guards against a second process opening the folder.
        onCompromised: () => undefined,
      });
    } catch (err) {
      throw new LicenseError(
        "DATA_DIR_LOCKED",
        `the embedded database in ${dir} is in use by another process (a running server?); ` +
          "stop it, or use its API, or set DATABASE_URL to share a PostgreSQL server",
        { cause: err },
      );
    }
  }
  let pglite: PGlite;
  try {
    useBaselineWasmCompiler();
    if (dir !== undefined && !hasDatabase(dir) && isEmptyDir(dir)) {
      await createPgliteDir(dir, START_PARAMS);
    }
    pglite = await PGlite.create(dir ?? "memory://", {
      startParams: START_PARAMS,
      // pg_trgm: the trigram indexes of the licenses' text search (migration 8).
      extensions: { pg_trgm },
    });
  } catch (err) {
    await release?.();
    if (err instanceof LicenseError) throw err;
    throw new LicenseError(
      "DATABASE_UNAVAILABLE",
      `cannot open the embedded database in ${dir ?? "memory"}: ${(err as Error).message}; ` +
        "restore the folder from a backup, or, if it holds no data yet, remove it and start again",
      { cause: err },
    );
  }
  const root = wrap(pglite);
  let inflight = 0;
  let closed = false;
  const db: Database = {
    kind: "pglite",
    query: async (sql, params, name) => {
      inflight++;
      try {
        return await root.query(sql, params, name);
      } finally {
        inflight--;
      }
    },
    transaction: async (fn) => {
      inflight++;
      try {
        return await pglite.transaction((tx) => fn(wrap(tx)));
      } finally {
        inflight--;
      }
    },
    poolStats(): PoolStats {
      // One connection: "in use" while statements are queued or running.
      return { total: 1, idle: inflight === 0 ? 1 : 0, waiting: Math.max(0, inflight - 1), max: 1 };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await pglite.close();
      } finally {
        await release?.();
      }
    },
    [Symbol.asyncDispose]: () => db.close(),
  };
  return db;
}
