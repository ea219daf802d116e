// The installed bin's cold start: a loader that runs the bundle from a V8 code cache made at
// build time, loads node:child_process only when used, and rebuilds a cache V8 refuses.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_PATH, tempHome } from "./helpers/cli.js";

const MAIN = join(dirname(CLI_PATH), "dtlicense-main.cjs");
const FAST = join(dirname(CLI_PATH), "dtlicense-status.cjs");
const hasOwnCompileCache = Number(process.versions.node.split(".")[0]) >= 22;

function run(cli: string, args: string[], env: Record<string, string> = {}) {
  const home = env.HOME ?? tempHome("dtl-cold-");
  return spawnSync(process.execPath, [cli, ...args], {
    env: { PATH: process.env.PATH, HOME: home, ...env },
    encoding: "utf8",
  });
}

describe("the bin's cold start", () => {
  it.skipIf(hasOwnCompileCache)(
    "uses the code caches made at build time, leaving them as they were",
    () => {
      // A bare status runs the fast path's bundle; status --online the command tree's.
      for (const [args, bundle] of [
        [["status"], FAST],
        [["status", "--online"], MAIN],
      ] as const) {
        const before = statSync(`${bundle}.cache`);
        const r = run(CLI_PATH, [...args]);
        expect(r.status).toBe(3);
        expect(r.stdout).toMatch(/^State: +none$/m);
        const after = statSync(`${bundle}.cache`);
        // A refused cache would have been written again.
        expect([after.mtimeMs, after.size]).toEqual([before.mtimeMs, before.size]);
      }
    },
  );

  it.skipIf(hasOwnCompileCache)(
    "uses the status bundle's code cache for an active license and status --json too",
    () => {
      // The cache is made after running status for an active license, none and a damaged file
      // (scripts/code-cache.mjs); V8 accepts it whatever the state, or the loader rewrites it.
      const home = tempHome("dtl-cold-");
      const minted = run(CLI_PATH, ["mint", "--name", "Ada", "--email", "ada@example.com"], {
        HOME: home,
      });
      const args = [
        "activate",
        minted.stdout.trim(),
        "--name",
        "Ada",
        "--email",
        "ada@example.com",
      ];
      expect(run(CLI_PATH, args, { HOME: home }).status).toBe(0);
      const before = statSync(`${FAST}.cache`);
      for (const line of [["status"], ["status", "--json"]]) {
        const r = run(CLI_PATH, line, { HOME: home });
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/active/);
      }
      const after = statSync(`${FAST}.cache`);
      expect([after.mtimeMs, after.size]).toEqual([before.mtimeMs, before.size]);
    },
  );

  it("still loads the command groups it imports on demand", () => {
    for (const group of ["serve", "db", "ledger"]) {
      const r = run(CLI_PATH, [group, "--help"]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: dtlicense ${group} `));
    }
  });

  it("does not load node:child_process for dtlicense status", () => {
    const r = run(CLI_PATH, ["status"], { NODE_DEBUG: "module" });
    expect(r.stdout).toMatch(/^State: +none$/m);
    expect(r.stderr).toMatch(/node:fs/);
    expect(r.stderr).not.toMatch(/child_process/);
  });

  it("builds no output stream and loads no node:net, node:tty or node:worker_threads for dtlicense status", () => {
    // Node's own list of the built-ins it loaded (NODE_DEBUG=module misses those that other
    // built-ins load, such as node:net for process.stdout on a pipe), printed at exit.
    const dir = tempHome("dtl-cold-list-");
    const preload = join(dir, "list.cjs");
    writeFileSync(
      preload,
      'process.on("exit", () => require("node:fs").writeSync(2, "\\nLOADED " + process.moduleLoadList.join(",") + "\\n"));\n',
    );
    // stdout and stderr are pipes here, the case where Node builds a net.Socket for them.
    const r = spawnSync(process.execPath, ["--require", preload, CLI_PATH, "status"], {
      env: { PATH: process.env.PATH, HOME: tempHome("dtl-cold-") },
      encoding: "utf8",
    });
    expect(r.stdout).toMatch(/^State: +none$/m);
    const loaded = /\nLOADED (.*)\n$/.exec(r.stderr)?.[1]?.split(",") ?? [];
    expect(loaded).toContain("NativeModule fs");
    for (const name of ["net", "tty", "worker_threads", "child_process", "os"]) {
      expect(loaded).not.toContain(`NativeModule ${name}`);
    }
  });

  it.skipIf(hasOwnCompileCache)(
    "replaces a cache that V8 refuses, and answers the same meanwhile",
    () => {
      const dir = tempHome("dtl-cold-copy-");
      const cli = join(dir, "dtlicense.cjs");
      copyFileSync(CLI_PATH, cli);
      copyFileSync(MAIN, join(dir, "dtlicense-main.cjs"));
      copyFileSync(FAST, join(dir, "dtlicense-status.cjs"));
      writeFileSync(join(dir, "dtlicense-status.cjs.cache"), "not a V8 code cache");
      const home = tempHome("dtl-cold-");
      const first = run(cli, ["status"], { HOME: home });
      expect(first.status).toBe(3);
      expect(first.stdout).toMatch(/^State: +none$/m);
      const rebuilt = readFileSync(join(dir, "dtlicense-status.cjs.cache"));
      expect(rebuilt.length).toBeGreaterThan(10_000);
      const second = run(cli, ["status"], { HOME: home });
      expect(second.stdout).toBe(first.stdout);
    },
  );
});

describe("the bin's fast path", () => {
  it("answers a bare status and status --json exactly as the command tree does", async () => {
    const home = tempHome("dtl-fast-");
    const { fastStatusOptions } = await import("../src/cli/fast.js");
    for (const args of [["status"], ["status", "--json"]]) {
      expect(fastStatusOptions(args)).toBeDefined();
      const fast = run(CLI_PATH, args, { HOME: home });
      // The same command line with a flag that changes nothing goes through commander.
      const tree = run(CLI_PATH, [...args, "--timeout", "10"], { HOME: home });
      expect(fast.status).toBe(3);
      expect([fast.status, fast.stdout, fast.stderr]).toEqual([
        tree.status,
        tree.stdout,
        tree.stderr,
      ]);
    }
    for (const args of [["status", "--help"], ["status", "--jsn"], ["--json", "status"], []]) {
      expect(fastStatusOptions(args)).toBeUndefined();
    }
  });

  it("answers for an active license exactly as the command tree does", () => {
    const home = tempHome("dtl-fast-");
    const minted = run(CLI_PATH, ["mint", "--name", "Ada", "--email", "ada@example.com"], {
      HOME: home,
    });
    const blob = minted.stdout.trim();
    const args = ["activate", blob, "--name", "Ada", "--email", "ada@example.com"];
    expect(run(CLI_PATH, args, { HOME: home }).status).toBe(0);
    for (const args of [["status"], ["status", "--json"]]) {
      const fast = run(CLI_PATH, args, { HOME: home });
      const tree = run(CLI_PATH, [...args, "--timeout", "10"], { HOME: home });
      expect(fast.status).toBe(0);
      expect(fast.stdout).toMatch(/active/);
      expect([fast.status, fast.stdout, fast.stderr]).toEqual([
        tree.status,
        tree.stdout,
        tree.stderr,
      ]);
    }
  });

  it("reports a bad license file and a bad catalogue as the command tree does", () => {
    const home = tempHome("dtl-fast-");
    mkdirSync(join(home, ".datatools"));
    writeFileSync(join(home, ".datatools", "license.json"), "{not json");
    const env = { HOME: home, DATATOOLS_CATALOGUE: join(home, "missing.json") };
    const fast = run(CLI_PATH, ["status"], env);
    const tree = run(CLI_PATH, ["status", "--timeout", "10"], env);
    expect(fast.status).toBe(1);
    expect(fast.stderr).toMatch(/\[[A-Z_]+\]\n$/);
    expect([fast.status, fast.stdout, fast.stderr]).toEqual([
      tree.status,
      tree.stdout,
      tree.stderr,
    ]);
    const noCatalogue = { HOME: home };
    const fast2 = run(CLI_PATH, ["status"], noCatalogue);
    const tree2 = run(CLI_PATH, ["status", "--timeout", "10"], noCatalogue);
    expect(fast2.status).toBe(5);
    expect([fast2.status, fast2.stdout, fast2.stderr]).toEqual([
      tree2.status,
      tree2.stdout,
      tree2.stderr,
    ]);
  });
});
