// The HTTP API through fastify's inject(), on PGlite and (with TEST_DATABASE_URL) PostgreSQL.
import { describe, expect, it } from "vitest";
import type { InjectOptions } from "fastify";
import { verifyBlob } from "../../src/core/format.js";
import { mintLicense } from "../../src/core/mint.js";
import { toRecord } from "../../src/issuer/issue.js";
import { openPostgres } from "../../src/store/pg.js";
import { buildApp } from "../../src/server/app.js";
import { LATEST_VERSION } from "../../src/store/migrations.js";
import { generateToken, insertToken, revokeToken } from "../../src/store/tokens.js";
import { backendNames } from "../store/databases.js";
import { START, errorOf, json, ring, signer, until, useHarness } from "./harness.js";

type License = Record<string, string | null>;

describe.each(backendNames())("the API on %s", (backend) => {
  const h = useHarness(backend);

  const auth = () => ({ authorization: `Bearer ${h.token}` });
  const call = (o: InjectOptions) => h.app.inject(o);
  const issue = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call({
      method: "POST",
      url: "/v1/licenses",
      headers: { ...auth(), ...headers },
      payload: body,
    });
  const buyer = { name: "Ada Lovelace", email: "ada@example.com", tier: "pro" };
  const issued = async (body: Record<string, unknown> = buyer) => {
    const res = await issue(body);
    expect(res.statusCode).toBe(201);
    return json<License>(res);
  };

  /** Asserts an error response: status, code, request_id, JSON, and no stack or internals. */
  function expectError(res: Awaited<ReturnType<typeof call>>, status: number, code: string) {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const err = errorOf(res);
    expect(err.code).toBe(code);
    expect(err.request_id).toBe(res.headers["x-request-id"]);
    expect(typeof err.message).toBe("string");
    expect(res.body).not.toMatch(/\n\s+at |node_modules|\.ts:\d|stack/);
  }

  describe("health", () => {
    it("answers /healthz and /readyz, and /metrics counts requests by route template", async () => {
      expect(json(await call({ method: "GET", url: "/healthz" }))).toEqual({ status: "ok" });
      const ready = await call({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(200);
      expect(json(ready)).toMatchObject({ status: "ready", schema_version: LATEST_VERSION });
      const l = await issued();
      await call({ method: "GET", url: `/v1/licenses/${l.license_key}`, headers: auth() });
      const m = await call({ method: "GET", url: "/metrics" });
      expect(m.headers["content-type"]).toMatch(/^text\/plain/);
      expect(m.body).toContain(
        'dtl_http_requests_total{method="POST",route="/v1/licenses",status="201"}',
      );
      expect(m.body).toContain('route="/v1/licenses/:key",status="200"');
      expect(m.body).not.toContain(String(l.license_key));
      expect(m.body).toMatch(/dtl_licenses_total\{action="issue"\} 1/);
      expect(m.body).toContain("dtl_http_request_duration_seconds_bucket");
      expect(m.body).toMatch(/dtl_db_pool_connections\{state="max"\} \d+/);
    });
  });

  describe("issuing", () => {
    it("issues a license whose blob verifies and records one issue event by the token's name", async () => {
      const l = await issued({ ...buyer, years: 2 });
      expect(l).toMatchObject({
        name: "Ada Lovelace",
        email: "ada@example.com",
        tier: "pro",
        issued_at: "2026-05-13T22:10:27Z",
        expires_at: "2028-05-13T22:10:27Z",
        status: "active",
        kid: signer.kid,
      });
      expect(l.license_key).toMatch(/^DT1-PRO-[0-9a-f]{8}-[0-9a-f]{8}$/);
      expect(verifyBlob(l.blob!, ring).payload.license_key).toBe(l.license_key);
      const ev = await call({
        method: "GET",
        url: `/v1/licenses/${l.license_key}/events`,
        headers: auth(),
      });
      expect(json<{ events: unknown[] }>(ev).events).toEqual([
        expect.objectContaining({ action: "issue", actor: "test admin", before: null }),
      ]);
    });

    it("uses a given license key and refuses it a second time with nothing written", async () => {
      const l = await issued({ ...buyer, license_key: "DT1-PRO-ACME-2026" });
      expect(l.license_key).toBe("DT1-PRO-ACME-2026");
      expectError(
        await issue({ ...buyer, email: "eve@example.com", license_key: "DT1-PRO-ACME-2026" }),
        409,
        "LICENSE_KEY_TAKEN",
      );
      expect(await h.count("licenses")).toBe(1);
      expect(await h.count("events")).toBe(1);
    });

    it("issues concurrent requests each their own license and event, refusing only a taken key", async () => {
      const results = await Promise.all([
        ...Array.from({ length: 8 }, (_, i) => issue({ ...buyer, name: `Buyer ${i}` })),
        issue({ ...buyer, license_key: "DT1-PRO-SAME-0001" }),
        issue({ ...buyer, email: "eve@example.com", license_key: "DT1-PRO-SAME-0001" }),
      ]);
      const codes = results.map((r) => r.statusCode);
      expect(codes.slice(0, 8)).toEqual(Array(8).fill(201));
      expect(codes.slice(8).sort()).toEqual([201, 409]);
      expectError(
        results.find((r) => r.statusCode === 409)!,
        409,
        "LICENSE_KEY_TAKEN",
      );
      const keys = results.filter((r) => r.statusCode === 201).map((r) => json<License>(r));
      expect(new Set(keys.map((l) => l.license_key)).size).toBe(9);
      expect(keys.slice(0, 8).map((l) => l.name)).toEqual(
        Array.from({ length: 8 }, (_, i) => `Buyer ${i}`),
      );
      expect(await h.count("licenses")).toBe(9);
      expect(await h.count("events")).toBe(9);
    });

    const BAD: [string, InjectOptions, number, string][] = [
      [
        "malformed JSON",
        { payload: '{"name": "Ada", ', headers: { "content-type": "application/json" } },
        400,
        "REQUEST_INVALID",
      ],
      [
        "an empty body",
        { payload: "", headers: { "content-type": "application/json" } },
        400,
        "REQUEST_INVALID",
      ],
      [
        "a JSON array",
        { payload: "[]", headers: { "content-type": "application/json" } },
        400,
        "REQUEST_INVALID",
      ],
      [
        "a JSON string",
        { payload: '"hello"', headers: { "content-type": "application/json" } },
        400,
        "REQUEST_INVALID",
      ],
      [
        "a prototype-polluting key",
        {
          payload: '{"__proto__": {"x": 1}, "name": "A", "email": "a@b.co", "tier": "core"}',
          headers: { "content-type": "application/json" },
        },
        400,
        "REQUEST_INVALID",
      ],
      ["years as a string", { payload: { ...buyer, years: "2" } }, 400, "REQUEST_INVALID"],
      ["years as a fraction", { payload: { ...buyer, years: 1.5 } }, 400, "REQUEST_INVALID"],
      ["name as a number", { payload: { ...buyer, name: 42 } }, 400, "REQUEST_INVALID"],
      ["an unknown field", { payload: { ...buyer, admin: true } }, 400, "REQUEST_INVALID"],
      ["a missing e-mail", { payload: { name: "Ada", tier: "core" } }, 400, "REQUEST_INVALID"],
      [
        "a NUL in the name",
        { payload: { ...buyer, name: "Ada\u0000Lovelace" } },
        400,
        "REQUEST_INVALID",
      ],
      ["an unknown tier", { payload: { ...buyer, tier: "gold" } }, 400, "TIER_UNKNOWN"],
      ["a bad e-mail", { payload: { ...buyer, email: "not-an-email" } }, 400, "EMAIL_INVALID"],
      ["an empty name", { payload: { ...buyer, name: "   " } }, 400, "NAME_INVALID"],
      [
        "a right-to-left override in the name",
        { payload: { ...buyer, name: "Ada\u202e" } },
        400,
        "NAME_INVALID",
      ],
      ["zero years", { payload: { ...buyer, years: 0 } }, 400, "YEARS_INVALID"],
      ["101 years", { payload: { ...buyer, years: 101 } }, 400, "YEARS_INVALID"],
      [
        "a license key with a space",
        { payload: { ...buyer, license_key: "DT1 PRO" } },
        400,
        "LICENSE_KEY_INVALID",
      ],
      [
        "a license key with SQL",
        { payload: { ...buyer, license_key: "x'; DROP TABLE licenses;--" } },
        400,
        "LICENSE_KEY_INVALID",
      ],
      [
        "an oversized body",
        { payload: { ...buyer, name: "A".repeat(20_000) } },
        413,
        "REQUEST_TOO_LARGE",
      ],
      [
        "a text/plain body",
        { payload: "name=Ada", headers: { "content-type": "text/plain" } },
        415,
        "MEDIA_TYPE_UNSUPPORTED",
      ],
      [
        "a form body",
        { payload: "name=Ada", headers: { "content-type": "application/x-www-form-urlencoded" } },
        415,
        "MEDIA_TYPE_UNSUPPORTED",
      ],
      [
        "a bad Idempotency-Key",
        { payload: buyer, headers: { "idempotency-key": "has space" } },
        400,
        "REQUEST_INVALID",
      ],
    ];
    for (const [what, opts, status, code] of BAD) {
      it(`answers ${status}${code ? ` ${code}` : ""} for ${what}${status >= 400 ? " and writes nothing" : ""}`, async () => {
        const res = await call({
          method: "POST",
          url: "/v1/licenses",
          ...opts,
          headers: { ...auth(), ...(opts.headers ?? {}) },
        });
        if (status >= 400) {
          expectError(res, status, code);
          expect(await h.count("licenses")).toBe(0);
          expect(await h.count("events")).toBe(0);
          expect(await h.count("idempotency_keys")).toBe(0);
        } else {
          expect(res.statusCode).toBe(status);
        }
      });
    }

    it("names the unknown field in the message", async () => {
      const res = await issue({ ...buyer, colour: "red" });
      expect(errorOf(res).message).toContain('"colour"');
    });

    it("answers 503 KEY_MISSING when the server has no signing key, writing nothing", async () => {
      const verifyOnly = await h.other({ signer: undefined });
      const res = await verifyOnly.inject({
        method: "POST",
        url: "/v1/licenses",
        headers: auth(),
        payload: buyer,
      });
      expectError(res, 503, "KEY_MISSING");
      expect(await h.count("licenses")).toBe(0);
    });
  });

  describe("idempotency", () => {
    it("gives one license for the same Idempotency-Key sent 10 times at once", async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => issue(buyer, { "idempotency-key": "order-1001" })),
      );
      for (const r of results) expect(r.statusCode, r.body).toBe(201);
      const keys = new Set(results.map((r) => json<License>(r).license_key));
      expect(keys.size).toBe(1);
      expect(results.filter((r) => r.headers["idempotent-replayed"] === "true")).toHaveLength(9);
      expect(new Set(results.map((r) => r.body)).size).toBe(1);
      expect(await h.count("licenses")).toBe(1);
      expect(await h.count("events")).toBe(1);
    });

    it("refuses the same key with a different body (409) and writes nothing more", async () => {
      await issue(buyer, { "idempotency-key": "order-1002" });
      const res = await issue({ ...buyer, tier: "lite" }, { "idempotency-key": "order-1002" });
      expectError(res, 409, "IDEMPOTENCY_KEY_REUSED");
      expect(await h.count("licenses")).toBe(1);
    });

    it("does not burn a key on a refused request", async () => {
      expectError(
        await issue({ ...buyer, tier: "gold" }, { "idempotency-key": "order-1003" }),
        400,
        "TIER_UNKNOWN",
      );
      expect((await issue(buyer, { "idempotency-key": "order-1003" })).statusCode).toBe(201);
    });
  });

  describe("authentication", () => {
    const ROUTES: [string, string, unknown?][] = [
      ["POST", "/v1/licenses", buyer],
      ["GET", "/v1/licenses"],
      ["GET", "/v1/counts"],
      ["GET", "/v1/licenses/DT1-CORE-00000000-00000000"],
      ["GET", "/v1/licenses/DT1-CORE-00000000-00000000/blob"],
      ["GET", "/v1/licenses/DT1-CORE-00000000-00000000/events"],
      ["POST", "/v1/licenses/DT1-CORE-00000000-00000000/revoke", { reason: "x" }],
      ["POST", "/v1/licenses/DT1-CORE-00000000-00000000/suspend", { reason: "x" }],
      ["POST", "/v1/licenses/DT1-CORE-00000000-00000000/reinstate", { reason: "x" }],
      ["POST", "/v1/licenses/DT1-CORE-00000000-00000000/renew", { years: 1 }],
      ["POST", "/v1/licenses/import", { records: [] }],
      ["GET", "/v1/admin/tokens"],
      ["POST", "/v1/admin/tokens", { name: "x" }],
      ["POST", "/v1/admin/tokens/1/revoke"],
    ];
    for (const [method, url, payload] of ROUTES) {
      it(`guards ${method} ${url}: missing 401, bad 401, revoked 401`, async () => {
        const send = (headers: Record<string, string>) =>
          call({
            method: method as "GET",
            url,
            headers,
            ...(payload !== undefined ? { payload: payload as object } : {}),
          });
        const missing = await send({});
        expectError(missing, 401, "AUTH_MISSING");
        expect(missing.headers["www-authenticate"]).toMatch(/^Bearer/);
        expectError(await send({ authorization: "Bearer nonsense" }), 401, "AUTH_INVALID");
        expectError(
          await send({ authorization: `Bearer ${generateToken()}` }),
          401,
          "AUTH_INVALID",
        );
        expectError(
          await send({ authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }),
          401,
          "AUTH_INVALID",
        );
        const revoked = generateToken();
        await insertToken(h.t.db, "revoked one", revoked, "test", START);
        await revokeToken(h.t.db, "revoked one", START);
        expectError(await send({ authorization: `Bearer ${revoked}` }), 401, "AUTH_INVALID");
        expect(await h.count("licenses")).toBe(0);
        expect(await h.count("admin_tokens")).toBe(2);
      });
    }

    it("checks the token before the body, so a bad body without a token is a 401", async () => {
      const res = await call({
        method: "POST",
        url: "/v1/licenses",
        payload: "{oops",
        headers: { "content-type": "application/json" },
      });
      expectError(res, 401, "AUTH_MISSING");
    });

    it("records the token's last use", async () => {
      await call({ method: "GET", url: "/v1/counts", headers: auth() });
      // The touch is written after the response; wait for it, not for a fixed time.
      await until(async () => {
        const { rows } = await h.t.db.query<{ last_used_at: Date | null }>(
          "SELECT last_used_at FROM admin_tokens WHERE name = 'test admin'",
        );
        return rows[0]!.last_used_at !== null;
      }, "the token's last_used_at to be written");
    });
  });

  describe("reading", () => {
    it("reads one license, its blob unchanged, and 404s an unknown key", async () => {
      const l = await issued();
      const one = await call({
        method: "GET",
        url: `/v1/licenses/${l.license_key}`,
        headers: auth(),
      });
      expect(json(one)).toEqual({ ...l, sale: null, delivery: null });
      const blob = await call({
        method: "GET",
        url: `/v1/licenses/${l.license_key}/blob`,
        headers: auth(),
      });
      expect(blob.headers["content-type"]).toMatch(/^text\/plain/);
      expect(blob.body).toBe(l.blob);
      for (const key of [
        "DT1-CORE-00000000-00000000",
        "%27%20OR%20%271%27%3D%271",
        "%E2%80%AE",
        "a".repeat(150),
      ]) {
        expectError(
          await call({ method: "GET", url: `/v1/licenses/${key}`, headers: auth() }),
          404,
          "NOT_FOUND",
        );
        expectError(
          await call({ method: "GET", url: `/v1/licenses/${key}/blob`, headers: auth() }),
          404,
          "NOT_FOUND",
        );
        expectError(
          await call({ method: "GET", url: `/v1/licenses/${key}/events`, headers: auth() }),
          404,
          "NOT_FOUND",
        );
      }
      expectError(
        await call({ method: "GET", url: "/v1/nothing", headers: auth() }),
        404,
        "ROUTE_NOT_FOUND",
      );
      expectError(
        await call({ method: "DELETE", url: `/v1/licenses/${l.license_key}`, headers: auth() }),
        404,
        "ROUTE_NOT_FOUND",
      );
    });

    it("lists with filters and pages with a cursor", async () => {
      await issued({ name: "Ada", email: "ada@example.com", tier: "pro" });
      await issued({ name: "Zoë Ångström", email: "zoe@example.org", tier: "lite" });
      for (let i = 0; i < 4; i++)
        await issued({ name: `Buyer ${i}`, email: `b${i}@example.net`, tier: "core" });
      const list = async (qs: string) => {
        const res = await call({ method: "GET", url: `/v1/licenses${qs}`, headers: auth() });
        expect(res.statusCode, res.body).toBe(200);
        return json<{ licenses: License[]; next_cursor: string | null }>(res);
      };
      expect((await list("?email=ADA@EXAMPLE.COM")).licenses.map((l) => l.name)).toEqual(["Ada"]);
      expect((await list("?tier=lite")).licenses.map((l) => l.name)).toEqual(["Zoë Ångström"]);
      expect((await list(`?q=${encodeURIComponent("ångström")}`)).licenses).toHaveLength(1);
      expect((await list("?state=active")).licenses).toHaveLength(6);
      expect((await list("?state=expired")).licenses).toHaveLength(0);
      expect((await list("?expiring_within_days=400")).licenses).toHaveLength(6);
      expect((await list("?expiring_within_days=10")).licenses).toHaveLength(0);
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { licenses: License[]; next_cursor: string | null } = await list(
          `?tier=core&limit=3${cursor ? `&cursor=${cursor}` : ""}`,
        );
        names.push(...page.licenses.map((l) => String(l.name)));
        cursor = page.next_cursor;
      } while (cursor);
      expect(names).toEqual(["Buyer 3", "Buyer 2", "Buyer 1", "Buyer 0"]);
      const counts = json(await call({ method: "GET", url: "/v1/counts", headers: auth() }));
      expect(counts).toEqual({
        total: 6,
        by_tier: { lite: 1, core: 4, pro: 1 },
        by_state: { active: 6, expired: 0, suspended: 0, revoked: 0 },
      });
    });

    it("treats SQL-injection and unicode payloads in search parameters as plain text", async () => {
      await issued();
      const payloads = [
        "' OR '1'='1",
        "'; DROP TABLE licenses; --",
        "ada' UNION SELECT hash, hash FROM admin_tokens --",
        "%' OR 1=1 --",
        "\\' OR 1=1",
        "Ａｄａ",
        "A\u0301da",
        "\u202eada",
        "😀",
        "%00",
      ];
      // Raw query strings that are not valid percent-encoded UTF-8.
      for (const raw of ["q=%ED%A0%80", "q=%E0%A4%A", "q=%FF", "email=%C0%AF"]) {
        const res = await call({ method: "GET", url: `/v1/licenses?${raw}`, headers: auth() });
        expect(res.statusCode, `${raw}: ${res.body}`).toBeLessThan(500);
        if (res.statusCode !== 200) expect(errorOf(res).code).toBe("REQUEST_INVALID");
      }
      for (const p of payloads) {
        for (const param of ["q", "email"]) {
          const res = await call({
            method: "GET",
            url: `/v1/licenses?${param}=${encodeURIComponent(p)}`,
            headers: auth(),
          });
          expect(res.statusCode, `${param}=${p}: ${res.body}`).toBe(200);
          expect(json<{ licenses: unknown[] }>(res).licenses).toEqual([]);
        }
      }
      expect(await h.count("licenses")).toBe(1);
      expect(await h.count("admin_tokens")).toBe(1);
    });

    const BAD_QUERIES: [string, string][] = [
      ["?limit=0", "REQUEST_INVALID"],
      ["?limit=201", "REQUEST_INVALID"],
      ["?limit=ten", "REQUEST_INVALID"],
      ["?state=dormant", "REQUEST_INVALID"],
      ["?tier=gold", "TIER_UNKNOWN"],
      ["?cursor=!!", "REQUEST_INVALID"],
      ["?cursor=bm90LWEtbnVtYmVy", "REQUEST_INVALID"],
      ["?expiring_within_days=-1", "REQUEST_INVALID"],
      ["?colour=red", "REQUEST_INVALID"],
      ["?q=%00", "REQUEST_INVALID"],
      [`?q=${"x".repeat(201)}`, "REQUEST_INVALID"],
    ];
    it("states the real range of each numeric query parameter when refusing it", async () => {
      const cases: [string, string][] = [
        ["?limit=500", "limit must be a whole number from 1 to 200"],
        ["?limit=0", "limit must be a whole number from 1 to 200"],
        ["?limit=ten", "limit must be a whole number from 1 to 200"],
        [
          "?expiring_within_days=40000",
          "expiring_within_days must be a whole number from 0 to 36500",
        ],
        ["?expiring_within_days=-1", "expiring_within_days must be a whole number from 0 to 36500"],
      ];
      for (const [qs, message] of cases) {
        const res = await call({ method: "GET", url: `/v1/licenses${qs}`, headers: auth() });
        expectError(res, 400, "REQUEST_INVALID");
        expect(errorOf(res).message, qs).toBe(message);
      }
      for (const qs of ["?limit=1", "?limit=200", "?expiring_within_days=0"]) {
        expect(
          (await call({ method: "GET", url: `/v1/licenses${qs}`, headers: auth() })).statusCode,
        ).toBe(200);
      }
    });

    for (const [qs, code] of BAD_QUERIES) {
      it(`refuses the list query ${qs.slice(0, 40)} with 400 ${code}`, async () => {
        expectError(
          await call({ method: "GET", url: `/v1/licenses${qs}`, headers: auth() }),
          400,
          code,
        );
      });
    }
  });

  describe("changes", () => {
    const post = (key: string, action: string, payload: unknown) =>
      call({
        method: "POST",
        url: `/v1/licenses/${key}/${action}`,
        headers: auth(),
        payload: payload as object,
      });

    it("suspends, reinstates and revokes, recording each change with before and after", async () => {
      const l = await issued();
      const key = String(l.license_key);
      h.clock.now = new Date(START.getTime() + 3_600_000);
      const s = await post(key, "suspend", { reason: "chargeback opened" });
      expect(json(s)).toMatchObject({ status: "suspended", status_reason: "chargeback opened" });
      expect(json(await post(key, "reinstate", { reason: "chargeback won" }))).toMatchObject({
        status: "active",
      });
      expect(json(await post(key, "revoke", { reason: "refund" }))).toMatchObject({
        status: "revoked",
      });
      const events = json<{ events: Record<string, unknown>[] }>(
        await call({ method: "GET", url: `/v1/licenses/${key}/events`, headers: auth() }),
      ).events;
      expect(events.map((e) => [e.action, e.actor, e.reason])).toEqual([
        ["issue", "test admin", null],
        ["suspend", "test admin", "chargeback opened"],
        ["reinstate", "test admin", "chargeback won"],
        ["revoke", "test admin", "refund"],
      ]);
      expect(events[1]).toMatchObject({
        before: { status: "active" },
        after: { status: "suspended" },
        at: "2026-05-13T23:10:27.000Z",
      });
      expect(await h.count("licenses")).toBe(1);
    });

    it("refuses changes the state does not allow (409) and writes nothing", async () => {
      const l = await issued();
      const key = String(l.license_key);
      expectError(await post(key, "reinstate", { reason: "x" }), 409, "LICENSE_STATE_CONFLICT");
      await post(key, "revoke", { reason: "fraud" });
      for (const action of ["revoke", "suspend", "reinstate", "renew"]) {
        expectError(
          await post(key, action, action === "renew" ? { years: 1 } : { reason: "again" }),
          409,
          "LICENSE_STATE_CONFLICT",
        );
      }
      expect(await h.count("events")).toBe(2);
      expect(await h.count("licenses")).toBe(1);
    });

    it("refuses a missing or empty reason, an unknown field, and an unknown key", async () => {
      const l = await issued();
      const key = String(l.license_key);
      expectError(await post(key, "revoke", {}), 400, "REQUEST_INVALID");
      expectError(await post(key, "revoke", { reason: "" }), 400, "REQUEST_INVALID");
      expectError(await post(key, "revoke", { reason: "x", force: true }), 400, "REQUEST_INVALID");
      expectError(
        await post("DT1-CORE-00000000-00000000", "revoke", { reason: "x" }),
        404,
        "NOT_FOUND",
      );
      expectError(
        await post("DT1-CORE-00000000-00000000", "renew", { years: 1 }),
        404,
        "NOT_FOUND",
      );
      expect(await h.count("events")).toBe(1);
    });

    it("renews: a new blob for the same buyer from the old expiry, the old one superseded", async () => {
      const old = await issued();
      h.clock.now = new Date("2027-04-01T00:00:00Z");
      const res = await post(String(old.license_key), "renew", { years: 1 });
      expect(res.statusCode, res.body).toBe(201);
      const fresh = json<License>(res);
      expect(fresh).toMatchObject({
        name: old.name,
        email: old.email,
        tier: old.tier,
        supersedes: old.license_key,
        issued_at: "2027-04-01T00:00:00Z",
        expires_at: "2028-05-13T22:10:27Z",
      });
      expect(fresh.license_key).not.toBe(old.license_key);
      expect(verifyBlob(String(fresh.blob), ring).payload.expires_at).toBe("2028-05-13T22:10:27Z");
      const before = json<License>(
        await call({ method: "GET", url: `/v1/licenses/${old.license_key}`, headers: auth() }),
      );
      expect(before.superseded_by).toBe(fresh.license_key);
      expect(before.blob).toBe(old.blob);
      expectError(
        await post(String(old.license_key), "renew", { years: 1 }),
        409,
        "LICENSE_STATE_CONFLICT",
      );
      expectError(
        await post(String(fresh.license_key), "renew", { years: "1" }),
        400,
        "REQUEST_INVALID",
      );
      expectError(
        await post(String(fresh.license_key), "renew", { years: 0 }),
        400,
        "YEARS_INVALID",
      );
      expect(await h.count("licenses")).toBe(2);
    });

    it("renews for one year when the body is absent or empty, as years defaults to 1", async () => {
      for (const headers of [{}, { "content-type": "application/json" }]) {
        const old = await issued({
          ...buyer,
          email: `ada${Object.keys(headers).length}@example.com`,
        });
        const res = await call({
          method: "POST",
          url: `/v1/licenses/${old.license_key}/renew`,
          headers: { ...auth(), ...headers },
        });
        expect(res.statusCode, res.body).toBe(201);
        expect(json<License>(res)).toMatchObject({
          supersedes: old.license_key,
          expires_at: "2028-05-13T22:10:27Z",
        });
      }
      expect(await h.count("licenses")).toBe(4);
      // Other endpoints still need a body.
      const l = await issued({ ...buyer, email: "other@example.com" });
      expectError(
        await call({
          method: "POST",
          url: `/v1/licenses/${l.license_key}/revoke`,
          headers: { ...auth(), "content-type": "application/json" },
        }),
        400,
        "REQUEST_INVALID",
      );
      expectError(
        await call({
          method: "POST",
          url: `/v1/licenses/${l.license_key}/revoke`,
          headers: auth(),
        }),
        400,
        "REQUEST_INVALID",
      );
      expect(await h.count("licenses")).toBe(5);
    });

    it("renews once for one Idempotency-Key", async () => {
      const old = await issued();
      const send = () =>
        call({
          method: "POST",
          url: `/v1/licenses/${old.license_key}/renew`,
          headers: { ...auth(), "idempotency-key": "renew-1" },
          payload: { years: 1 },
        });
      const [a, b] = await Promise.all([send(), send()]);
      expect(a.statusCode).toBe(201);
      expect(b.statusCode).toBe(201);
      expect(json<License>(a).license_key).toBe(json<License>(b).license_key);
      expect(await h.count("licenses")).toBe(2);
    });
  });

  describe("verify", () => {
    const verify = (
      blob: unknown,
      app = h.app,
      headers: Record<string, string> = {},
      remoteAddress?: string,
    ) =>
      app.inject({
        method: "POST",
        url: "/v1/licenses/verify",
        payload: { blob } as object,
        headers,
        ...(remoteAddress ? { remoteAddress } : {}),
      });

    it("answers each state with its code, without auth", async () => {
      const l = await issued();
      const blob = String(l.blob);
      expect(json(await verify(blob))).toMatchObject({
        genuine: true,
        state: "active",
        code: "VALID",
        license_key: l.license_key,
      });
      expect(json(await verify(`  ${blob.slice(0, 40)}\n${blob.slice(40)}  `))).toMatchObject({
        code: "VALID",
      });
      await call({
        method: "POST",
        url: `/v1/licenses/${l.license_key}/suspend`,
        headers: auth(),
        payload: { reason: "x" },
      });
      expect(json(await verify(blob))).toMatchObject({
        genuine: true,
        state: "suspended",
        code: "SUSPENDED",
      });
      await call({
        method: "POST",
        url: `/v1/licenses/${l.license_key}/revoke`,
        headers: auth(),
        payload: { reason: "x" },
      });
      expect(json(await verify(blob))).toMatchObject({
        genuine: true,
        state: "revoked",
        code: "REVOKED",
      });
      const other = await issued({ ...buyer, name: "Other" });
      h.clock.now = new Date("2030-01-01T00:00:00Z");
      expect(json(await verify(other.blob))).toMatchObject({
        genuine: true,
        state: "expired",
        code: "EXPIRED",
      });
      const unstored = mintLicense({ name: "Nobody", email: "no@example.com" }, signer, START).blob;
      expect(json(await verify(unstored))).toMatchObject({
        genuine: true,
        state: "unknown",
        code: "UNKNOWN",
      });
    });

    it("says not genuine, with the reason's code, for forged and malformed blobs", async () => {
      const l = await issued();
      const blob = String(l.blob);
      const dot = blob.indexOf(".");
      const flipped =
        blob.slice(0, dot + 5) + (blob[dot + 5] === "A" ? "B" : "A") + blob.slice(dot + 6);
      const cases: [unknown, string][] = [
        [flipped, "SIGNATURE_INVALID"],
        ["hello", "BLOB_PREFIX_UNKNOWN"],
        ["DTLIC1:abc", "BLOB_V1_UNSUPPORTED"],
        ["DTLIC2:abc", "BLOB_MALFORMED"],
        ["", "BLOB_EMPTY"],
        ["DTLIC2:" + "A".repeat(5000), "BLOB_TOO_LARGE"],
      ];
      for (const [b, code] of cases) {
        const res = await verify(b);
        expect(res.statusCode).toBe(200);
        expect(json(res)).toMatchObject({ genuine: false, state: "unknown", code });
      }
      expectError(await verify(42), 400, "REQUEST_INVALID");
      expectError(
        await h.app.inject({ method: "POST", url: "/v1/licenses/verify", payload: {} }),
        400,
        "REQUEST_INVALID",
      );
      expectError(
        await h.app.inject({
          method: "POST",
          url: "/v1/licenses/verify",
          payload: { blob, extra: 1 },
        }),
        400,
        "REQUEST_INVALID",
      );
    });

    it("limits each client address and answers 429 with Retry-After", async () => {
      const limited = await h.other({ verifyRateLimit: 3 });
      const l = await issued();
      for (let i = 0; i < 3; i++)
        expect((await verify(l.blob, limited, {}, "203.0.113.5")).statusCode).toBe(200);
      const res = await verify(l.blob, limited, {}, "203.0.113.5");
      expectError(res, 429, "RATE_LIMITED");
      expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      // Another address has its own allowance; a spoofed X-Forwarded-For from an untrusted peer changes nothing.
      expect((await verify(l.blob, limited, {}, "203.0.113.6")).statusCode).toBe(200);
      expect(
        (await verify(l.blob, limited, { "x-forwarded-for": "198.51.100.1" }, "203.0.113.5"))
          .statusCode,
      ).toBe(429);
      // From the trusted proxy (loopback), the forwarded address is the client.
      for (let i = 0; i < 3; i++) {
        expect(
          (await verify(l.blob, limited, { "x-forwarded-for": "198.51.100.7" }, "127.0.0.1"))
            .statusCode,
        ).toBe(200);
      }
      expect(
        (await verify(l.blob, limited, { "x-forwarded-for": "198.51.100.7" }, "127.0.0.1"))
          .statusCode,
      ).toBe(429);
      expect(
        (await verify(l.blob, limited, { "x-forwarded-for": "198.51.100.8" }, "127.0.0.1"))
          .statusCode,
      ).toBe(200);
    });
  });

  describe("admin tokens over the API", () => {
    it("creates a token shown once, lists without secrets, and revokes it", async () => {
      const res = await call({
        method: "POST",
        url: "/v1/admin/tokens",
        headers: auth(),
        payload: { name: "ci" },
      });
      expect(res.statusCode).toBe(201);
      const created = json<{ id: number; token: string; created_by: string }>(res);
      expect(created.token).toMatch(/^dtl_admin_[A-Za-z0-9_-]{43}$/);
      expect(created.created_by).toBe("test admin");
      const list = await call({ method: "GET", url: "/v1/admin/tokens", headers: auth() });
      expect(list.body).not.toContain(created.token);
      expect(list.body).not.toContain("hash");
      expect(json<{ tokens: unknown[] }>(list).tokens).toHaveLength(2);
      const ci = { authorization: `Bearer ${created.token}` };
      expect((await call({ method: "GET", url: "/v1/counts", headers: ci })).statusCode).toBe(200);
      const revoked = await call({
        method: "POST",
        url: `/v1/admin/tokens/${created.id}/revoke`,
        headers: auth(),
      });
      expect(json(revoked)).toMatchObject({ name: "ci", revoked_at: START.toISOString() });
      expectError(
        await call({ method: "GET", url: "/v1/counts", headers: ci }),
        401,
        "AUTH_INVALID",
      );
      expectError(
        await call({ method: "POST", url: "/v1/admin/tokens/999/revoke", headers: auth() }),
        404,
        "NOT_FOUND",
      );
      expectError(
        await call({
          method: "POST",
          url: "/v1/admin/tokens",
          headers: auth(),
          payload: { name: "" },
        }),
        400,
        "REQUEST_INVALID",
      );
      expectError(
        await call({
          method: "POST",
          url: "/v1/admin/tokens",
          headers: auth(),
          payload: { name: "test admin" },
        }),
        400,
        "REQUEST_INVALID",
      );
    });
  });

  describe("import over the API", () => {
    it("imports records, reports bad ones by index, and adds nothing the second time", async () => {
      const good = [1, 2, 3].map((i) =>
        toRecord(mintLicense({ name: `Buyer ${i}`, email: `b${i}@example.com` }, signer, START)),
      );
      const records = [...good, { ...good[0]!, name: "Changed" }, { nonsense: true }];
      const send = () =>
        call({ method: "POST", url: "/v1/licenses/import", headers: auth(), payload: { records } });
      const first = json<{
        imported: number;
        already_present: number;
        rejected: { index: number; code: string }[];
      }>(await send());
      expect(first.imported).toBe(3);
      expect(first.rejected.map((r) => [r.index, r.code])).toEqual([
        [3, "RECORD_MISMATCH"],
        [4, "REQUEST_INVALID"],
      ]);
      const second = json<{ imported: number; already_present: number }>(await send());
      expect(second).toMatchObject({ imported: 0, already_present: 3 });
      expect(await h.count("licenses")).toBe(3);
      expect(await h.count("events")).toBe(3);
    });
  });

  describe("licenses re-minted under the same key", () => {
    it("imports each blob of the key and verifies every one with the key's state", async () => {
      const key = "DT1-PRO-RENEWED-0001";
      const mint = (years: number, at: string) =>
        mintLicense({ ...buyer, licenseKey: key, years }, signer, new Date(at));
      const first = mint(1, "2026-01-10T00:00:00Z");
      const renewed = mint(2, "2026-05-01T00:00:00Z");
      const records = [first, renewed].map((m) => toRecord(m));
      const send = () =>
        call({ method: "POST", url: "/v1/licenses/import", headers: auth(), payload: { records } });
      expect(json(await send())).toEqual({ imported: 2, already_present: 0, rejected: [] });
      expect(json(await send())).toEqual({ imported: 0, already_present: 2, rejected: [] });
      const verify = async (blob: string) =>
        json(await call({ method: "POST", url: "/v1/licenses/verify", payload: { blob } }));

      h.clock.now = new Date("2026-06-01T00:00:00Z");
      expect(await verify(renewed.blob)).toMatchObject({
        genuine: true,
        state: "active",
        code: "VALID",
        current: true,
        expires_at: renewed.payload.expires_at,
      });
      expect(await verify(first.blob)).toMatchObject({
        genuine: true,
        state: "active",
        code: "VALID",
        current: false,
        expires_at: first.payload.expires_at,
        message: expect.stringContaining("a later license was issued under this key"),
      });
      // The earlier blob runs out on its own date; the key's state covers every blob.
      h.clock.now = new Date("2027-02-01T00:00:00Z");
      expect(await verify(first.blob)).toMatchObject({ state: "expired", code: "EXPIRED" });
      expect(await verify(renewed.blob)).toMatchObject({ state: "active", code: "VALID" });
      await call({
        method: "POST",
        url: `/v1/licenses/${key}/revoke`,
        headers: auth(),
        payload: { reason: "refunded" },
      });
      for (const m of [first, renewed]) {
        expect(await verify(m.blob)).toMatchObject({ state: "revoked", code: "REVOKED" });
      }
      const stored = json<License>(
        await call({ method: "GET", url: `/v1/licenses/${key}`, headers: auth() }),
      );
      expect(stored.blob).toBe(renewed.blob);
    });
  });

  describe("logs", () => {
    it("writes one JSON line per request with no token, no blob and no query string", async () => {
      const l = await issued();
      await call({ method: "POST", url: "/v1/licenses/verify", payload: { blob: l.blob } });
      await call({ method: "GET", url: "/v1/licenses?email=ada%40example.com", headers: auth() });
      await call({
        method: "GET",
        url: "/v1/counts",
        headers: { authorization: "Bearer dtl_admin_wrongwrongwrongwrongwrongwrongwrongwrongwro" },
      });
      const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
      const requests = lines.filter((l) => l.msg === "request");
      expect(requests).toHaveLength(4);
      expect(requests.map((r) => r.status)).toEqual([201, 200, 200, 401]);
      expect(requests[0]).toMatchObject({
        method: "POST",
        route: "/v1/licenses",
        actor: "test admin",
      });
      const all = h.logs.join("\n");
      expect(all).not.toContain(h.token);
      expect(all).not.toContain(h.token.slice(10));
      expect(all).not.toContain("wrongwrong");
      expect(all).not.toContain(String(l.blob).slice(7, 60));
      expect(all).not.toContain("ada%40example.com");
      expect(all).not.toContain("ada@example.com");
    });
  });
});

describe("the API with its database down", () => {
  it("answers 503 DATABASE_UNAVAILABLE, not a 500, and /healthz stays up", async () => {
    const db = openPostgres({ url: "postgres://postgres@127.0.0.1:1/nowhere" });
    const app = await buildApp({ db, signer, ring, logStream: false });
    try {
      const l = mintLicense({ name: "A B", email: "a@example.com" }, signer, START);
      const v = await app.inject({
        method: "POST",
        url: "/v1/licenses/verify",
        payload: { blob: l.blob },
      });
      expect(v.statusCode).toBe(503);
      expect(errorOf(v).code).toBe("DATABASE_UNAVAILABLE");
      const r = await app.inject({ method: "GET", url: "/readyz" });
      expect(r.statusCode).toBe(503);
      expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await app.close();
      await db.close();
    }
  });
});
