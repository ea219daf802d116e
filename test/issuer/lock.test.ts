// The issuance log's lock under real processes: a paused holder keeps it, a dead one loses it at once.
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEV_PRIVATE_KEY_HEX,
  importSigner,
  isLicenseError,
  mintLicense,
} from "../../src/core/index.js";
import { IssuanceLog, toRecord, type IssuanceRecord } from "../../src/issuer/index.js";
import { tempHome } from "../helpers/cli.js";
import {
  PAUSED_LOG_HOLDER,
  killed,
  runScript,
  untilStopped,
  type Script,
} from "../helpers/processes.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const NOW = new Date("2026-05-13T22:10:27Z");

function recordFor(name: string, email: string, licenseKey?: string): IssuanceRecord {
  return toRecord(mintLicense({ name, email, ...(licenseKey ? { licenseKey } : {}) }, signer, NOW));
}

const children: Script[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) await killed(c);
});

function pausedHolder(path: string, record: IssuanceRecord): Script {
  const script = runScript(PAUSED_LOG_HOLDER, [path, JSON.stringify(record)]);
  children.push(script);
  return script;
}

function logIn(dir: string, options?: { lockWaitMs?: number }) {
  return new IssuanceLog(join(dir, "creator", "issued.jsonl"), options);
}

describe("the issuance log's lock", () => {
  it("stays with a holder that is paused: another append waits, then fails with LOG_LOCKED naming it", async () => {
    // Longer than the 2-second lease the lock used to be.
    const log = logIn(tempHome(), { lockWaitMs: 3_000 });
    const holder = pausedHolder(log.path, recordFor("Paused", "paused@example.com", "K-SAME"));
    await untilStopped(holder);

    const err = await log
      .append(recordFor("Other", "other@example.com", "K-SAME"))
      .catch((e: unknown) => e);
    expect(isLicenseError(err, "LOG_LOCKED"), String(err)).toBe(true);
    expect((err as Error).message).toContain(`process ${holder.pid}`);
    expect((err as Error).message).toContain(`${log.path}.lock`);
    expect(log.read().records).toEqual([]);

    process.kill(holder.pid, "SIGCONT");
    expect((await holder.exited).code).toBe(0);
    expect(log.read().records.map((r) => r.email)).toEqual(["paused@example.com"]);
    expect(existsSync(`${log.path}.lock`)).toBe(false);
  });

  it("is taken over at once when its holder was killed", async () => {
    const log = logIn(tempHome());
    const holder = pausedHolder(log.path, recordFor("Killed", "killed@example.com"));
    await untilStopped(holder);
    await killed(holder);
    expect(existsSync(`${log.path}.lock`)).toBe(true);

    const started = performance.now();
    await log.append(recordFor("Next", "next@example.com"));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(log.read().records.map((r) => r.email)).toEqual(["next@example.com"]);
    expect(existsSync(`${log.path}.lock`)).toBe(false);
  });

  it("makes an append refuse, writing nothing, when its lock changed owner under it", async () => {
    const log = logIn(tempHome());
    await log.append(recordFor("First", "first@example.com"));
    const before = readFileSync(log.path);
    const lock = `${log.path}.lock`;
    // A live process (this test's parent) with another token now holds the lock file.
    const thief = {
      pid: process.ppid,
      host: hostname(),
      token: "f".repeat(32),
      started: new Date().toISOString(),
    };
    const err = await log
      .append(recordFor("Second", "second@example.com"), () =>
        writeFileSync(lock, JSON.stringify(thief)),
      )
      .catch((e: unknown) => e);
    expect(isLicenseError(err, "LOG_LOCKED"), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/nothing was written/);
    expect(readFileSync(log.path).equals(before)).toBe(true);
    // Releasing did not remove a lock that is no longer this process's.
    expect(JSON.parse(readFileSync(lock, "utf8"))).toEqual(thief);
  });

  it("re-checks the license key against the log right before the append", async () => {
    const log = logIn(tempHome());
    const mine = recordFor("Mine", "mine@example.com", "K-RACE");
    // A line for another buyer that lands after the caller's own check (an older dtlicense
    // writing without this lock, say) still keeps the key from a second buyer.
    const err = await log
      .append(mine, () =>
        writeFileSync(
          log.path,
          `${JSON.stringify(recordFor("Theirs", "theirs@example.com", "K-RACE"))}\n`,
        ),
      )
      .catch((e: unknown) => e);
    expect(isLicenseError(err, "LICENSE_KEY_TAKEN"), String(err)).toBe(true);
    expect(log.read().records.map((r) => r.email)).toEqual(["theirs@example.com"]);
  });

  it("breaks a lock file that cannot be read once it is a few seconds old, and waits for a fresh one", async () => {
    const log = logIn(tempHome(), { lockWaitMs: 300 });
    mkdirSync(join(log.path, ".."), { recursive: true });
    const lock = `${log.path}.lock`;
    writeFileSync(lock, "");
    const err = await log.append(recordFor("A", "a@example.com")).catch((e: unknown) => e);
    expect(isLicenseError(err, "LOG_LOCKED"), String(err)).toBe(true);
    expect(log.read().records).toEqual([]);

    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await log.append(recordFor("A", "a@example.com"));
    expect(log.read().records).toHaveLength(1);
  });

  it("breaks an old lock folder left by an earlier version", async () => {
    const log = logIn(tempHome(), { lockWaitMs: 300 });
    const lock = `${log.path}.lock`;
    mkdirSync(lock, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await log.append(recordFor("A", "a@example.com"));
    expect(log.read().records).toHaveLength(1);
    expect(existsSync(lock)).toBe(false);
  });
});
