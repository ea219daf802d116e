// The plans of the licenses' hot queries (list filters, search, counts, keyset pages, verify)
// use an index, never a scan of the whole table, and the counts from the tally (migration 8)
// equal a count of the rows themselves through every kind of change.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Queryable } from "../../src/store/db.js";
import * as L from "../../src/store/licenses.js";
import { backendNames, createTestDatabase, type TestDatabase } from "./databases.js";

const NOW = new Date("2026-05-13T22:10:27Z");
const ROWS = 3000;
const who = { actor: "test" };

/**
 * Adds `n` licenses in one statement (no events: the bench's and this test's set-up, not
 * the product's write path): three tiers, 2% suspended, 3% revoked, issued over the two
 * years before `now` and expiring from two years before to two years after it.
 */
async function seed(q: Queryable, n: number, now: Date, from = 1): Promise<void> {
  await q.query(
    `INSERT INTO licenses (license_key, name, email, email_norm, tier, issued_at, expires_at,
       kid, blob, status, source, created_at, updated_at)
     SELECT 'DTL-SEED-' || lpad(i::text, 9, '0'), 'Buyer ' || i, 'buyer' || i || '@example.com',
       'buyer' || i || '@example.com', (ARRAY['lite', 'core', 'pro'])[1 + i % 3],
       $1::timestamptz - interval '1 hour' * (i % 17520),
       $1::timestamptz + interval '1 hour' * ((i * 7919) % 35040 - 17520),
       '0123456789abcdef', 'DTLIC2:' || repeat(md5(i::text), 12),
       CASE WHEN i % 50 = 0 THEN 'suspended' WHEN i % 33 = 0 THEN 'revoked' ELSE 'active' END,
       'import', $1::timestamptz, $1::timestamptz
     FROM generate_series($2::int, $3::int) AS i`,
    [now.toISOString(), from, from + n - 1],
  );
}

/** The statements `run` sends, with their parameters, without running them. */
async function statementsOf(
  run: (q: Queryable) => Promise<unknown>,
): Promise<{ sql: string; params: readonly unknown[] }[]> {
  const seen: { sql: string; params: readonly unknown[] }[] = [];
  const q: Queryable = {
    query: async <R>(sql: string, params: readonly unknown[] = []) => {
      seen.push({ sql, params });
      return { rows: [] as R[], rowCount: 0 };
    },
  };
  await run(q);
  return seen;
}

/** The counts straight from the rows, to compare with the tally's. */
async function countedFromRows(q: Queryable, now: Date): Promise<L.LicenseCounts> {
  const { rows } = await q.query<{ tier: string; state: string; n: unknown }>(
    `SELECT tier, CASE WHEN status = 'active' AND expires_at <= $1 THEN 'expired' ELSE status END
       AS state, count(*)::int AS n FROM licenses GROUP BY 1, 2`,
    [now.toISOString()],
  );
  const by_tier: Record<string, number> = { lite: 0, core: 0, pro: 0 };
  const by_state: Record<string, number> = { active: 0, expired: 0, suspended: 0, revoked: 0 };
  let total = 0;
  for (const r of rows) {
    by_tier[r.tier] = (by_tier[r.tier] ?? 0) + Number(r.n);
    by_state[r.state] = (by_state[r.state] ?? 0) + Number(r.n);
    total += Number(r.n);
  }
  return { total, by_tier, by_state } as L.LicenseCounts;
}

describe.each(backendNames())("the licenses' queries on %s", (backend) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(backend);
    await seed(t.db, ROWS, NOW);
    await t.db.query("ANALYZE licenses");
  }, 120_000);
  afterAll(async () => {
    await t?.dispose();
  });

  const deepId = Math.floor(ROWS / 10);
  const shapes: [string, (q: Queryable) => Promise<unknown>][] = [
    [
      "search by e-mail",
      (q) => L.listLicenses(q, { email: "Buyer77@example.com", limit: 50 }, NOW),
    ],
    [
      "search by e-mail, second page",
      (q) => L.listLicenses(q, { email: "buyer77@example.com", after: 9, limit: 50 }, NOW),
    ],
    ["search by text", (q) => L.listLicenses(q, { search: "buyer1234@", limit: 50 }, NOW)],
    ["search by tier", (q) => L.listLicenses(q, { tier: "pro", limit: 50 }, NOW)],
    ...L.LICENSE_STATES.map(
      (state) =>
        [
          `list by state ${state}`,
          (q: Queryable) => L.listLicenses(q, { state, limit: 50 }, NOW),
        ] as [string, (q: Queryable) => Promise<unknown>],
    ),
    [
      "list expiring within 30 days",
      (q) => L.listLicenses(q, { expiringWithinDays: 30, limit: 50 }, NOW),
    ],
    ["a deep keyset page", (q) => L.listLicenses(q, { after: deepId, limit: 50 }, NOW)],
    ["the counts", (q) => L.countLicenses(q, NOW)],
    ["verify's read", (q) => L.getVerifyRow(q, "DTL-SEED-000000042")],
    ["verify's shared read", (q) => L.verifyRowReader(q)("DTL-SEED-000000042")],
  ];

  it.each(shapes)("plans %s without a scan of the licenses table", async (_name, run) => {
    const statements = await statementsOf(run);
    expect(statements.length).toBeGreaterThan(0);
    for (const { sql, params } of statements) {
      // With sequential scans priced out, a plan still shows "Seq Scan on licenses" when
      // no index can serve the statement.
      const plan = await t.db.transaction(async (tx) => {
        await tx.query("SET LOCAL enable_seqscan = off");
        const { rows } = await tx.query<Record<string, string>>(`EXPLAIN ${sql}`, params);
        return rows.map((r) => Object.values(r)[0]).join("\n");
      });
      if (process.env.SHOW_PLANS) console.log(_name, "\n" + plan);
      expect(plan).toMatch(/Index|Bitmap/);
      expect(plan, plan).not.toMatch(/Seq Scan on licenses/);
    }
  });

  it("has the trigram index serve text search (chosen over a walk by id once the table is large)", async () => {
    const [{ sql, params }] = (await statementsOf((q) =>
      L.listLicenses(q, { search: "buyer1234@", limit: 50 }, NOW),
    )) as [{ sql: string; params: readonly unknown[] }];
    const plan = await t.db.transaction(async (tx) => {
      await tx.query("SET LOCAL enable_seqscan = off");
      await tx.query("SET LOCAL enable_indexscan = off");
      const { rows } = await tx.query<Record<string, string>>(`EXPLAIN ${sql}`, params);
      return rows.map((r) => Object.values(r)[0]).join("\n");
    });
    expect(plan, plan).toMatch(/Bitmap Index Scan on licenses_search/);
  });

  it("counts from the tally as the rows themselves do, through changes, compaction and the days", async () => {
    const at = (days: number, hours = 0) => new Date(NOW.getTime() + (days * 24 + hours) * 3.6e6);
    const check = async () => {
      for (const now of [NOW, at(0, 3), at(1), at(-1, -5), at(400), at(-800), at(900)]) {
        expect(await L.countLicenses(t.db, now), now.toISOString()).toEqual(
          await countedFromRows(t.db, now),
        );
      }
    };
    await check();
    // Changes of status, tier and expiry, through the one write path.
    for (const [key, change] of [
      ["DTL-SEED-000000011", { status: "revoked", status_reason: "refund" }],
      ["DTL-SEED-000000050", { status: "active", status_reason: null }],
      ["DTL-SEED-000000012", { tier: "pro", expires_at: "2026-05-14T01:00:00Z" }],
      ["DTL-SEED-000000013", { expires_at: "2026-05-13T20:00:00Z" }],
    ] as const) {
      await t.db.transaction(async (tx) => {
        const before = (await L.getLicense(tx, key, true))!;
        await L.updateLicense(tx, before, change, { action: "revoke", who, at: NOW, reason: "x" });
      });
    }
    await check();
    // Many small statements leave many tally rows; compaction keeps the sums.
    for (let i = 0; i < 20; i++) await seed(t.db, 1, NOW, ROWS + 1 + i);
    const { rows: before } = await t.db.query<{ n: unknown }>(
      "SELECT count(*)::int AS n FROM license_tally",
    );
    await L.compactTally(t.db, at(-900));
    const { rows: after } = await t.db.query<{ n: unknown }>(
      "SELECT count(*)::int AS n FROM license_tally",
    );
    expect(Number(after[0]!.n)).toBeLessThan(Number(before[0]!.n));
    await check();
    // Compacted at NOW, the days of expiry before NOW's day less two become one.
    await L.compactTally(t.db, NOW);
    const { rows: rolled } = await t.db.query<{ n: unknown }>(
      "SELECT count(*)::int AS n FROM license_tally",
    );
    expect(Number(rolled[0]!.n)).toBeLessThan(Number(after[0]!.n));
    for (const now of [NOW, at(0, 3), at(1), at(400), at(900)]) {
      expect(await L.countLicenses(t.db, now), now.toISOString()).toEqual(
        await countedFromRows(t.db, now),
      );
    }
    // A read that finds the tally grown by thousands of rows compacts it itself.
    for (let i = 0; i < 3; i++) await seed(t.db, 3000, NOW, ROWS + 100 + i * 3000);
    const tally = async () =>
      Number(
        (await t.db.query<{ n: unknown }>("SELECT count(*)::int AS n FROM license_tally")).rows[0]!
          .n,
      );
    const grown = await tally();
    expect(await L.countLicenses(t.db, NOW)).toEqual(await countedFromRows(t.db, NOW));
    expect(await tally()).toBeLessThan(grown);
    expect(await L.countLicenses(t.db, at(1))).toEqual(await countedFromRows(t.db, at(1)));
  }, 120_000);
});
