// `dtlicense serve` on a fresh data folder, as real processes: the embedded database is
// created in a child process under the folder's lock, and a start killed meanwhile leaves a
// folder the next start can use.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempHome } from "../helpers/cli.js";
import { spawnServer, type ServerProcess } from "./spawn.js";

const env = (home: string) => ({ HOME: home, DATATOOLS_LOG_LEVEL: "warn" });

async function issueOne(server: ServerProcess, home: string): Promise<number> {
  const token = readFileSync(join(home, ".datatools-license", "admin-token"), "utf8").trim();
  const r = await fetch(`${server.url}/v1/licenses`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "First Buyer", email: "first@example.com", tier: "core" }),
  });
  return r.status;
}

/** Pids of `pid`'s children. */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe("dtlicense serve on a fresh data folder", { timeout: 180_000 }, () => {
  it("creates a working database, and two servers started at once leave one refused with DATA_DIR_LOCKED", async () => {
    const home = tempHome("dtl-first-");
    const started = await Promise.allSettled([
      spawnServer([], env(home), 120_000),
      spawnServer([], env(home), 120_000),
    ]);
    const up = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
    const refused = started.filter((s) => s.status === "rejected").map((s) => String(s.reason));
    try {
      expect(up).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatch(/in use by another process.*\[DATA_DIR_LOCKED\]/s);
      expect(await issueOne(up[0]!, home)).toBe(201);
    } finally {
      for (const s of up) await s.stop();
    }
    const dataDir = join(home, ".datatools-license");
    expect(existsSync(join(dataDir, "pgdata", "PG_VERSION"))).toBe(true);
    expect(existsSync(join(dataDir, "pgdata.creating"))).toBe(false);
    // Reopened, the license is still there.
    const again = await spawnServer([], env(home), 120_000);
    try {
      const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
      const r = await fetch(`${again.url}/v1/licenses?email=first@example.com`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(r.status).toBe(200);
      expect(JSON.stringify(await r.json())).toContain("first@example.com");
    } finally {
      await again.stop();
    }
  });

  it("starts after a first start killed while creating the database", async () => {
    const home = tempHome("dtl-first-");
    const dataDir = join(home, ".datatools-license");
    const first = spawnServer([], env(home), 120_000).catch((e: unknown) => e);
    // Wait for the creating child, then kill the server (not the child) outright.
    let server: number | undefined;
    for (let i = 0; i < 600 && server === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      for (const pid of children(process.pid)) {
        if (children(pid).length > 0 && existsSync(join(dataDir, "pgdata.creating"))) {
          server = pid;
        }
      }
    }
    expect(server).toBeDefined();
    process.kill(server!, "SIGKILL");
    expect(String(await first)).toMatch(/exited with null/);
    expect(readdirSync(join(dataDir, "pgdata"))).toEqual([]);

    // The dead server's lock is taken over once stale (proper-lockfile, 15 s); until then a
    // start refuses with DATA_DIR_LOCKED, then one succeeds.
    let next: ServerProcess | undefined;
    for (let i = 0; i < 12 && !next; i++) {
      next = await spawnServer([], env(home), 120_000).catch((e: unknown) => {
        expect(String(e)).toMatch(/\[DATA_DIR_LOCKED\]/);
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 3_000));
      });
    }
    expect(next).toBeDefined();
    try {
      expect(await issueOne(next!, home)).toBe(201);
    } finally {
      await next!.stop();
    }
    expect(existsSync(join(dataDir, "pgdata.creating"))).toBe(false);
  });
});
