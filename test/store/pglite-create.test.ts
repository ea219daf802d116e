// The embedded database's first start: created in a short-lived child process, renamed
// into place only when complete, under the data folder's lock.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { LicenseError } from "../../src/core/errors.js";
import { migrate } from "../../src/store/migrations.js";
import { WASM_BASELINE_FLAG, creationDir, templateName } from "../../src/store/pglite-create.js";
import { openPglite } from "../../src/store/pglite.js";
import { tempHome } from "../helpers/cli.js";

const code = (err: unknown) => (err instanceof LicenseError ? err.code : String(err));

/** Pids of this process's children whose command line runs the creating script. */
function creatingChildren(): number[] {
  let kids: string[] = [];
  try {
    kids = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    return [];
  }
  return kids.map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(".creating");
    } catch {
      return false;
    }
  });
}

describe("the embedded database's first start", { timeout: 120_000 }, () => {
  it("creates a working database that keeps its rows when reopened, leaving no build folder", async () => {
    const dir = join(tempHome("dtl-pgc-"), "pgdata");
    const db = await openPglite(dir);
    await migrate(db);
    await db.query("CREATE TABLE kept (n int)");
    await db.query("INSERT INTO kept VALUES (42)");
    const shown = await db.query<{ shared_buffers: string }>("SHOW shared_buffers");
    expect(shown.rows[0]?.shared_buffers).toBe("16MB");
    await db.close();
    expect(existsSync(join(dir, "PG_VERSION"))).toBe(true);
    expect(existsSync(creationDir(dir))).toBe(false);

    const again = await openPglite(dir);
    try {
      expect((await again.query<{ n: number }>("SELECT n FROM kept")).rows).toEqual([{ n: 42 }]);
      expect((await migrate(again)).applied).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it("refuses a second open of the same folder during the creation with DATA_DIR_LOCKED, and the first still works", async () => {
    const dir = join(tempHome("dtl-pgc-"), "pgdata");
    const results = await Promise.allSettled([openPglite(dir), openPglite(dir)]);
    const opened = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    expect(opened).toHaveLength(1);
    expect(refused.map((r) => code(r.reason))).toEqual(["DATA_DIR_LOCKED"]);
    const db = opened[0]!.value;
    try {
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("creates the database in a child that compiles PGlite with the baseline compiler only", async () => {
    const dir = join(tempHome("dtl-pgc-"), "pgdata");
    const opening = openPglite(dir);
    let args: string[] | undefined;
    for (let i = 0; i < 400 && args === undefined; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const [pid] = creatingChildren();
      if (pid !== undefined) args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    }
    const db = await opening;
    await db.close();
    expect(args?.slice(1, 2)).toEqual([WASM_BASELINE_FLAG]);
    expect(WASM_BASELINE_FLAG).toBe("--liftoff-only");
  });

  it("recovers from a creation killed midway: the folder stays empty, and the next start creates it", async () => {
    const dir = join(tempHome("dtl-pgc-"), "pgdata");
    const opening = openPglite(dir);
    let killed = false;
    for (let i = 0; i < 400 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 25));
      for (const pid of creatingChildren()) {
        process.kill(pid, "SIGKILL");
        killed = true;
      }
    }
    expect(killed).toBe(true);
    const err = await opening.then(
      (db) => db.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(code(err)).toBe("DATABASE_UNAVAILABLE");
    expect((err as Error).message).toMatch(/cannot create the embedded database in .*start again/);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(creationDir(dir))).toBe(false);

    const db = await openPglite(dir);
    try {
      await migrate(db);
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("clears what an interrupted creation left beside the folder and creates the database", async () => {
    const dir = join(tempHome("dtl-pgc-"), "pgdata");
    mkdirSync(creationDir(dir), { recursive: true });
    writeFileSync(join(creationDir(dir), "PG_VERSION"), "17\n");
    const db = await openPglite(dir);
    try {
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
    expect(existsSync(creationDir(dir))).toBe(false);
  });

  it("says what to do about a folder that holds a broken database, and releases the lock", async () => {
    const dir = join(tempHome("dtl-pgc-"), "pgdata");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "PG_VERSION"), "17\n");
    const err = await openPglite(dir).then(
      (db) => db.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(code(err)).toBe("DATABASE_UNAVAILABLE");
    expect((err as Error).message).toMatch(/restore the folder from a backup.*remove it/);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it("has, after the build, a template database for the installed PGlite version beside the store module", () => {
    const root = resolve(import.meta.dirname, "../..");
    const { version } = JSON.parse(
      readFileSync(join(root, "node_modules/@electric-sql/pglite/package.json"), "utf8"),
    ) as { version: string };
    expect(existsSync(join(root, "dist/store", templateName(version)))).toBe(true);
  });
});
