// Test databases for the store and server suites: one PGlite per suite always, and one
// scratch database on the real PostgreSQL server when TEST_DATABASE_URL is set.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Database } from "../../src/store/db.js";
import { openPglite } from "../../src/store/pglite.js";
import { openPostgres } from "../../src/store/pg.js";
import { migrate } from "../../src/store/migrations.js";

export type BackendName = "pglite" | "postgres";

/** The backends this run covers: PGlite always; PostgreSQL when TEST_DATABASE_URL is set. */
export function backendNames(): BackendName[] {
  return process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

export interface TestDatabase {
  readonly db: Database;
  /** For PostgreSQL, the URL of the scratch database (for spawned servers). */
  readonly url: string | undefined;
  /** Empties every table (between tests). */
  reset(): Promise<void>;
  /** Closes and, on PostgreSQL, drops the scratch database. */
  dispose(): Promise<void>;
}

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}

/** A scratch database on TEST_DATABASE_URL's server, dropped by the returned function. */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error("TEST_DATABASE_URL is not set");
  const name = `dtl_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  // A failure here (server unreachable) fails the suite: CI must not silently skip it.
  const admin = new pg.Client({ connectionString: adminUrl(base), connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl(base) });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

const TABLES = "licenses, earlier_blobs, events, admin_tokens, idempotency_keys";

/** Empties every table and starts the events' chain afresh (its head row back at 64 zeros). */
async function emptyTables(db: Database): Promise<void> {
  await db.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`);
  await db.query(
    `INSERT INTO ledger_head (hash) VALUES (repeat('0', 64))
     ON CONFLICT (one) DO UPDATE SET hash = excluded.hash, before = NULL`,
  );
}

/** A migrated database of the given kind, created once per suite. */
export async function createTestDatabase(kind: BackendName): Promise<TestDatabase> {
  if (kind === "pglite") {
    const db = await openPglite();
    await migrate(db);
    return {
      db,
      url: undefined,
      reset: () => emptyTables(db),
      dispose: () => db.close(),
    };
  }
  const scratch = await createScratchDatabase();
  const db = openPostgres({ url: scratch.url, max: 20 });
  await migrate(db);
  return {
    db,
    url: scratch.url,
    reset: () => emptyTables(db),
    dispose: async () => {
      await db.close();
      await scratch.drop();
    },
  };
}
