// dtlicense webhooks list|replay and deliver directly on the embedded database (no server).
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NO_PRODUCTS } from "../../src/config/sales.js";
import { resolveKeys } from "../../src/config/keys.js";
import { openService } from "../../src/service/open.js";
import { receiveStoreEvent } from "../../src/service/sales.js";
import { runInProcess, tempHome } from "../helpers/cli.js";
import { checkoutCompleted } from "./fixtures.js";

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

describe("dtlicense webhooks replay on the database", () => {
  it("reads the products file as it is now, refuses a broken one naming the field or line and writes nothing", async () => {
    const home = tempHome("dtl-sales-replay-");
    const dataDir = join(home, "data");
    const products = join(home, "products.json");
    const env = { DATATOOLS_PRODUCTS_FILE: products };
    const run = (argv: string[]) => runInProcess([...argv, "--data-dir", dataDir], { home, env });
    expect((await run(["db", "migrate"])).code).toBe(0);
    // A sale of a product the file did not have: kept as ignored.
    const open = () =>
      openService({
        database: { kind: "pglite", dir: join(dataDir, "pgdata") },
        dataDir,
        keys: resolveKeys({}),
        schema: "require",
      });
    {
      await using opened = await open();
      const event = checkoutCompleted({ product: "core-2y" });
      const { event: stored } = await receiveStoreEvent(opened.ctx, NO_PRODUCTS, {
        provider: "stripe",
        id: event.id,
        type: event.type,
        payload: event,
      });
      expect(stored).toMatchObject({ id: 1, status: "ignored" });
    }
    const counts = async () => {
      await using opened = await open();
      const n = async (table: string) =>
        (await opened.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!
          .n;
      const { rows } = await opened.db.query<{ status: string }>(
        "SELECT status FROM webhook_events WHERE id = 1",
      );
      return {
        licenses: await n("licenses"),
        outbox: await n("outbox"),
        status: rows[0]!.status,
      };
    };
    const untouched = { licenses: 0, outbox: 0, status: "ignored" };
    const broken: [string | undefined, RegExp][] = [
      ['{"stripe": {"core-2y": {"tier": "core", "years": 2}', /is not valid JSON at line 1/],
      [
        '{"stripe": {"core-2y": {"tier": "core"}}}',
        /stripe\["core-2y"\]\.years must be a whole number/,
      ],
      [
        '{"stripe": {"core-2y": {"tier": "core", "years": 2, "seats": 3}}}',
        /stripe\["core-2y"\]\.seats is not a known field/,
      ],
      ['{"paddle": {}}', /unknown store "paddle"/],
      [undefined, /cannot read it \[FILE_UNREADABLE\]\n$/],
    ];
    for (const [text, says] of broken) {
      if (text === undefined) rmSync(products, { force: true });
      else writeFileSync(products, text);
      const r = await run(["webhooks", "replay", "1"]);
      expect(r.code, String(text)).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(says);
      expect(r.stderr).toMatch(
        text === undefined
          ? /\[FILE_UNREADABLE\]\n$/
          : /^.*DATATOOLS_PRODUCTS_FILE \(.*products\.json\): .*\[CONFIG_INVALID\]\n$/,
      );
      expect(await counts()).toEqual(untouched);
    }
    writeFileSync(products, '{"stripe": {"core-2y": {"tier": "core", "years": 2}}}');
    const fixed = await run(["webhooks", "replay", "1", "--json"]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ id: 1, status: "processed" });
    expect(await counts()).toEqual({ licenses: 1, outbox: 1, status: "processed" });
  }, 120_000);
});
