// The import checks one batch while the database inserts the previous one: progress is
// still reported in order, the events keep the log's order, and a failed insert fails the
// import (once, not as an unhandled rejection) with the batches before it kept.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEV_PRIVATE_KEY_HEX, KeyRing, importSigner } from "../../src/core/keys.js";
import { mintLicense } from "../../src/core/mint.js";
import { parseLog } from "../../src/issuer/log.js";
import { createServiceContext } from "../../src/service/context.js";
import { importRecords } from "../../src/service/imports.js";
import type { Database } from "../../src/store/db.js";
import { backendNames, createTestDatabase, type TestDatabase } from "../store/databases.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const ring = new KeyRing([signer.publicKey]);
const NOW = new Date("2026-05-13T22:10:27Z");

function log(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const { payload, blob } = mintLicense(
      { name: `Buyer ${i}`, email: `b${i}@example.com`, tier: "core" },
      signer,
      NOW,
    );
    const { license_key, name, email, tier, issued_at, expires_at } = payload;
    lines.push(JSON.stringify({ license_key, name, email, tier, issued_at, expires_at, blob }));
  }
  return lines.join("\n") + "\n";
}

describe.each(backendNames())("the import's pipeline on %s", (backend) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await t?.dispose();
  });
  beforeEach(async () => {
    await t.reset();
  });

  it("reports progress in order and writes the events in the log's order", async () => {
    const { records } = parseLog(log(9));
    const ctx = createServiceContext({ db: t.db, signer, ring, now: () => NOW });
    const progress: number[] = [];
    const s = await importRecords(
      ctx,
      records,
      { actor: "import" },
      {
        batchSize: 2,
        onProgress: (done) => progress.push(done),
      },
    );
    expect(s).toEqual({ imported: 9, already_present: 0, rejected: [] });
    expect(progress).toEqual([2, 4, 6, 8, 9]);
    const { rows } = await t.db.query<{ license_key: string }>(
      "SELECT license_key FROM events ORDER BY id",
    );
    expect(rows.map((r) => r.license_key)).toEqual(records.map((r) => r.license_key));
  });

  it("fails the import when an insert fails, keeping the batches before it", async () => {
    const { records } = parseLog(log(7));
    let inserts = 0;
    const failing: Database = {
      ...t.db,
      query: (sql, params, name) => {
        if (sql.includes("INSERT INTO licenses") && ++inserts === 2) {
          return Promise.reject(new Error("the disk is full"));
        }
        return t.db.query(sql, params, name);
      },
    };
    const ctx = createServiceContext({ db: failing, signer, ring, now: () => NOW });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on("unhandledRejection", onUnhandled);
    try {
      await expect(
        importRecords(ctx, records, { actor: "import" }, { batchSize: 2 }),
      ).rejects.toThrow("the disk is full");
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM licenses");
    expect(Number(rows[0]!.n)).toBe(2);
  });
});
