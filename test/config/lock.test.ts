// The owner-checked lock file shared by the issuance log and the license store.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { acquireLock, acquireLockSync, describeHolder } from "../../src/config/lock.js";
import { tempHome } from "../helpers/cli.js";
import { distUrl, procState, runScript, until } from "../helpers/processes.js";

/** The pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const script = runScript("");
  await script.exited;
  return script.pid;
}

function ownerRecord(pid: number, host = hostname()) {
  return { pid, host, token: `t${pid}${Math.random()}`, started: new Date().toISOString() };
}

// Takes the lock `rounds` times, journalling entry and exit; every second time it leaves the
// lock behind naming a dead owner, as a holder killed inside its lock would.
const WAITER = `
  import { acquireLock, acquireLockSync } from ${JSON.stringify(distUrl("config/lock.js"))};
  import { appendFileSync, renameSync, writeFileSync } from "node:fs";
  import { hostname } from "node:os";
  const [lockPath, journal, mode, startAt, rounds, deadPid] = process.argv.slice(1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < Number(startAt)) Atomics.wait(pause, 0, 0, 1);
  for (let i = 0; i < Number(rounds); i++) {
    const attempt =
      mode === "sync"
        ? acquireLockSync(lockPath, { waitMs: 60000 })
        : await acquireLock(lockPath, { waitMs: 60000 });
    if (!attempt.ok) process.exit(3);
    appendFileSync(journal, "enter " + process.pid + "\\n");
    Atomics.wait(pause, 0, 0, 2);
    appendFileSync(journal, "leave " + process.pid + "\\n");
    if (i % 2 === 1) {
      const dead = { pid: Number(deadPid), host: hostname(), token: "dead" + process.pid + "-" + i, started: new Date().toISOString() };
      writeFileSync(lockPath + "." + process.pid + ".tmp", JSON.stringify(dead));
      renameSync(lockPath + "." + process.pid + ".tmp", lockPath);
    } else {
      attempt.lock.release();
    }
  }
`;

describe("the lock file", () => {
  it("lets exactly one of several waiters in at a time when they find a dead owner's lock", async () => {
    const dir = tempHome();
    const lock = join(dir, "thing.lock");
    const journal = join(dir, "journal");
    const dead = await deadPid();
    writeFileSync(lock, JSON.stringify(ownerRecord(dead)));
    const startAt = Date.now() + 1_500;
    const rounds = 12;
    const waiters = Array.from({ length: 8 }, (_, i) =>
      runScript(WAITER, [
        lock,
        journal,
        i % 2 ? "sync" : "async",
        String(startAt),
        String(rounds),
        String(dead),
      ]),
    );
    const exits = await Promise.all(waiters.map((w) => w.exited));
    expect(exits.map((e) => e.code)).toEqual(Array(8).fill(0));

    const lines = readFileSync(journal, "utf8").trim().split("\n");
    expect(lines).toHaveLength(8 * rounds * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const pid = lines[i]!.split(" ")[1];
      expect([lines[i], lines[i + 1]]).toEqual([`enter ${pid}`, `leave ${pid}`]);
    }
    // What is left is the last waiter's dead-owner record or nothing; no takeover leftovers.
    expect(readdirSync(dir).filter((f) => f !== "journal" && f !== "thing.lock")).toEqual([]);
  }, 60_000);

  it.runIf(process.platform === "linux")(
    "treats an owner that has exited but was not yet reaped (a zombie) as gone",
    async () => {
      // A parent that forks a child which exits at once, and never reaps it. (A shell may
      // reap its background child before it execs, so the zombie is made deliberately.)
      const shell = spawn(
        "python3",
        [
          "-c",
          "import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)",
        ],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      try {
        let out = "";
        shell.stdout.on("data", (d) => (out += d));
        await until(() => out.includes("\n"), "the shell to print the pid");
        const zombie = Number(out.trim());
        await until(() => procState(zombie) === "Z", "the child to become a zombie");
        const lock = join(tempHome(), "z.lock");
        writeFileSync(lock, JSON.stringify(ownerRecord(zombie)));
        const attempt = acquireLockSync(lock, { waitMs: 0 });
        expect(attempt.ok).toBe(true);
        if (attempt.ok) attempt.lock.release();
      } finally {
        shell.kill("SIGKILL");
      }
    },
  );

  it("keeps a lock whose owner is alive or on another host, and says who holds it", async () => {
    const dir = tempHome();
    const live = join(dir, "live.lock");
    writeFileSync(live, JSON.stringify(ownerRecord(process.ppid)));
    const elsewhere = join(dir, "elsewhere.lock");
    writeFileSync(elsewhere, JSON.stringify(ownerRecord(await deadPid(), "build-box-7")));

    const a = acquireLockSync(live, { waitMs: 100 });
    expect(a.ok).toBe(false);
    if (!a.ok) expect(describeHolder(a.holder)).toMatch(new RegExp(`^process ${process.ppid} `));
    const b = await acquireLock(elsewhere, { waitMs: 100 });
    expect(b.ok).toBe(false);
    if (!b.ok) expect(describeHolder(b.holder)).toMatch(/ on host build-box-7 /);
  });

  it("keeps a lock another thread of this process holds", async () => {
    const lock = join(tempHome(), "thread.lock");
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       import(workerData.url).then(({ acquireLockSync }) => {
         const attempt = acquireLockSync(workerData.lock, { waitMs: 0 });
         parentPort.postMessage(attempt.ok);
         parentPort.once("message", () => { attempt.lock.release(); parentPort.close(); });
       });`,
      { eval: true, workerData: { url: distUrl("config/lock.js"), lock } },
    );
    try {
      const took = await new Promise((done) => worker.once("message", done));
      expect(took).toBe(true);
      const attempt = acquireLockSync(lock, { waitMs: 100 });
      expect(attempt.ok).toBe(false);
      if (!attempt.ok) expect(attempt.holder?.pid).toBe(process.pid);
      worker.postMessage("release");
      await new Promise((done) => worker.once("exit", done));
      const after = acquireLockSync(lock, { waitMs: 0 });
      expect(after.ok).toBe(true);
      if (after.ok) after.lock.release();
    } finally {
      await worker.terminate();
    }
  });

  it("is held until released, and release leaves a lock file that is no longer its own", async () => {
    const lock = join(tempHome(), "own.lock");
    const first = acquireLockSync(lock, { waitMs: 0 });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.lock.held()).toBe(true);
    // Another attempt in the same process waits for this holder like any other.
    expect((await acquireLock(lock, { waitMs: 50 })).ok).toBe(false);
    first.lock.release();
    const second = acquireLockSync(lock, { waitMs: 0 });
    expect(second.ok).toBe(true);
    if (!second.ok) return;
    const other = ownerRecord(process.ppid);
    writeFileSync(lock, JSON.stringify(other));
    expect(second.lock.held()).toBe(false);
    second.lock.release();
    expect(JSON.parse(readFileSync(lock, "utf8"))).toEqual(other);
  });
});
