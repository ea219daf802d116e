// The audit events' hash chain, on embedded PGlite and (with TEST_DATABASE_URL) on PostgreSQL:
// what the writes chain, what `ledger verify --db` catches, and what an import records of the log.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEV_PRIVATE_KEY_HEX, KeyRing, importSigner } from "../../src/core/keys.js";
import { mintLicense, type MintInput } from "../../src/core/mint.js";
import { sqlState, type Database, type Queryable } from "../../src/store/db.js";
import { MIGRATIONS, migrate } from "../../src/store/migrations.js";
import { openPglite } from "../../src/store/pglite.js";
import { openPostgres } from "../../src/store/pg.js";
import * as L from "../../src/store/licenses.js";
import { EVENT_GENESIS } from "../../src/store/ledger.js";
import { createServiceContext } from "../../src/service/context.js";
import { importLog, importValues } from "../../src/service/imports.js";
import { verifyEventChain } from "../../src/service/ledger.js";
import { IssuanceLog, lineHash, parseLog, toRecord } from "../../src/issuer/index.js";
import { tempHome } from "../helpers/cli.js";
import {
  backendNames,
  createScratchDatabase,
  createTestDatabase,
  type BackendName,
  type TestDatabase,
} from "./databases.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const ring = new KeyRing([signer.publicKey]);
const NOW = new Date("2026-05-13T22:10:27Z");
const who = { actor: "test", requestId: "req_1" };

function newLicense(input: Partial<MintInput> = {}): L.NewLicense {
  const { payload, blob } = mintLicense(
    { name: "Ada Lovelace", email: "ada@example.com", tier: "core", ...input },
    signer,
    NOW,
  );
  return { ...payload, blob, source: "api" };
}

const service = (db: Database) => createServiceContext({ db, signer, ring, now: () => NOW });
const verify = (db: Database, options?: Parameters<typeof verifyEventChain>[1]) =>
  verifyEventChain(service(db), options);

interface ChainedEvent {
  id: number;
  prev: string | null;
  hash: string | null;
}

async function chain(db: Database): Promise<ChainedEvent[]> {
  const { rows } = await db.query<ChainedEvent>("SELECT id, prev, hash FROM events ORDER BY id");
  return rows.map((r) => ({ id: Number(r.id), prev: r.prev, hash: r.hash }));
}

const KEYS = ["A", "B", "C"].map((n) => `DT1-CORE-LEDGER-${n}`);

/** Three events: the issues of three licenses in one statement. */
async function threeIssues(db: Database): Promise<void> {
  await L.insertLicenses(
    db,
    KEYS.map((k) => ({ license: newLicense({ licenseKey: k }), action: "issue", who, at: NOW })),
  );
}

/** Two events: the second license suspended and reinstated, each in a transaction. */
async function twoChanges(db: Database): Promise<void> {
  for (const [status, action] of [
    ["suspended", "suspend"],
    ["active", "reinstate"],
  ] as const) {
    await db.transaction(async (tx) => {
      const before = (await L.getLicense(tx, KEYS[1]!, true))!;
      await L.setStatus(tx, before, status, action, "a reason", who, NOW);
    });
  }
}

/** Five events: three issues, a suspension and a reinstatement. */
async function fiveEvents(db: Database): Promise<void> {
  await threeIssues(db);
  await twoChanges(db);
}

const EVENT_COLUMNS =
  "license_key, action, actor, reason, request_id, before, after, at, log_line, prev, hash";

describe.each(backendNames())("the audit events' chain on %s", (backend) => {
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

  it("links every event to the one before, from 64 zeros, and keeps the head at the last", async () => {
    await fiveEvents(t.db);
    const events = await chain(t.db);
    expect(events).toHaveLength(5);
    expect(events[0]!.prev).toBe(EVENT_GENESIS);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.prev).toBe(events[i - 1]!.hash);
    }
    expect(new Set(events.map((e) => e.hash)).size).toBe(5);
    const report = await verify(t.db);
    expect(report).toMatchObject({
      ok: true,
      events: 5,
      chained: 5,
      unchained: 0,
      head: events[4]!.hash,
      head_event: 5,
      stored_head: events[4]!.hash,
      broken: null,
    });
  });

  it("reports an empty ledger as whole, its head 64 zeros", async () => {
    expect(await verify(t.db)).toMatchObject({ ok: true, events: 0, head: EVENT_GENESIS });
  });

  it("skips the chain when an import inserts nothing, leaving the head as it was", async () => {
    const l = newLicense();
    await L.insertLicense(t.db, l, who, NOW);
    const head = (await verify(t.db)).head;
    const again = await L.insertLicenses(
      t.db,
      [{ license: l, action: "import", who, at: NOW }],
      "skip",
    );
    expect(again.size).toBe(0);
    expect(await verify(t.db)).toMatchObject({ ok: true, events: 1, head, stored_head: head });
  });

  it("catches an event whose fields were edited, naming it", async () => {
    await fiveEvents(t.db);
    await t.db.query("UPDATE events SET actor = 'someone else' WHERE id = 3");
    const report = await verify(t.db);
    expect(report.ok).toBe(false);
    expect(report.broken).toEqual({
      event: 3,
      reason:
        "event 3's fields no longer give its recorded hash: it was changed after it was written",
    });
  });

  it("catches an edited event whose hash was recomputed, at the event after it", async () => {
    await fiveEvents(t.db);
    await t.db.query(
      `UPDATE events SET reason = 'edited', hash = ledger_link(prev, ledger_event_content(license_key,
         action, actor, 'edited', request_id, before, after, at, log_line)) WHERE id = 4`,
    );
    const report = await verify(t.db);
    expect(report.broken?.event).toBe(5);
    expect(report.broken?.reason).toMatch(/^event 5's prev is not the hash of event 4/);
  });

  it("catches a deleted event at the one after it", async () => {
    await fiveEvents(t.db);
    await t.db.query("DELETE FROM events WHERE id = 2");
    const report = await verify(t.db);
    expect(report.ok).toBe(false);
    expect(report.broken?.event).toBe(3);
    expect(report.broken?.reason).toMatch(/^event 3's prev is not the hash of event 1:/);
  });

  it("catches a deleted first event", async () => {
    await fiveEvents(t.db);
    await t.db.query("DELETE FROM events WHERE id = 1");
    const report = await verify(t.db);
    expect(report.broken?.event).toBe(2);
    expect(report.broken?.reason).toMatch(
      /^event 2 is the first event but does not follow the 64 zeros/,
    );
  });

  it("catches a deleted last event against the head row", async () => {
    await fiveEvents(t.db);
    await t.db.query("DELETE FROM events WHERE id = 5");
    const report = await verify(t.db);
    expect(report.ok).toBe(false);
    expect(report.broken?.event).toBeNull();
    expect(report.broken?.reason).toMatch(
      /^the ledger_head row says the chain ends at [0-9a-f]{12}…, but it ends at event 4 \(the last\)/,
    );
  });

  it("catches a deleted head row", async () => {
    await fiveEvents(t.db);
    await t.db.query("DELETE FROM ledger_head");
    expect((await verify(t.db)).broken).toEqual({
      event: null,
      reason: "the ledger_head row is missing: it was deleted",
    });
  });

  it("catches two events whose places were swapped, at the first of them", async () => {
    await fiveEvents(t.db);
    // Swap every column but the id between events 2 and 3.
    const sets = EVENT_COLUMNS.split(", ")
      .map((c) => `${c} = o.${c}`)
      .join(", ");
    await t.db.query(
      `UPDATE events e SET ${sets} FROM events o
       WHERE (e.id, o.id) IN ((2, 3), (3, 2))`,
    );
    const report = await verify(t.db);
    expect(report.broken?.event).toBe(2);
    expect(report.broken?.reason).toMatch(/^event 2's prev is not the hash of event 1/);
  });

  it("catches an event inserted with a forged link, at the event after it", async () => {
    await threeIssues(t.db);
    // A gap in the ids after event 3, so that an event can be put between 3 and the next.
    await t.db.query("SELECT setval(pg_get_serial_sequence('events', 'id'), 10)");
    await twoChanges(t.db);
    expect((await chain(t.db)).map((e) => e.id)).toEqual([1, 2, 3, 11, 12]);
    expect((await verify(t.db)).ok).toBe(true);
    // A well-formed event between 3 and 11: it follows event 3 and hashes correctly.
    await t.db.query(
      `INSERT INTO events (id, license_key, action, actor, at, prev, hash) OVERRIDING SYSTEM VALUE
       SELECT 4, license_key, 'revoke', 'intruder', at, hash,
         ledger_link(hash, ledger_event_content(license_key, 'revoke', 'intruder', NULL, NULL,
           NULL, NULL, at, NULL))
       FROM events WHERE id = 3`,
    );
    const report = await verify(t.db);
    expect(report.broken?.event).toBe(11);
    expect(report.broken?.reason).toMatch(/^event 11's prev is not the hash of event 4:/);
  });

  it("catches an event inserted without a link after chained ones, naming it", async () => {
    await fiveEvents(t.db);
    // The database chains an event stored without a link (below) and refuses one it cannot
    // chain; someone with the rights to turn both off is who the chain is for.
    await t.db.query("ALTER TABLE events DISABLE TRIGGER events_chain");
    await t.db.query("ALTER TABLE events DROP CONSTRAINT events_chained");
    try {
      await t.db.query(
        `INSERT INTO events (license_key, action, actor, at)
         SELECT license_key, 'revoke', 'intruder', at FROM events WHERE id = 5`,
      );
      expect((await verify(t.db)).broken).toEqual({
        event: 6,
        reason:
          "event 6 has no link, but events before it do: it was inserted, or its link removed",
      });
    } finally {
      await t.db.query("ALTER TABLE events ENABLE TRIGGER events_chain");
      await t.db.query(
        `ALTER TABLE events ADD CONSTRAINT events_chained
         CHECK (prev IS NOT NULL AND hash IS NOT NULL) NOT VALID`,
      );
    }
  });

  it("chains an event stored without a link (the previous release's write, or one by hand)", async () => {
    await threeIssues(t.db);
    // What the release before the chain sends: no prev, no hash, an id from the sequence.
    await t.db.query(
      `INSERT INTO events (license_key, action, actor, reason, at)
       VALUES ($1, 'revoke', 'older release', 'r', $2), ($1, 'reinstate', 'older release', 'r', $2)`,
      [KEYS[0], NOW.toISOString()],
    );
    await twoChanges(t.db);
    const events = await chain(t.db);
    expect(events.map((e) => e.prev === null || e.hash === null)).toEqual(Array(7).fill(false));
    expect(await verify(t.db)).toMatchObject({ ok: true, events: 7, chained: 7 });
  });

  it("refuses an event it cannot chain: a write fails while the head row is missing", async () => {
    await threeIssues(t.db);
    await t.db.query("DELETE FROM ledger_head");
    for (const write of [
      () => L.insertLicense(t.db, newLicense({ name: "New" }), who, NOW),
      () =>
        t.db.query(
          `INSERT INTO events (license_key, action, actor, at) VALUES ($1, 'x', 'y', $2)`,
          [KEYS[0], NOW.toISOString()],
        ),
    ]) {
      const err = await write().catch((e: unknown) => e);
      expect(sqlState(err)).toBe("23514");
    }
    const { rows } = await t.db.query<{ n: number }>(
      "SELECT (SELECT count(*)::int FROM licenses) + (SELECT count(*)::int FROM events) AS n",
    );
    expect(Number(rows[0]!.n)).toBe(6);
  });

  it("checks a head recorded earlier: found while the events before it stand, missing once one changed", async () => {
    await fiveEvents(t.db);
    const head = (await verify(t.db)).head;
    await L.insertLicense(t.db, newLicense(), who, NOW);
    expect(await verify(t.db, { expectHead: head })).toMatchObject({
      ok: true,
      expected_head: { hash: head, event: 5 },
    });
    await t.db.query("DELETE FROM events WHERE id >= 5");
    await t.db.query("UPDATE ledger_head SET hash = (SELECT hash FROM events WHERE id = 4)");
    expect(await verify(t.db, { expectHead: head })).toMatchObject({
      ok: false,
      broken: null,
      expected_head: { hash: head, event: null },
    });
  });

  it("chains the events of concurrent writers into one order", async () => {
    // On PostgreSQL these run on up to 20 connections at once; PGlite runs them in turn.
    await threeIssues(t.db);
    const writes = Array.from({ length: 30 }, (_, i) =>
      i % 5 === 4
        ? // The previous release, during a rolling upgrade: its events come without a link.
          t.db.query(
            `INSERT INTO events (license_key, action, actor, at)
             SELECT $1, 'suspend', 'older release', $2 FROM generate_series(1, 3)`,
            [KEYS[i % 3], NOW.toISOString()],
          )
        : i % 3 === 2
          ? t.db.transaction(async (tx) => {
              const l = await L.insertLicense(tx, newLicense({ name: `Tx ${i}` }), who, NOW);
              await L.setStatus(tx, l, "revoked", "revoke", "r", who, NOW);
            })
          : L.insertLicenses(
              t.db,
              Array.from({ length: 5 }, (_, j) => ({
                license: newLicense({ name: `Batch ${i} ${j}` }),
                action: "issue" as const,
                who,
                at: NOW,
              })),
            ),
    );
    await Promise.all(writes);
    const report = await verify(t.db);
    // 3 first; then of the 30 writes 6 are 3 events by the older release, 8 a transaction of
    // 2 events and 16 a batch of 5.
    expect(report).toMatchObject({ ok: true, events: 3 + 6 * 3 + 8 * 2 + 16 * 5, broken: null });
  });

  it("sends licenses that arrive while a shared insert runs in the next one, after it", async () => {
    const log: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const q: Queryable = {
      async query(sql, params, name) {
        const n = ++calls;
        log.push(`start ${n}: ${(params?.[0] as unknown[]).length} row(s)`);
        if (n === 1) await held;
        try {
          return await t.db.query(sql, params, name);
        } finally {
          log.push(`end ${n}`);
        }
      },
    };
    const insert = L.licenseInserter(q);
    const first = insert(newLicense({ name: "First" }), who, NOW);
    await new Promise((r) => setImmediate(r));
    const later = ["A", "B", "C"].map((n) => insert(newLicense({ name: n }), who, NOW));
    // A few turns of the event loop: nothing more goes out while the first insert runs.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(log).toEqual(["start 1: 1 row(s)"]);
    release();
    await Promise.all([first, ...later]);
    expect(log).toEqual(["start 1: 1 row(s)", "end 1", "start 2: 3 row(s)", "end 2"]);
    expect(await verify(t.db)).toMatchObject({ ok: true, events: 4 });
  });

  it("records on each import event the hash of the log line it came from", async () => {
    const dir = tempHome();
    const log = new IssuanceLog(join(dir, "issued.jsonl"));
    for (const name of ["One", "Two", "Three"]) {
      const { payload, blob } = mintLicense({ name, email: `${name}@example.com` }, signer, NOW);
      await log.append(toRecord({ payload, blob }));
    }
    const text = readFileSync(log.path, "utf8");
    const lines = text.trimEnd().split("\n");
    await importLog(service(t.db), text, { actor: "import" });
    const { rows } = await t.db.query<{ log_line: string; action: string }>(
      "SELECT log_line, action FROM events ORDER BY id",
    );
    expect(rows).toEqual(lines.map((l) => ({ action: "import", log_line: lineHash(l) })));
    const records = parseLog(text).records;
    expect(await verify(t.db, { log: records })).toMatchObject({
      ok: true,
      log: { ok: true, checked: 3, missing: 0, first_missing: null },
    });
    // The last line gone from the log: its chain alone cannot tell, the server's import can.
    const report = await verify(t.db, { log: records.slice(0, 2) });
    expect(report.ok).toBe(false);
    expect(report.log).toMatchObject({
      ok: false,
      checked: 3,
      missing: 1,
      first_missing: {
        event: 3,
        license_key: records[2]!.license_key,
        log_line: lineHash(lines[2]!),
      },
    });
  });

  it("records the same line hashes when the log comes through the API as parsed records", async () => {
    const dir = tempHome();
    const path = join(dir, "issued.jsonl");
    const log = new IssuanceLog(path);
    const { payload, blob } = mintLicense({ name: "Api", email: "api@example.com" }, signer, NOW);
    await log.append(toRecord({ payload, blob }));
    // A renewal under the same key, imported as a second blob of the key.
    const renewed = mintLicense(
      { name: "Api", email: "api@example.com", licenseKey: payload.license_key, years: 2 },
      signer,
      NOW,
    );
    await log.append(toRecord(renewed));
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    // What `import --url` sends: each line's record, with its prev.
    const values = parseLog(lines.join("\n")).records.map(({ line: _line, ...r }) => r);
    const summary = await importValues(service(t.db), values, { actor: "import" });
    expect(summary).toEqual({ imported: 2, already_present: 0, rejected: [] });
    const { rows } = await t.db.query<{ log_line: string; action: string }>(
      "SELECT log_line, action FROM events ORDER BY id",
    );
    expect(rows).toEqual([
      { action: "import", log_line: lineHash(lines[0]!) },
      { action: "import-renewal", log_line: lineHash(lines[1]!) },
    ]);
    expect((await verify(t.db)).ok).toBe(true);
  });
});

/** A database at schema version 3 holding `n` events, then migrated to the latest version. */
async function migratedWithEvents(
  backend: BackendName,
  n: number,
): Promise<{ db: Database; dispose(): Promise<void> }> {
  let db: Database;
  let drop: () => Promise<void> = async () => undefined;
  if (backend === "pglite") {
    db = await openPglite();
  } else {
    const scratch = await createScratchDatabase();
    db = openPostgres({ url: scratch.url });
    drop = scratch.drop;
  }
  await db.query(
    "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
  );
  for (const m of MIGRATIONS.filter((m) => m.version <= 3)) {
    for (const sql of m.statements) await db.query(sql);
    await db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
      m.version,
      m.name,
    ]);
  }
  await db.query("INSERT INTO tiers (name) VALUES ('lite'), ('core'), ('pro')");
  const l = newLicense({ licenseKey: "DT1-CORE-LEGACY-1" });
  await db.query(
    `INSERT INTO licenses (license_key, name, email, email_norm, tier, issued_at, expires_at, kid,
       blob, source, created_at, updated_at)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, 'api', $5, $5)`,
    [l.license_key, l.name, l.email, l.tier, l.issued_at, l.expires_at, l.kid, l.blob],
  );
  for (let i = 0; i < n; i++) {
    await db.query(
      `INSERT INTO events (license_key, action, actor, reason, after, at)
       VALUES ($1, 'issue', 'before the chain', $2, '{"status": "active", "tier": "core"}', $3)`,
      [l.license_key, `legacy ${i}`, new Date(NOW.getTime() + i * 1234).toISOString()],
    );
  }
  await migrate(db);
  return {
    db,
    async dispose() {
      await db.close();
      await drop();
    },
  };
}

describe.each(backendNames())("a database with events from before the chain, on %s", (backend) => {
  it("accepts them and chains the new events from the last of them", async () => {
    const { db, dispose } = await migratedWithEvents(backend, 3);
    try {
      expect(await verify(db)).toMatchObject({ ok: true, events: 3, chained: 0, unchained: 3 });
      await L.insertLicense(db, newLicense(), who, NOW);
      await L.insertLicense(db, newLicense({ name: "Second" }), who, NOW);
      const events = await chain(db);
      expect(events.map((e) => e.prev === null)).toEqual([true, true, true, false, false]);
      const report = await verify(db);
      expect(report).toMatchObject({ ok: true, events: 5, chained: 2, unchained: 3, broken: null });
      // The new chain starts from the last old event: removing that one is caught.
      await db.query("DELETE FROM events WHERE id = 3");
      expect((await verify(db)).broken?.event).toBe(4);
    } finally {
      await dispose();
    }
  });

  it("starts the head at the last old event, so a migrated ledger with no new events is whole", async () => {
    const { db, dispose } = await migratedWithEvents(backend, 2);
    try {
      const report = await verify(db);
      expect(report.ok).toBe(true);
      expect(report.stored_head).toBe(report.head);
      expect(report.head).not.toBe(EVENT_GENESIS);
      await db.query("DELETE FROM events WHERE id = 2");
      expect((await verify(db)).broken?.event).toBeNull();
    } finally {
      await dispose();
    }
  });
});
