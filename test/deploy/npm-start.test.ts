// `npm start` as a process manager runs it: SIGTERM to npm must stop the server itself, not
// leave it re-parented and holding the embedded database's lock.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempHome } from "../helpers/cli.js";
import { spawnServer } from "../server/spawn.js";

const ROOT = resolve(import.meta.dirname, "../..");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it is true or the deadline passes. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("npm start", () => {
  it("stops the server on SIGTERM to npm, releasing the embedded database for the next start", async () => {
    const home = tempHome("dtl-npm-start-");
    const npm = spawn("npm", ["start", "--silent"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: home, DATATOOLS_SERVER_PORT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    npm.stderr.on("data", (d) => (err += d));
    const npmExited = new Promise<number | null>((done) => npm.on("exit", (code) => done(code)));
    let serverPid: number | undefined;
    try {
      await until(() => /listening on http/.test(err), 60_000, `the server to listen:\n${err}`);
      const file = join(home, ".datatools-license", "server.json");
      serverPid = (JSON.parse(readFileSync(file, "utf8")) as { pid: number }).pid;
      expect(serverPid).not.toBe(npm.pid);

      npm.kill("SIGTERM");
      await npmExited;
      await until(() => !alive(serverPid!), 20_000, `server process ${serverPid} to exit`);
      expect(err).toContain("SIGTERM: finishing in-flight requests");

      // The lock is free: a second server starts on the same data folder.
      const again = await spawnServer([], { HOME: home });
      expect(await again.stop()).toBe(0);
    } finally {
      if (npm.exitCode === null) npm.kill("SIGKILL");
      if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, "SIGKILL");
    }
  }, 120_000);
});
