// The license file's lock under real processes: a killed holder blocks nothing, a live one is waited for.
import { existsSync, readdirSync } from "node:fs";
import { dirname } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LicenseClient, licensePath } from "../../src/client/index.js";
import { spawnCli } from "../helpers/cli.js";
import {
  PAUSED_LICENSE_HOLDER,
  killed,
  runScript,
  untilStopped,
  type Script,
} from "../helpers/processes.js";
import { ADA, DEV_PUB, NOW, clientAt, fileBytes, mint, tempHome } from "./support.js";

const children: Script[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) await killed(c);
});

async function pausedHolder(home: string): Promise<Script> {
  const script = runScript(PAUSED_LICENSE_HOLDER, [home]);
  children.push(script);
  await untilStopped(script);
  return script;
}

describe("the license file's lock", () => {
  it("is taken over at once when its holder was killed, and the holder's temporary files are removed", async () => {
    const home = tempHome();
    const client = clientAt(home, { now: NOW });
    await killed(await pausedHolder(home));
    const dir = dirname(licensePath(home));
    expect(readdirSync(dir).sort()).toEqual([
      ".license.json.0123456789ab.tmp",
      "license.json.lock",
    ]);

    const started = performance.now();
    client.activate(mint().blob, ADA);
    expect(readdirSync(dir)).toEqual(["license.json"]);
    client.renew(mint({ years: 2 }).blob);
    expect(client.deactivate().removed).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("makes activate, renew and deactivate wait for a live holder, then fail with FILE_UNWRITABLE naming it", async () => {
    const home = tempHome();
    // The commands below run on the real clock.
    const client = new LicenseClient({ publicKeys: [DEV_PUB], home });
    client.activate(mint({}, new Date()).blob, ADA);
    const before = fileBytes(home);
    const holder = await pausedHolder(home);

    const later = mint({ years: 2 }, new Date()).blob;
    const env = { HOME: home };
    const results = await Promise.all([
      spawnCli(["activate", later, "--name", ADA.name, "--email", ADA.email, "--force"], env),
      spawnCli(["renew", later], env),
      spawnCli(["deactivate", "--yes"], env),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/\[FILE_UNWRITABLE\]\n$/);
      expect(r.stderr).toContain(`process ${holder.pid}`);
      expect(r.stderr).toContain(`${licensePath(home)}.lock`);
    }
    expect(fileBytes(home)).toEqual(before);

    process.kill(holder.pid, "SIGCONT");
    expect((await holder.exited).code).toBe(0);
    expect(existsSync(`${licensePath(home)}.lock`)).toBe(false);
    expect(client.renew(later).changed).toBe(true);
  }, 30_000);
});
