// `dtlicense ledger verify`: the issuance log's chain and, with --db, the server's events.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lineHash } from "../src/issuer/log.js";
import { openPglite } from "../src/store/pglite.js";
import { runInProcess, tempHome } from "./helpers/cli.js";

const HEX = /[0-9a-f]{64}/;

/** A creator's home with `n` mints in the default log, and a server data folder beside it. */
async function creator(n: number) {
  const home = tempHome();
  const env = { DATATOOLS_DATA_DIR: join(home, "server") };
  for (let i = 0; i < n; i++) {
    const r = await runInProcess(["mint", "--name", `Buyer ${i}`, "--email", `b${i}@example.com`], {
      home,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
  }
  const log = join(home, ".datatools-creator", "issued.jsonl");
  const run = (...argv: string[]) => runInProcess(argv, { home, env });
  return { home, env, log, run, lines: () => readFileSync(log, "utf8").split("\n").slice(0, -1) };
}

describe("dtlicense ledger verify", () => {
  it("checks the log at its default path and prints its head, exit 0", async () => {
    const c = await creator(2);
    const r = await c.run("ledger", "verify");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      `issuance log ${c.log}: ok; 2 records, 2 chained\n  head (line 2): ${lineHash(c.lines()[1]!)}\n`,
    );
  });

  it("names the broken line on stderr with LEDGER_BROKEN and exits 1; --log and --json", async () => {
    const c = await creator(3);
    const moved = join(c.home, "copy.jsonl");
    const [a, b, d] = c.lines();
    writeFileSync(moved, `${a}\n${d}\n${b}\n`);
    const r = await c.run("ledger", "verify", "--log", moved);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `dtlicense: ${moved}: line 2's prev is not the hash of line 1: one of them was changed, ` +
        "lines between them were removed, or line 2 was inserted or moved [LEDGER_BROKEN]\n",
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `^issuance log ${moved}: BROKEN at line 2; 3 records, 3 chained\\n  head \\(line 3\\): ${HEX.source}\\n$`,
      ),
    );
    const j = await c.run("ledger", "verify", "--log", moved, "--json");
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: false,
      log: { path: moved, ok: false, records: 3, broken: { line: 2 }, head: lineHash(b!) },
      events: null,
    });
    // The log itself is untouched and whole.
    expect((await c.run("ledger", "verify")).code).toBe(0);
  });

  it("checks a head recorded earlier with --expect-head", async () => {
    const c = await creator(2);
    const head = lineHash(c.lines()[1]!);
    await c.run("mint", "--name", "Later", "--email", "later@example.com");
    const ok = await c.run("ledger", "verify", "--expect-head", head.toUpperCase());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("; the expected head is line 2\n");
    writeFileSync(c.log, `${c.lines()[0]}\n`);
    const gone = await c.run("ledger", "verify", "--expect-head", head);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(
      `dtlicense: ${c.log}: no line hashes to the expected head ${head}: lines up to it were ` +
        "removed or changed [LEDGER_BROKEN]\n",
    );
    expect(gone.stdout).toContain(": BROKEN; 1 record, 1 chained");
  });

  it("refuses a malformed head or --expect-events-head without --db as usage mistakes, exit 2", async () => {
    const c = await creator(1);
    const bad = await c.run("ledger", "verify", "--expect-head", "abc");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "dtlicense: --expect-head must be 64 hex characters, a head printed by dtlicense ledger verify [USAGE]\n",
    );
    const lone = await c.run("ledger", "verify", "--expect-events-head", "0".repeat(64));
    expect(lone.code).toBe(2);
    expect(lone.stderr).toBe("dtlicense: --expect-events-head needs --db [USAGE]\n");
    const bare = await c.run("ledger");
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/'dtlicense ledger' needs a subcommand \(verify\)/);
  });

  it("reports a missing log as LOG_NOT_FOUND, exit 1", async () => {
    const c = await creator(0);
    const named = await c.run("ledger", "verify", "--log", join(c.home, "none.jsonl"));
    expect(named.code).toBe(1);
    expect(named.stderr).toBe(
      `dtlicense: no issuance log at ${join(c.home, "none.jsonl")} [LOG_NOT_FOUND]\n`,
    );
    const fallback = await c.run("ledger", "verify");
    expect(fallback.code).toBe(1);
    expect(fallback.stderr).toMatch(/\[LOG_NOT_FOUND\]\n$/);
  });

  it("with --db checks the server's events and that the log holds every line they imported", async () => {
    const c = await creator(3);
    const imported = await c.run("import", c.log);
    expect(imported.code, imported.stderr).toBe(0);
    const r = await c.run("ledger", "verify", "--db");
    expect(r.code, r.stderr).toBe(0);
    const where = join(c.env.DATATOOLS_DATA_DIR, "pgdata");
    expect(r.stdout).toMatch(
      new RegExp(
        `\\nevents ${where} \\(embedded PostgreSQL\\): ok; 3 events, 3 chained; 3 of 3 imported lines found in the log\\n  head \\(event 3\\): ${HEX.source}\\n$`,
      ),
    );

    // The log's last line removed: the log's chain alone is still whole, the imports are not.
    const lines = c.lines();
    writeFileSync(c.log, `${lines[0]}\n${lines[1]}\n`);
    const short = await c.run("ledger", "verify", "--db", "--json");
    expect(short.code).toBe(1);
    const report = JSON.parse(short.stdout);
    expect(report).toMatchObject({
      ok: false,
      log: { ok: true, records: 2 },
      events: { ok: false, broken: null, log: { missing: 1 } },
    });
    expect(report.events.log.first_missing).toEqual({
      event: 3,
      license_key: JSON.parse(lines[2]!).license_key,
      log_line: lineHash(lines[2]!),
    });
    writeFileSync(c.log, `${lines.join("\n")}\n`);

    // An event changed in the database.
    const db = await openPglite(where);
    try {
      await db.query("UPDATE events SET actor = 'someone' WHERE id = 2");
    } finally {
      await db.close();
    }
    const broken = await c.run("ledger", "verify", "--db");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toBe(
      "dtlicense: events: event 2's fields no longer give its recorded hash: it was changed " +
        "after it was written [LEDGER_BROKEN]\n",
    );
    expect(broken.stdout).toContain(
      `events ${where} (embedded PostgreSQL): BROKEN at event 2; 3 events`,
    );
  });

  it("with --db and no issuance log on this machine checks the events only", async () => {
    const c = await creator(1);
    expect((await c.run("import", c.log)).code).toBe(0);
    rmSync(c.log);
    const r = await c.run("ledger", "verify", "--db", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`dtlicense: no issuance log at ${c.log}; checking the events only\n`);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      log: null,
      events: { ok: true, events: 1, chained: 1 },
    });
    expect(JSON.parse(r.stdout).events).not.toHaveProperty("log");
  });
});
