// The store's behaviour, run on embedded PGlite and (with TEST_DATABASE_URL) on PostgreSQL.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TIERS } from "../../src/core/catalogue.js";
import { DEV_PRIVATE_KEY_HEX, KeyRing, importSigner } from "../../src/core/keys.js";
import { mintLicense, type MintInput } from "../../src/core/mint.js";
import { isLicenseError } from "../../src/core/errors.js";
import { sqlState, type Queryable } from "../../src/store/db.js";
import { LATEST_VERSION, MIGRATIONS, migrate, schemaVersion } from "../../src/store/migrations.js";
import { openPostgres } from "../../src/store/pg.js";
import * as L from "../../src/store/licenses.js";
import * as T from "../../src/store/tokens.js";
import { claimKey, completeKey, requestHash } from "../../src/store/idempotency.js";
import { createServiceContext } from "../../src/service/context.js";
import { importRecords as importWith, verifyInThread } from "../../src/service/imports.js";
import { parseLog } from "../../src/issuer/log.js";
import { toRecord } from "../../src/issuer/issue.js";
import {
  backendNames,
  createScratchDatabase,
  createTestDatabase,
  type TestDatabase,
} from "./databases.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const ring = new KeyRing([signer.publicKey]);
const NOW = new Date("2026-05-13T22:10:27Z");
const who = { actor: "test", requestId: "req_1" };

function newLicense(input: Partial<MintInput> = {}, now = NOW): L.NewLicense {
  const { payload, blob } = mintLicense(
    { name: "Ada Lovelace", email: "ada@example.com", tier: "core", ...input },
    signer,
    now,
  );
  return { ...payload, blob, source: "api" };
}

/** The import service over the test database, its clock at NOW. */
function importRecords(
  db: TestDatabase["db"],
  records: Parameters<typeof importWith>[1],
  options?: Parameters<typeof importWith>[3],
) {
  const ctx = createServiceContext({ db, signer, ring, now: () => NOW });
  return importWith(ctx, records, { actor: "import" }, options);
}

async function count(t: TestDatabase, table: string): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

describe.each(backendNames())("the store on %s", (backend) => {
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

  describe("migrations", () => {
    it("leaves a migrated database at the latest version and applies nothing a second time", async () => {
      expect(await schemaVersion(t.db)).toBe(LATEST_VERSION);
      const again = await migrate(t.db);
      expect(again).toEqual({ applied: [], version: LATEST_VERSION });
    });

    it.runIf(backend === "postgres")(
      "applies each migration once when two servers migrate one database at the same time",
      async () => {
        const scratch = await createScratchDatabase();
        const a = openPostgres({ url: scratch.url });
        const b = openPostgres({ url: scratch.url });
        try {
          const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
          const applied = [...ra.applied, ...rb.applied].sort((x, y) => x - y);
          expect(applied).toEqual(MIGRATIONS.map((m) => m.version));
          const { rows } = await a.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM schema_migrations",
          );
          expect(Number(rows[0]!.n)).toBe(MIGRATIONS.length);
        } finally {
          await a.close();
          await b.close();
          await scratch.drop();
        }
      },
    );
  });

  describe("tiers", () => {
    it("keeps exactly the code's tiers in the tiers table and refuses a license of another", async () => {
      const { rows } = await t.db.query<{ name: string }>("SELECT name FROM tiers ORDER BY name");
      expect(rows.map((r) => r.name)).toEqual([...TIERS].sort());
      const gold = { ...newLicense(), tier: "gold" } as unknown as L.NewLicense;
      const err = await L.insertLicense(t.db, gold, who, NOW).catch((e: unknown) => e);
      expect(sqlState(err)).toBe("23503");
      expect(await count(t, "licenses")).toBe(0);
      expect(await count(t, "events")).toBe(0);
    });
  });

  describe("events refer to licenses", () => {
    it("refuses an event for a license that does not exist, with the foreign key's SQLSTATE, and writes nothing", async () => {
      const err = await t.db
        .query(
          "INSERT INTO events (license_key, action, actor, at) VALUES ($1, 'revoke', 'test', $2)",
          ["DT-NONE-NONE-NONE", NOW.toISOString()],
        )
        .catch((e: unknown) => e);
      expect(sqlState(err)).toBe("23503");
      expect(String((err as Error).message)).toContain("DT-NONE-NONE-NONE");
      expect(await count(t, "events")).toBe(0);
    });

    it("refuses to delete a license that has events, and keeps it and its events", async () => {
      const l = newLicense();
      await L.insertLicense(t.db, l, who, NOW);
      const err = await t.db
        .query("DELETE FROM licenses WHERE license_key = $1", [l.license_key])
        .catch((e: unknown) => e);
      expect(sqlState(err)).toBe("23503");
      expect(await count(t, "licenses")).toBe(1);
      expect(await count(t, "events")).toBe(1);
    });

    it("refuses to change the key of a license that has events", async () => {
      const l = newLicense();
      await L.insertLicense(t.db, l, who, NOW);
      const err = await t.db
        .query("UPDATE licenses SET license_key = 'DT-MOVE-MOVE-MOVE' WHERE license_key = $1", [
          l.license_key,
        ])
        .catch((e: unknown) => e);
      expect(sqlState(err)).toBe("23503");
      const { rows } = await t.db.query<{ license_key: string }>(
        "SELECT license_key FROM licenses",
      );
      expect(rows.map((r) => r.license_key)).toEqual([l.license_key]);
    });

    it("accepts events for every license of a batch inserted in the same statement", async () => {
      const batch = [newLicense(), newLicense({ email: "grace@example.com" }), newLicense()];
      await L.insertLicenses(
        t.db,
        batch.map((license) => ({ license, action: "issue" as const, who, at: NOW })),
      );
      expect(await count(t, "licenses")).toBe(3);
      expect(await count(t, "events")).toBe(3);
    });
  });

  describe("one definition of a license's state", () => {
    it("gives the same state in SQL (lists and counts) as in TypeScript, at and around expiry", async () => {
      const expiry = new Date("2027-05-13T22:10:27Z");
      const cases: { status: L.LicenseStatus; now: Date }[] = [];
      for (const status of L.LICENSE_STATUSES) {
        for (const offset of [-1000, 0, 1000]) {
          cases.push({ status, now: new Date(expiry.getTime() + offset) });
        }
      }
      for (const { status, now } of cases) {
        await t.reset();
        const l = newLicense();
        const rec = await L.insertLicense(t.db, l, who, NOW);
        if (status !== "active") {
          await t.db.transaction(async (tx) =>
            L.setStatus(
              tx,
              rec,
              status,
              status === "revoked" ? "revoke" : "suspend",
              "x",
              who,
              NOW,
            ),
          );
        }
        const want = L.licenseState(status, expiry, now);
        const counts = await L.countLicenses(t.db, now);
        expect(counts.by_state[want], `${status} at ${now.toISOString()}`).toBe(1);
        for (const state of L.LICENSE_STATES) {
          const page = await L.listLicenses(t.db, { state, limit: 10 }, now);
          expect(page.licenses.length, `${state} for ${status} at ${now.toISOString()}`).toBe(
            state === want ? 1 : 0,
          );
        }
      }
    });
  });

  describe("one write path", () => {
    it("writes the same before/after snapshot for a license issued alone, in a batch, imported and renewed", async () => {
      const alone = await L.insertLicense(t.db, newLicense({ name: "Alone" }), who, NOW);
      const insert = L.licenseInserter(t.db);
      const [batched] = await Promise.all([
        insert(newLicense({ name: "Batched" }), who, NOW),
        insert(newLicense({ name: "Batched Too" }), who, NOW),
      ]);
      const imported = (
        await L.insertLicenses(
          t.db,
          [
            {
              license: { ...newLicense({ name: "Imported" }), source: "import" },
              action: "import",
              who,
              at: NOW,
            },
          ],
          "skip",
        )
      )
        .values()
        .next().value!;
      const renewed = await L.insertLicense(
        t.db,
        { ...newLicense({ name: "Alone" }), supersedes: alone.license_key },
        who,
        NOW,
        "renew",
      );
      for (const rec of [alone, batched!, imported, renewed]) {
        const [event] = await L.listEvents(t.db, rec.license_key);
        expect(Object.keys(event!.after!).sort(), rec.name).toEqual([...L.SNAPSHOT_FIELDS].sort());
        expect(event!.after, rec.name).toEqual(L.snapshot(rec));
      }
    });
  });

  describe("licenses", () => {
    it("stores a license with its fields and writes one issue event with it", async () => {
      const l = newLicense({ tier: "pro" });
      const rec = await L.insertLicense(t.db, l, who, NOW);
      expect(rec).toMatchObject({
        license_key: l.license_key,
        name: "Ada Lovelace",
        email: "ada@example.com",
        tier: "pro",
        issued_at: "2026-05-13T22:10:27Z",
        expires_at: "2027-05-13T22:10:27Z",
        kid: signer.kid,
        blob: l.blob,
        status: "active",
        source: "api",
        superseded_by: null,
      });
      expect(await L.getLicense(t.db, l.license_key)).toEqual(rec);
      const events = await L.listEvents(t.db, l.license_key);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: "issue",
        actor: "test",
        request_id: "req_1",
        before: null,
        at: NOW.toISOString(),
      });
      expect(events[0]!.after).toMatchObject({ status: "active", tier: "pro" });
    });

    it("refuses a second license with a taken key and writes nothing for it", async () => {
      const first = newLicense({ licenseKey: "DT1-PRO-ACME-2026" });
      await L.insertLicense(t.db, first, who, NOW);
      const second = newLicense({ licenseKey: "DT1-PRO-ACME-2026", email: "eve@example.com" });
      const err = await L.insertLicense(t.db, second, who, NOW).catch((e: unknown) => e);
      expect(sqlState(err)).toBe("23505");
      expect(await count(t, "licenses")).toBe(1);
      expect(await count(t, "events")).toBe(1);
      expect((await L.getLicense(t.db, "DT1-PRO-ACME-2026"))!.email).toBe("ada@example.com");
    });

    it("returns undefined for a key that is not stored", async () => {
      expect(await L.getLicense(t.db, "DT1-CORE-00000000-00000000")).toBeUndefined();
      expect(await L.getVerifyRow(t.db, "DT1-CORE-00000000-00000000")).toBeUndefined();
    });

    it("changes status inside a transaction and records before and after", async () => {
      const l = newLicense();
      await L.insertLicense(t.db, l, who, NOW);
      const later = new Date(NOW.getTime() + 60_000);
      await t.db.transaction(async (tx) => {
        const before = (await L.getLicense(tx, l.license_key, true))!;
        await L.setStatus(tx, before, "suspended", "suspend", "chargeback", who, later);
      });
      const state = await L.getVerifyRow(t.db, l.license_key);
      expect(state?.status).toBe("suspended");
      const events = await L.listEvents(t.db, l.license_key);
      expect(events.map((e) => e.action)).toEqual(["issue", "suspend"]);
      expect(events[1]).toMatchObject({
        reason: "chargeback",
        before: { status: "active" },
        after: { status: "suspended", status_reason: "chargeback" },
      });
    });

    it("rolls a failed transaction back so no event is left without its change", async () => {
      const l = newLicense();
      await L.insertLicense(t.db, l, who, NOW);
      await expect(
        t.db.transaction(async (tx) => {
          const before = (await L.getLicense(tx, l.license_key, true))!;
          await L.setStatus(tx, before, "revoked", "revoke", "test", who, NOW);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect((await L.getLicense(t.db, l.license_key))!.status).toBe("active");
      expect(await count(t, "events")).toBe(1);
    });

    it("links a renewal to the license it supersedes", async () => {
      const old = newLicense();
      await L.insertLicense(t.db, old, who, NOW);
      const renewed = { ...newLicense(), supersedes: old.license_key };
      await t.db.transaction(async (tx) => {
        const before = (await L.getLicense(tx, old.license_key, true))!;
        await L.insertLicense(tx, renewed, who, NOW, "renew");
        await L.markSuperseded(tx, before, renewed.license_key, who, NOW);
      });
      expect((await L.getLicense(t.db, old.license_key))!.superseded_by).toBe(renewed.license_key);
      expect((await L.getLicense(t.db, renewed.license_key))!.supersedes).toBe(old.license_key);
      expect((await L.listEvents(t.db, old.license_key)).map((e) => e.action)).toEqual([
        "issue",
        "supersede",
      ]);
    });
  });

  describe("coalesced reads and writes for the server", () => {
    // Counts the statements sent, to show concurrent calls share one.
    function counting() {
      const sent: string[] = [];
      const q: Queryable = {
        query: (sql, params, name) => {
          sent.push(name ?? sql);
          return t.db.query(sql, params, name);
        },
      };
      return { q, sent };
    }

    it("answers concurrent license-state reads with one query and sees a change made before the next read", async () => {
      const a = await L.insertLicense(t.db, newLicense({ name: "A" }), who, NOW);
      const b = await L.insertLicense(t.db, newLicense({ name: "B" }), who, NOW);
      const { q, sent } = counting();
      const read = L.verifyRowReader(q);
      const [ra, rb, ra2, none] = await Promise.all([
        read(a.license_key),
        read(b.license_key),
        read(a.license_key),
        read("DT1-CORE-00000000-00000000"),
      ]);
      expect(sent).toEqual(["license_states"]);
      expect(ra).toMatchObject({ status: "active", blob: a.blob, superseded_by: null });
      expect(rb).toMatchObject({ status: "active", blob: b.blob });
      expect(ra2).toEqual(ra);
      expect(none).toBeUndefined();
      await t.db.transaction((tx) => L.setStatus(tx, a, "revoked", "revoke", "fraud", who, NOW));
      expect(await read(a.license_key)).toMatchObject({ status: "revoked" });
      expect(sent).toHaveLength(2);
    });

    it("answers concurrent token lookups with one query and refuses a token once it is revoked", async () => {
      const token = T.generateToken();
      const other = T.generateToken();
      await T.insertToken(t.db, "ops", token, "cli", NOW);
      const { q, sent } = counting();
      const auth = T.tokenAuthenticator(q);
      const found = await Promise.all([auth(token), auth(token), auth(other), auth("not a token")]);
      expect(sent).toEqual(["authenticate_tokens"]);
      expect(found[0]).toMatchObject({ name: "ops", lastUsedAt: null });
      expect(found[1]).toEqual(found[0]);
      expect(found[2]).toBeUndefined();
      expect(found[3]).toBeUndefined();
      await T.revokeToken(t.db, "ops", NOW);
      expect(await auth(token)).toBeUndefined();
    });

    it("answers an insert of keys only with the keys that went in, skipping a taken one without its event", async () => {
      const taken = newLicense({ licenseKey: "DT1-PRO-ACME-2026" });
      await L.insertLicense(t.db, taken, who, NOW);
      const fresh = newLicense({ name: "Fresh Buyer" });
      const keys = await L.insertLicenseKeys(
        t.db,
        [fresh, { ...newLicense({ licenseKey: "DT1-PRO-ACME-2026" }), name: "Other" }].map(
          (license) => ({
            license: { ...license, source: "import" as const },
            action: "import" as const,
            who,
            at: NOW,
          }),
        ),
        "skip",
      );
      expect([...keys]).toEqual([fresh.license_key]);
      expect((await L.getLicense(t.db, fresh.license_key))!.source).toBe("import");
      expect((await L.getLicense(t.db, "DT1-PRO-ACME-2026"))!.name).toBe("Ada Lovelace");
      expect(await count(t, "events")).toBe(2);
    });

    it("stores concurrent licenses in one statement, each with its own issue event", async () => {
      const { q, sent } = counting();
      const insert = L.licenseInserter(q);
      const rows = [1, 2, 3].map((i) => newLicense({ name: `Buyer ${i}` }));
      const stored = await Promise.all(rows.map((r) => insert(r, who, NOW)));
      expect(sent).toEqual(["insert_licenses"]);
      expect(stored.map((r) => r.name)).toEqual(["Buyer 1", "Buyer 2", "Buyer 3"]);
      for (const r of stored) {
        expect(await L.getLicense(t.db, r.license_key)).toEqual(r);
        const events = await L.listEvents(t.db, r.license_key);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ action: "issue", actor: "test", before: null });
        expect(events[0]!.after).toMatchObject({ status: "active", tier: "core" });
      }
    });

    it("gives a taken key in a shared statement its own error and stores the rest", async () => {
      await L.insertLicense(t.db, newLicense({ licenseKey: "DT1-PRO-ACME-2026" }), who, NOW);
      const insert = L.licenseInserter(t.db);
      const ok1 = newLicense({ name: "Fine One" });
      const taken = newLicense({ licenseKey: "DT1-PRO-ACME-2026", email: "eve@example.com" });
      const ok2 = newLicense({ name: "Fine Two" });
      const results = await Promise.allSettled([ok1, taken, ok2].map((r) => insert(r, who, NOW)));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect(sqlState((results[1] as PromiseRejectedResult).reason)).toBe("23505");
      expect(await count(t, "licenses")).toBe(3);
      expect(await count(t, "events")).toBe(3);
      expect((await L.getLicense(t.db, "DT1-PRO-ACME-2026"))!.email).toBe("ada@example.com");
    });
  });

  describe("listing", () => {
    async function seed() {
      const rows = [
        newLicense({ name: "Ada Lovelace", email: "Ada@Example.com", tier: "pro" }),
        newLicense({ name: "Zoë Ångström", email: "zoe@example.org", tier: "lite" }),
        newLicense({ name: "Bob 100%_done", email: "bob@example.net", tier: "core" }),
        newLicense({ name: "Carol", email: "carol@example.net", tier: "core", years: 3 }),
        newLicense(
          { name: "Old Buyer", email: "old@example.net", tier: "core" },
          new Date("2024-01-01T00:00:00Z"),
        ),
      ];
      for (const r of rows) await L.insertLicense(t.db, r, who, NOW);
      return rows;
    }

    it("filters by e-mail ignoring case, by tier and by state", async () => {
      const rows = await seed();
      const page = (f: Partial<L.ListFilter>) =>
        L.listLicenses(t.db, { limit: 50, ...f }, NOW).then((p) => p.licenses.map((l) => l.name));
      expect(await page({ email: "ADA@example.COM" })).toEqual(["Ada Lovelace"]);
      expect((await page({ tier: "core" })).sort()).toEqual([
        "Bob 100%_done",
        "Carol",
        "Old Buyer",
      ]);
      expect(await page({ state: "expired" })).toEqual(["Old Buyer"]);
      expect((await page({ state: "active" })).length).toBe(4);
      await t.db.transaction(async (tx) => {
        const b = (await L.getLicense(tx, rows[2]!.license_key, true))!;
        await L.setStatus(tx, b, "revoked", "revoke", "refund", who, NOW);
      });
      expect(await page({ state: "revoked" })).toEqual(["Bob 100%_done"]);
      expect((await page({ expiringWithinDays: 400 })).sort()).toEqual([
        "Ada Lovelace",
        "Zoë Ångström",
      ]);
    });

    it("searches name, e-mail and key as literal text, unicode included", async () => {
      const rows = await seed();
      const names = (search: string) =>
        L.listLicenses(t.db, { limit: 50, search }, NOW).then((p) => p.licenses.map((l) => l.name));
      expect(await names("ångström")).toEqual(["Zoë Ångström"]);
      expect(await names("100%_")).toEqual(["Bob 100%_done"]);
      expect(await names("%")).toEqual(["Bob 100%_done"]);
      expect(await names("_")).toEqual(["Bob 100%_done"]);
      expect(await names("example.org")).toEqual(["Zoë Ångström"]);
      expect(await names(rows[3]!.license_key.slice(-8))).toEqual(["Carol"]);
      for (const payload of [
        "' OR '1'='1",
        "'; DROP TABLE licenses; --",
        "\\",
        "ada' UNION SELECT * FROM admin_tokens --",
        "Ｚｏë",
        "😀",
      ]) {
        const found = await L.listLicenses(t.db, { limit: 50, search: payload }, NOW);
        expect(found.licenses).toEqual([]);
      }
      expect(await count(t, "licenses")).toBe(5);
    });

    it("pages newest first with a cursor, every license exactly once", async () => {
      for (let i = 0; i < 7; i++)
        await L.insertLicense(t.db, newLicense({ name: `Buyer ${i}` }), who, NOW);
      const seen: string[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await L.listLicenses(t.db, { limit: 3, ...(after ? { after } : {}) }, NOW);
        seen.push(...page.licenses.map((l) => l.name));
        if (page.nextAfter === null) break;
        after = page.nextAfter;
      }
      expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `Buyer ${i}`));
    });

    it("counts licenses by tier and by state", async () => {
      await seed();
      expect(await L.countLicenses(t.db, NOW)).toEqual({
        total: 5,
        by_tier: { lite: 1, core: 3, pro: 1 },
        by_state: { active: 4, expired: 1, suspended: 0, revoked: 0 },
      });
    });
  });

  describe("admin tokens", () => {
    it("stores only a hash, authenticates the token, and stops after revocation", async () => {
      const token = T.generateToken();
      expect(token).toMatch(/^dtl_admin_[A-Za-z0-9_-]{43}$/);
      const created = await T.insertToken(t.db, "ops laptop", token, "cli", NOW);
      const { rows } = await t.db.query<Record<string, unknown>>("SELECT * FROM admin_tokens");
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(JSON.stringify(rows)).not.toContain(token.slice(10));
      expect(await T.authenticateToken(t.db, token)).toMatchObject({
        id: created.id,
        name: "ops laptop",
      });
      expect(await T.authenticateToken(t.db, T.generateToken())).toBeUndefined();
      expect(await T.authenticateToken(t.db, "not a token")).toBeUndefined();
      await T.revokeToken(t.db, "ops laptop", NOW);
      expect(await T.authenticateToken(t.db, token)).toBeUndefined();
      const listed = await T.listTokens(t.db);
      expect(listed).toHaveLength(1);
      expect(listed[0]!.revoked_at).toBe(NOW.toISOString());
    });

    it("refuses a second live token with the same name and revoking an unknown token", async () => {
      await T.insertToken(t.db, "ci", T.generateToken(), "cli", NOW);
      const dup = await T.insertToken(t.db, "ci", T.generateToken(), "cli", NOW).catch((e) => e);
      expect(isLicenseError(dup, "REQUEST_INVALID")).toBe(true);
      const missing = await T.revokeToken(t.db, "nobody", NOW).catch((e) => e);
      expect(isLicenseError(missing, "NOT_FOUND")).toBe(true);
      expect(await T.tokenCount(t.db)).toBe(1);
    });
  });

  describe("idempotency keys", () => {
    it("returns the stored response for the same request and refuses a different one", async () => {
      const h1 = requestHash("POST", "/v1/licenses", { name: "a" });
      const h2 = requestHash("POST", "/v1/licenses", { name: "b" });
      await t.db.transaction(async (tx) => {
        expect(await claimKey(tx, "k1", h1, NOW)).toBeUndefined();
        await completeKey(tx, "k1", { status: 201, body: { ok: true } });
      });
      expect(await t.db.transaction((tx) => claimKey(tx, "k1", h1, NOW))).toEqual({
        status: 201,
        body: { ok: true },
      });
      const err = await t.db.transaction((tx) => claimKey(tx, "k1", h2, NOW)).catch((e) => e);
      expect(isLicenseError(err, "IDEMPOTENCY_KEY_REUSED")).toBe(true);
    });

    it("frees a key whose first request rolled back", async () => {
      const h = requestHash("POST", "/v1/licenses", {});
      await t.db
        .transaction(async (tx) => {
          await claimKey(tx, "k2", h, NOW);
          throw new Error("failed");
        })
        .catch(() => undefined);
      expect(await t.db.transaction((tx) => claimKey(tx, "k2", h, NOW))).toBeUndefined();
    });
  });

  describe("import", () => {
    function jsonl(rows: L.NewLicense[]): string {
      return (
        rows
          .map((r) => JSON.stringify(toRecord({ payload: { v: 2, ...r }, blob: r.blob })))
          .join("\n") + "\n"
      );
    }

    it("imports verified lines, reports bad ones by line, and adds nothing on a second run", async () => {
      const good = [
        newLicense({ name: "One" }),
        newLicense({ name: "Two" }),
        newLicense({ name: "Three" }),
      ];
      const lines = jsonl(good).split("\n");
      // line 4: fields differ from the payload; line 5: a flipped signature; line 6: torn JSON
      const tampered = JSON.parse(lines[0]!);
      tampered.tier = "pro";
      tampered.license_key = "DT1-PRO-aaaaaaaa-bbbbbbbb";
      const forged = JSON.parse(lines[1]!);
      forged.license_key = "DT1-CORE-cccccccc-dddddddd";
      const sig = forged.blob.slice(-4);
      forged.blob = forged.blob.slice(0, -4) + (sig === "AAAA" ? "BBBB" : "AAAA");
      const text =
        lines.slice(0, 3).join("\n") +
        `\n${JSON.stringify(tampered)}\n${JSON.stringify(forged)}\n{"license_key": "DT1`;
      const { records, problems } = parseLog(text);
      expect(problems.map((p) => p.line)).toEqual([6]);
      const first = await importRecords(t.db, records, {
        batchSize: 2,
      });
      expect(first.imported).toBe(3);
      expect(first.already_present).toBe(0);
      expect(first.rejected.map((r) => [r.line, r.code])).toEqual([
        [4, "RECORD_MISMATCH"],
        [5, expect.stringMatching(/SIGNATURE_INVALID|BLOB_ENCODING/)],
      ]);
      expect(await count(t, "licenses")).toBe(3);
      expect(await count(t, "events")).toBe(3);
      const second = await importRecords(t.db, records);
      expect(second.imported).toBe(0);
      expect(second.already_present).toBe(3);
      expect(await count(t, "licenses")).toBe(3);
      expect(await count(t, "events")).toBe(3);
      const stored = await L.getLicense(t.db, good[1]!.license_key);
      expect(stored).toMatchObject({ source: "import", blob: good[1]!.blob, name: "Two" });
    });

    it("rejects a line whose key is stored for another buyer, writing nothing for it", async () => {
      const a = newLicense({ licenseKey: "DT1-CORE-KEY-0001" });
      await L.insertLicense(t.db, a, who, NOW);
      const b = newLicense({
        licenseKey: "DT1-CORE-KEY-0001",
        name: "Someone Else",
        email: "someone@example.com",
      });
      const c = newLicense({ licenseKey: "DT1-CORE-KEY-0002" });
      const { records } = parseLog(jsonl([b, c, c]));
      const s = await importRecords(t.db, records);
      expect(s.imported).toBe(1);
      expect(s.already_present).toBe(1);
      expect(s.rejected.map((r) => [r.line, r.code])).toEqual([[1, "LICENSE_KEY_TAKEN"]]);
      expect((await L.getLicense(t.db, "DT1-CORE-KEY-0001"))!.name).toBe("Ada Lovelace");
      expect(await count(t, "earlier_blobs")).toBe(0);
      expect(await count(t, "events")).toBe(2);
    });

    it("keeps every blob a buyer was re-minted under one key, the latest current, idempotently", async () => {
      const key = "DT1-CORE-KEY-0003";
      const first = newLicense({ licenseKey: key }, NOW);
      const second = newLicense({ licenseKey: key, years: 2 }, new Date("2026-06-01T00:00:00Z"));
      const third = newLicense({ licenseKey: key, tier: "pro" }, new Date("2026-07-01T00:00:00Z"));
      // The latest first, then the oldest: the order of the lines does not decide.
      const { records } = parseLog(jsonl([third, first, second]));
      const s = await importRecords(t.db, records, {
        batchSize: 2,
      });
      expect(s).toEqual({ imported: 3, already_present: 0, rejected: [] });
      const stored = await L.getLicense(t.db, key);
      expect(stored).toMatchObject({ blob: third.blob, tier: "pro", expires_at: third.expires_at });
      expect(await count(t, "earlier_blobs")).toBe(2);
      expect(await L.findEarlierBlob(t.db, key, first.blob)).toBeDefined();
      expect(await L.findEarlierBlob(t.db, key, second.blob)).toBeDefined();
      expect(await L.findEarlierBlob(t.db, key, third.blob)).toBeUndefined();
      const actions = (await L.listEvents(t.db, key)).map((e) => e.action);
      expect(actions).toEqual(["import", "import-earlier", "import-earlier"]);

      const again = await importRecords(t.db, records);
      expect(again).toEqual({ imported: 0, already_present: 3, rejected: [] });
      expect(await count(t, "earlier_blobs")).toBe(2);
      expect(await count(t, "events")).toBe(3);
    });

    it("makes a later re-mint of a stored key current and keeps the stored blob as an earlier one", async () => {
      const key = "DT1-CORE-KEY-0004";
      const old = newLicense({ licenseKey: key }, NOW);
      await L.insertLicense(t.db, old, who, NOW);
      await t.db.transaction(async (tx) =>
        L.setStatus(
          tx,
          (await L.getLicense(tx, key, true))!,
          "suspended",
          "suspend",
          "x",
          who,
          NOW,
        ),
      );
      const renewed = newLicense({ licenseKey: key, years: 3 }, new Date("2026-08-01T00:00:00Z"));
      const { records } = parseLog(jsonl([renewed]));
      const s = await importRecords(t.db, records);
      expect(s).toEqual({ imported: 1, already_present: 0, rejected: [] });
      const stored = await L.getLicense(t.db, key);
      // The key's status covers all its blobs.
      expect(stored).toMatchObject({ blob: renewed.blob, status: "suspended" });
      expect(await L.findEarlierBlob(t.db, key, old.blob)).toMatchObject({
        expires_at: new Date(old.expires_at),
      });
      const events = await L.listEvents(t.db, key);
      expect(events.at(-1)).toMatchObject({
        action: "import-renewal",
        before: { expires_at: old.expires_at },
        after: { expires_at: renewed.expires_at },
      });
    });

    it("gives the same result when verification runs several batches ahead of the inserts", async () => {
      const rows = Array.from({ length: 7 }, (_, i) => newLicense({ name: `Buyer ${i}` }));
      const text = jsonl([...rows.slice(0, 4), rows[1]!, ...rows.slice(4)]);
      const { records } = parseLog(
        text.replace(rows[5]!.blob, rows[5]!.blob.slice(0, -4) + "AAAA"),
      );
      let inFlight = 0;
      let most = 0;
      const s = await importRecords(t.db, records, {
        batchSize: 2,
        lookahead: 3,
        // Later batches finish first, as they may on worker threads.
        verify: async (blobs) => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 30 - blobs.length * 5 - inFlight * 5));
          inFlight--;
          return verifyInThread(ring, blobs);
        },
      });
      expect(most).toBeGreaterThan(1);
      expect(s.imported).toBe(6);
      expect(s.already_present).toBe(1);
      expect(s.rejected.map((r) => r.line)).toEqual([7]);
      expect(await count(t, "licenses")).toBe(6);
      expect(await count(t, "events")).toBe(6);
    });
  });
});
