// dtlicense webhooks list|replay and deliver directly on the embedded database (no server).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInProcess, tempHome } from "../helpers/cli.js";

describe("the store commands on the database", () => {
  it("list events, refuse a bad id and queue nothing for an unknown license", async () => {
    const home = tempHome("dtl-sales-cli-");
    const dataDir = join(home, "data");
    const run = (argv: string[]) => runInProcess([...argv, "--data-dir", dataDir], { home });
    expect((await run(["db", "migrate"])).code).toBe(0);
    const listed = await run(["webhooks", "list", "--status", "ignored", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const badStatus = await run(["webhooks", "list", "--status", "lost"]);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/\[USAGE\]\n$/);
    const badId = await run(["webhooks", "replay", "x1"]);
    expect(badId.stderr).toMatch(/\[USAGE\]\n$/);
    const missing = await run(["webhooks", "replay", "41"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no webhook event with id 41 \[NOT_FOUND\]\n$/);
    const deliver = await run(["deliver", "DT1-CORE-00000000-00000000"]);
    expect(deliver.code).toBe(1);
    expect(deliver.stderr).toMatch(/\[NOT_FOUND\]\n$/);
  }, 60_000);
});
