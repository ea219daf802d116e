// A buyer re-minted under the same key (docs/ADMIN.md, "renew an existing buyer"): the
// creator's log holds two blobs for one key; import keeps both, again and again.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInProcess, tempHome } from "./helpers/cli.js";

describe("importing a log with a buyer re-minted under the same key", () => {
  it("imports both blobs, adds nothing on a second run, and verify-db checks both", async () => {
    const home = tempHome();
    const env = { DATATOOLS_DATA_DIR: join(home, "server") };
    const mint = (now: string, years: string) =>
      runInProcess(
        ["mint", "--name", "Acme Corp", "--email", "ops@acme.com", "--tier", "pro"].concat([
          "--key",
          "DT1-PRO-ACME-2026",
          "--years",
          years,
        ]),
        { home, env, now: new Date(now) },
      );
    expect((await mint("2026-01-10T00:00:00Z", "1")).code).toBe(0);
    const renewal = await mint("2026-12-01T00:00:00Z", "2");
    expect(renewal.code, renewal.stderr).toBe(0);
    const log = join(home, ".datatools-creator", "issued.jsonl");

    const first = await runInProcess(["import", log, "--json"], { home, env });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ imported: 2, already_present: 0, rejected: [] });
    const second = await runInProcess(["import", log, "--json"], { home, env });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ imported: 0, already_present: 2, rejected: [] });

    const check = await runInProcess(["keys", "verify-db", "--json"], { home, env });
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, total: 2, problems: [] });
  });
});
