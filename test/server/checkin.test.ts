// Seats, activations, check-in and the signed answers, through inject() on PGlite and PostgreSQL.
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { describe, expect, it } from "vitest";
import { ANSWER_PREFIX } from "../../src/core/answer.js";
import { DEFAULT_CATALOGUE } from "../../src/core/catalogue.js";
import { encodeBlob } from "../../src/core/format.js";
import { generateKeypair, importSigner } from "../../src/core/keys.js";
import { mintLicense } from "../../src/core/mint.js";
import { reclaimUnseenSeats } from "../../src/service/activations.js";
import { LAST_SEEN_GRANULARITY_S, createServiceContext } from "../../src/service/context.js";
import { noble } from "../core/support.js";
import { backendNames } from "../store/databases.js";
import { startSeatReclaim } from "../../src/server/reclaim.js";
import { START, errorOf, json, ring, signer, until, useHarness } from "./harness.js";

const ed = noble();

/**
 * Checks the answer's DTL-Signature with @noble/ed25519 (not the code under test):
 * kid is the server key's, the signature covers DTLRESP1: and the exact body bytes.
 */
function expectSigned(res: LightMyRequestResponse): void {
  const header = res.headers["dtl-signature"];
  expect(typeof header, `unsigned ${res.statusCode} answer: ${res.body}`).toBe("string");
  const m = /^kid=([0-9a-f]{16});sig=([A-Za-z0-9_-]{86})$/.exec(String(header));
  expect(m).not.toBeNull();
  expect(m![1]).toBe(signer.kid);
  const message = Buffer.concat([Buffer.from(ANSWER_PREFIX, "ascii"), res.rawPayload]);
  const sig = Buffer.from(m![2]!, "base64url");
  expect(ed.verify(sig, message, signer.publicKey.raw)).toBe(true);
  // A changed body does not verify.
  const swapped = Buffer.concat([message, Buffer.from(" ")]);
  expect(ed.verify(sig, swapped, signer.publicKey.raw)).toBe(false);
}

const FIELDS = [
  "code",
  "message",
  "license_key",
  "state",
  "expires_at",
  "seats",
  "activation",
  "nonce",
  "server_time",
];

describe.each(backendNames())("online check-in on %s", (backend) => {
  const h = useHarness(backend);

  const auth = () => ({ authorization: `Bearer ${h.token}` });
  const call = (o: InjectOptions) => h.app.inject(o);
  let n = 0;
  const nonce = () => `nonce-${String(++n).padStart(12, "0")}`;

  async function issue(extra: Record<string, unknown> = {}) {
    const res = await call({
      method: "POST",
      url: "/v1/licenses",
      headers: auth(),
      payload: { name: "Ada Lovelace", email: "ada@example.com", tier: "pro", ...extra },
    });
    expect(res.statusCode, res.body).toBe(201);
    return json<{ license_key: string; blob: string; seats: number | null }>(res);
  }

  const machine = (
    path: "/v1/activations" | "/v1/activations/release" | "/v1/check-in",
    payload: Record<string, unknown>,
    app = h.app,
  ) => app.inject({ method: "POST", url: path, payload });
  const activate = (blob: string, fingerprint: string, extra: Record<string, unknown> = {}) =>
    machine("/v1/activations", { blob, fingerprint, nonce: nonce(), ...extra });
  const release = (blob: string, fingerprint: string) =>
    machine("/v1/activations/release", { blob, fingerprint, nonce: nonce() });
  const checkIn = (blob: string, fingerprint: string) =>
    machine("/v1/check-in", { blob, fingerprint, nonce: nonce() });

  /** A held seat's row as stored: its last_seen_at, host name and row version (xmin). */
  async function storedSeat(fingerprint: string, key?: string) {
    const { rows } = await h.t.db.query<{ seen: Date | string; host: string | null; v: string }>(
      "SELECT last_seen_at AS seen, hostname AS host, xmin::text AS v FROM activations " +
        "WHERE fingerprint = $1 AND ($2::text IS NULL OR license_key = $2) AND released_at IS NULL",
      [fingerprint, key ?? null],
    );
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    return { seen: new Date(r.seen).toISOString(), host: r.host, v: r.v };
  }

  /** The answer, after checking its status, its signature, its field order and its nonce echo. */
  function answer(res: LightMyRequestResponse, status: number, code: string) {
    expect(res.statusCode, res.body).toBe(status);
    expectSigned(res);
    const body = json<Record<string, unknown>>(res);
    expect(Object.keys(body)).toEqual(FIELDS);
    expect(body.code).toBe(code);
    expect(body.server_time).toBe(h.clock.now.toISOString());
    return body as {
      code: string;
      message: string;
      license_key: string | null;
      state: string;
      seats: { limit: number | null; used: number } | null;
      activation: { id: number; fingerprint: string; hostname: string | null } | null;
      nonce: string;
      server_time: string;
    };
  }

  describe("seats on the license", () => {
    it("stores seats given at issue and shows them on the license and the list", async () => {
      const l = await issue({ seats: 3 });
      expect(l.seats).toBe(3);
      const got = json(
        await call({ method: "GET", url: `/v1/licenses/${l.license_key}`, headers: auth() }),
      );
      expect(got.seats).toBe(3);
      const list = json<{ licenses: { seats: number | null }[] }>(
        await call({ method: "GET", url: "/v1/licenses", headers: auth() }),
      );
      expect(list.licenses.map((x) => x.seats)).toEqual([3]);
    });

    it("gives a new license its tier's default seats from the catalogue when none is asked for", async () => {
      const app = await h.other({
        catalogue: { ...DEFAULT_CATALOGUE, seats: { pro: 4 } },
      });
      const post = (payload: Record<string, unknown>) =>
        app.inject({ method: "POST", url: "/v1/licenses", headers: auth(), payload });
      const buyer = { name: "Ada", email: "ada@example.com" };
      expect(json(await post({ ...buyer, tier: "pro" })).seats).toBe(4);
      expect(json(await post({ ...buyer, tier: "core" })).seats).toBeNull();
      expect(json(await post({ ...buyer, tier: "pro", seats: 9 })).seats).toBe(9);
      expect(json(await post({ ...buyer, tier: "pro", seats: null })).seats).toBeNull();
    });

    it("changes a license's seat limit without re-issuing, with an event; held seats stay", async () => {
      const l = await issue({ seats: 2 });
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");
      answer(await activate(l.blob, "machine-bbbb"), 201, "ACTIVATED");
      const set = (seats: unknown, key = l.license_key) =>
        call({
          method: "POST",
          url: `/v1/licenses/${key}/seats`,
          headers: auth(),
          payload: { seats },
        });
      const lowered = await set(1);
      expect(lowered.statusCode, lowered.body).toBe(200);
      expect(json(lowered)).toMatchObject({ seats: 1, blob: l.blob });
      answer(await checkIn(l.blob, "machine-bbbb"), 200, "VALID");
      const full = answer(await activate(l.blob, "machine-cccc"), 409, "SEAT_LIMIT_REACHED");
      expect(full.seats).toEqual({ limit: 1, used: 2 });
      expect(json(await set(null)).seats).toBeNull();
      answer(await activate(l.blob, "machine-cccc"), 201, "ACTIVATED");
      for (const bad of [0, 10_001, "2", 1.5]) {
        expect(errorOf(await set(bad)).code).toBe("SEATS_INVALID");
      }
      expect(errorOf(await set(3, "NO-SUCH-KEY")).code).toBe("NOT_FOUND");
      const missing = await call({
        method: "POST",
        url: `/v1/licenses/${l.license_key}/seats`,
        headers: auth(),
        payload: {},
      });
      expect(errorOf(missing).code).toBe("REQUEST_INVALID");
      const events = json<{ events: { action: string; reason: string | null }[] }>(
        await call({ method: "GET", url: `/v1/licenses/${l.license_key}/events`, headers: auth() }),
      ).events.filter((e) => e.action === "set-seats");
      expect(events.map((e) => e.reason)).toEqual(["seats 2 → 1", "seats 1 → no limit"]);
    });

    it("has no limit when seats is left out or null", async () => {
      expect((await issue()).seats).toBeNull();
      expect((await issue({ seats: null, email: "b@example.com" })).seats).toBeNull();
    });

    it("refuses seats that are not a whole number from 1 to 10,000 and stores nothing", async () => {
      for (const seats of [0, -1, 10_001, 2.5, "3", true, [], {}]) {
        const res = await call({
          method: "POST",
          url: "/v1/licenses",
          headers: auth(),
          payload: { name: "Ada", email: "ada@example.com", tier: "pro", seats },
        });
        expect(res.statusCode, JSON.stringify(seats)).toBe(400);
        expect(errorOf(res).code).toBe("SEATS_INVALID");
      }
      expect(await h.count("licenses")).toBe(0);
      expect(await h.count("events")).toBe(0);
    });

    it("keeps the seat limit on renew unless renew gives one, and refuses a bad one", async () => {
      const l = await issue({ seats: 2 });
      const renew = (payload: Record<string, unknown>, key: string) =>
        call({ method: "POST", url: `/v1/licenses/${key}/renew`, headers: auth(), payload });
      const bad = await renew({ seats: 0 }, l.license_key);
      expect(errorOf(bad).code).toBe("SEATS_INVALID");
      expect(await h.count("licenses")).toBe(1);
      const kept = json<{ license_key: string; seats: number }>(await renew({}, l.license_key));
      expect(kept.seats).toBe(2);
      const changed = json<{ seats: number }>(await renew({ seats: 7 }, kept.license_key));
      expect(changed.seats).toBe(7);
    });
  });

  describe("activations", () => {
    it("activates, repeats for free, refuses past the limit, and frees a seat on release", async () => {
      const l = await issue({ seats: 2 });
      const first = answer(
        await activate(l.blob, "machine-aaaa", { hostname: "ada-laptop" }),
        201,
        "ACTIVATED",
      );
      expect(first).toMatchObject({
        license_key: l.license_key,
        state: "active",
        seats: { limit: 2, used: 1 },
        activation: { fingerprint: "machine-aaaa", hostname: "ada-laptop" },
      });
      const again = answer(await activate(l.blob, "machine-aaaa"), 200, "ALREADY_ACTIVE");
      expect(again.seats).toEqual({ limit: 2, used: 1 });
      expect(again.activation!.id).toBe(first.activation!.id);
      answer(await activate(l.blob, "machine-bbbb"), 201, "ACTIVATED");
      const full = answer(await activate(l.blob, "machine-cccc"), 409, "SEAT_LIMIT_REACHED");
      expect(full.message).toContain("all 2 seats are taken");
      expect(full.seats).toEqual({ limit: 2, used: 2 });
      expect(full.activation).toBeNull();

      const freed = answer(await release(l.blob, "machine-aaaa"), 200, "RELEASED");
      expect(freed.seats).toEqual({ limit: 2, used: 1 });
      answer(await release(l.blob, "machine-aaaa"), 404, "NOT_ACTIVATED");
      answer(await checkIn(l.blob, "machine-aaaa"), 404, "NOT_ACTIVATED");
      answer(await activate(l.blob, "machine-cccc"), 201, "ACTIVATED");
      // The released machine may come back once a seat is free again.
      answer(await release(l.blob, "machine-bbbb"), 200, "RELEASED");
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");

      const events = json<{ events: { action: string; actor: string }[] }>(
        await call({ method: "GET", url: `/v1/licenses/${l.license_key}/events`, headers: auth() }),
      ).events.map((e) => [e.action, e.actor]);
      expect(events).toEqual([
        ["issue", "test admin"],
        ["activate", "machine"],
        ["activate", "machine"],
        ["release", "machine"],
        ["activate", "machine"],
        ["release", "machine"],
        ["activate", "machine"],
      ]);
    });

    it("records activations of a license with no limit and counts them", async () => {
      const l = await issue();
      for (const fp of ["machine-1111", "machine-2222", "machine-3333"]) {
        answer(await activate(l.blob, fp), 201, "ACTIVATED");
      }
      const last = answer(await checkIn(l.blob, "machine-3333"), 200, "VALID");
      expect(last.seats).toEqual({ limit: null, used: 3 });
    });

    it("keeps a Unicode host name as given", async () => {
      const l = await issue();
      const a = answer(
        await activate(l.blob, "machine-aaaa", { hostname: "Zoë's MacBook — 東京" }),
        201,
        "ACTIVATED",
      );
      expect(a.activation!.hostname).toBe("Zoë's MacBook — 東京");
    });

    it("echoes the nonce it was sent", async () => {
      const l = await issue();
      const res = await machine("/v1/activations", {
        blob: l.blob,
        fingerprint: "machine-aaaa",
        nonce: "my-own-nonce-0123456789",
      });
      expect(answer(res, 201, "ACTIVATED").nonce).toBe("my-own-nonce-0123456789");
    });

    it("refuses a revoked, suspended or expired license with its code and takes no seat", async () => {
      const revoked = await issue({ seats: 5 });
      const suspended = await issue({ seats: 5, email: "b@example.com" });
      for (const [l, action] of [
        [revoked, "revoke"],
        [suspended, "suspend"],
      ] as const) {
        await call({
          method: "POST",
          url: `/v1/licenses/${l.license_key}/${action}`,
          headers: auth(),
          payload: { reason: "chargeback" },
        });
      }
      const r = answer(await activate(revoked.blob, "machine-aaaa"), 403, "REVOKED");
      expect(r).toMatchObject({ state: "revoked", seats: { limit: 5, used: 0 } });
      answer(await activate(suspended.blob, "machine-aaaa"), 403, "SUSPENDED");
      const expired = await issue({ email: "c@example.com" });
      h.clock.now = new Date(START.getTime() + 400 * 86_400_000);
      const e = answer(await activate(expired.blob, "machine-aaaa"), 403, "EXPIRED");
      expect(e.state).toBe("expired");
      expect(e.server_time).toBe(h.clock.now.toISOString());
      expect(await h.count("activations")).toBe(0);
    });

    it("answers UNKNOWN for a genuine license the server does not hold", async () => {
      const minted = mintLicense(
        { name: "Ada", email: "ada@example.com", tier: "pro", years: 1 },
        signer,
        START,
      );
      const a = answer(await activate(minted.blob, "machine-aaaa"), 403, "UNKNOWN");
      expect(a).toMatchObject({
        license_key: minted.payload.license_key,
        state: "unknown",
        seats: null,
      });
      answer(await checkIn(minted.blob, "machine-aaaa"), 403, "UNKNOWN");
      answer(await release(minted.blob, "machine-aaaa"), 403, "UNKNOWN");
    });

    it("answers the blob-reading code for a blob that is not genuine", async () => {
      const l = await issue();
      const other = importSigner(Buffer.from(generateKeypair().privateKeyHex, "hex"));
      const foreign = encodeBlob(
        mintLicense({ name: "Ada", email: "ada@example.com", tier: "pro", years: 1 }, other, START)
          .payload,
        other,
      );
      const cases: [string, string][] = [
        [foreign, "KEY_UNKNOWN"],
        ["DTLIC2:nonsense", "BLOB_MALFORMED"],
        [l.blob.slice(0, -3) + (l.blob.endsWith("A") ? "BBB" : "AAA"), "SIGNATURE_INVALID"],
      ];
      for (const [blob, code] of cases) {
        for (const send of [activate, checkIn, release]) {
          const res = await send(blob, "machine-aaaa");
          expect(res.statusCode).toBe(403);
          expectSigned(res);
          const body = json(res);
          expect(body.license_key).toBeNull();
          expect(body.state).toBe("unknown");
          expect(typeof body.code).toBe("string");
          if (send === activate)
            expect([code, "BLOB_MALFORMED", "BLOB_ENCODING"]).toContain(body.code);
        }
      }
      expect(await h.count("activations")).toBe(0);
    });

    it("refreshes last_seen_at on check-in and reports the license's state", async () => {
      const l = await issue({ seats: 1 });
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");
      h.clock.now = new Date(START.getTime() + 3_600_000);
      const ok = answer(await checkIn(l.blob, "machine-aaaa"), 200, "VALID");
      expect(ok.activation).toMatchObject({
        last_seen_at: h.clock.now.toISOString(),
        first_seen_at: START.toISOString(),
      });
      answer(await checkIn(l.blob, "machine-bbbb"), 404, "NOT_ACTIVATED");
      await call({
        method: "POST",
        url: `/v1/licenses/${l.license_key}/revoke`,
        headers: auth(),
        payload: { reason: "refund" },
      });
      answer(await checkIn(l.blob, "machine-aaaa"), 403, "REVOKED");
      // Release works whatever the state.
      answer(await release(l.blob, "machine-aaaa"), 200, "RELEASED");
    });

    it(`writes last_seen_at at most once in ${LAST_SEEN_GRANULARITY_S} s: a check-in sooner answers the stored time and writes nothing`, async () => {
      const l = await issue({ seats: 1 });
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");
      const before = await storedSeat("machine-aaaa");
      h.clock.now = new Date(START.getTime() + (LAST_SEEN_GRANULARITY_S - 1) * 1000);
      const soon = answer(await checkIn(l.blob, "machine-aaaa"), 200, "VALID");
      expect(soon.activation).toMatchObject({ last_seen_at: START.toISOString() });
      expect(soon.seats).toEqual({ limit: 1, used: 1 });
      expect(await storedSeat("machine-aaaa")).toEqual(before);
      // A repeat activation within the granularity (no host name) writes nothing either.
      answer(await activate(l.blob, "machine-aaaa"), 200, "ALREADY_ACTIVE");
      expect(await storedSeat("machine-aaaa")).toEqual(before);

      h.clock.now = new Date(START.getTime() + LAST_SEEN_GRANULARITY_S * 1000);
      const later = answer(await checkIn(l.blob, "machine-aaaa"), 200, "VALID");
      expect(later.activation).toMatchObject({ last_seen_at: h.clock.now.toISOString() });
      expect((await storedSeat("machine-aaaa")).seen).toBe(h.clock.now.toISOString());
    });

    it("stores a repeat activation's new host name at once, within the granularity", async () => {
      const l = await issue({ seats: 1 });
      answer(await activate(l.blob, "machine-aaaa", { hostname: "old-name" }), 201, "ACTIVATED");
      h.clock.now = new Date(START.getTime() + 1000);
      const same = answer(
        await activate(l.blob, "machine-aaaa", { hostname: "old-name" }),
        200,
        "ALREADY_ACTIVE",
      );
      expect(same.activation).toMatchObject({ hostname: "old-name" });
      expect((await storedSeat("machine-aaaa")).seen).toBe(START.toISOString());
      const renamed = answer(
        await activate(l.blob, "machine-aaaa", { hostname: "new-name" }),
        200,
        "ALREADY_ACTIVE",
      );
      expect(renamed.activation).toMatchObject({
        hostname: "new-name",
        last_seen_at: h.clock.now.toISOString(),
      });
      expect(await storedSeat("machine-aaaa")).toMatchObject({
        host: "new-name",
        seen: h.clock.now.toISOString(),
      });
    });

    it("answers NOT_ACTIVATED at once for a seat released within the granularity", async () => {
      const l = await issue({ seats: 2 });
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");
      answer(await checkIn(l.blob, "machine-aaaa"), 200, "VALID");
      answer(await release(l.blob, "machine-aaaa"), 200, "RELEASED");
      const gone = answer(await checkIn(l.blob, "machine-aaaa"), 404, "NOT_ACTIVATED");
      expect(gone.seats).toEqual({ limit: 2, used: 0 });
    });

    it("refuses malformed requests with a signed REQUEST_INVALID and stores nothing", async () => {
      const l = await issue({ seats: 1 });
      const bad: Record<string, unknown>[] = [
        { blob: l.blob, fingerprint: "short", nonce: nonce() },
        { blob: l.blob, fingerprint: "has space in it", nonce: nonce() },
        { blob: l.blob, fingerprint: "x".repeat(129), nonce: nonce() },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: "too-short" },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: "bad nonce with spaces!!" },
        { blob: l.blob, fingerprint: "machine-aaaa" },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce(), hostname: "" },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce(), hostname: "a\u0007b" },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce(), hostname: "a\u0085b" },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce(), hostname: "h".repeat(256) },
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce(), extra: 1 },
      ];
      for (const payload of bad) {
        const res = await machine("/v1/activations", payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(errorOf(res).code).toBe("REQUEST_INVALID");
        expectSigned(res);
      }
      const checkInHostname = await machine("/v1/check-in", {
        blob: l.blob,
        fingerprint: "machine-aaaa",
        nonce: nonce(),
        hostname: "x",
      });
      expect(errorOf(checkInHostname).code).toBe("REQUEST_INVALID");
      const text = await h.app.inject({
        method: "POST",
        url: "/v1/check-in",
        headers: { "content-type": "text/plain" },
        payload: "hello",
      });
      expect(text.statusCode).toBe(415);
      expect(errorOf(text).code).toBe("MEDIA_TYPE_UNSUPPORTED");
      expectSigned(text);
      const big = await machine("/v1/activations", {
        blob: "x".repeat(20_000),
        fingerprint: "machine-aaaa",
        nonce: nonce(),
      });
      expect(big.statusCode).toBe(413);
      expectSigned(big);
      expect(await h.count("activations")).toBe(0);
      expect(await h.count("events")).toBe(1);
    });

    it("signs a rate-limited answer too", async () => {
      const limited = await h.other({ verifyRateLimit: 1 });
      const l = await issue();
      const ok = await machine(
        "/v1/check-in",
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce() },
        limited,
      );
      expect(ok.statusCode).toBe(404);
      const res = await machine(
        "/v1/check-in",
        { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce() },
        limited,
      );
      expect(res.statusCode).toBe(429);
      expect(errorOf(res).code).toBe("RATE_LIMITED");
      expectSigned(res);
    });

    it("answers 503 KEY_MISSING, unsigned, without a signing key; verify stays unsigned and works", async () => {
      const verifyOnly = await h.other({ signer: undefined });
      const l = await issue();
      for (const path of ["/v1/activations", "/v1/activations/release", "/v1/check-in"] as const) {
        const res = await machine(
          path,
          { blob: l.blob, fingerprint: "machine-aaaa", nonce: nonce() },
          verifyOnly,
        );
        expect(res.statusCode).toBe(503);
        expect(errorOf(res).code).toBe("KEY_MISSING");
        expect(res.headers["dtl-signature"]).toBeUndefined();
      }
      const list = await verifyOnly.inject({ method: "GET", url: "/v1/revocations" });
      expect(list.statusCode).toBe(503);
      expect(errorOf(list).code).toBe("KEY_MISSING");
      expect(list.headers["dtl-signature"]).toBeUndefined();
      const v = await verifyOnly.inject({
        method: "POST",
        url: "/v1/licenses/verify",
        payload: { blob: l.blob, nonce: "verify-nonce-0000001" },
      });
      expect(v.statusCode).toBe(200);
      expect(v.headers["dtl-signature"]).toBeUndefined();
      expect(json(v)).toMatchObject({ code: "VALID", nonce: "verify-nonce-0000001" });
      expect(await h.count("activations")).toBe(0);
    });
  });

  describe("verify", () => {
    it("echoes the nonce, adds the server time at the end, and signs the answer", async () => {
      const l = await issue();
      const res = await call({
        method: "POST",
        url: "/v1/licenses/verify",
        payload: { blob: l.blob, nonce: "verify-nonce-0000001" },
      });
      expect(res.statusCode).toBe(200);
      expectSigned(res);
      const body = json(res);
      expect(Object.keys(body).slice(-2)).toEqual(["nonce", "server_time"]);
      expect(body).toMatchObject({
        code: "VALID",
        nonce: "verify-nonce-0000001",
        server_time: START.toISOString(),
      });
      const without = await call({
        method: "POST",
        url: "/v1/licenses/verify",
        payload: { blob: l.blob },
      });
      expectSigned(without);
      expect(Object.keys(json(without))).not.toContain("nonce");
      const bad = await call({
        method: "POST",
        url: "/v1/licenses/verify",
        payload: { blob: l.blob, nonce: "short" },
      });
      expect(errorOf(bad).code).toBe("REQUEST_INVALID");
      expectSigned(bad);
    });
  });

  describe("revocation list", () => {
    it("lists revoked and suspended keys, sorted, with a serial that only grows", async () => {
      const empty = await call({ method: "GET", url: "/v1/revocations" });
      expect(empty.statusCode).toBe(200);
      expectSigned(empty);
      expect(empty.headers["cache-control"]).toBe("public, max-age=3600");
      expect(json(empty)).toEqual({
        serial: 0,
        issued_at: START.toISOString(),
        next_update: new Date(START.getTime() + 3_600_000).toISOString(),
        server_time: START.toISOString(),
        revoked: [],
      });
      const a = await issue({ license_key: "KEY-B" });
      const b = await issue({ license_key: "KEY-A", email: "b@example.com" });
      await issue({ license_key: "KEY-C", email: "c@example.com" });
      const change = (key: string, action: string) =>
        call({
          method: "POST",
          url: `/v1/licenses/${key}/${action}`,
          headers: auth(),
          payload: { reason: "test" },
        });
      const serials: number[] = [];
      const list = async () => {
        const res = await call({ method: "GET", url: "/v1/revocations" });
        expectSigned(res);
        const body = json<{
          serial: number;
          revoked: { license_key: string; state: string }[];
        }>(res);
        serials.push(body.serial);
        return body.revoked.map((r) => [r.license_key, r.state]);
      };
      await change(a.license_key, "revoke");
      expect(await list()).toEqual([["KEY-B", "revoked"]]);
      await change(b.license_key, "suspend");
      expect(await list()).toEqual([
        ["KEY-A", "suspended"],
        ["KEY-B", "revoked"],
      ]);
      await change(b.license_key, "reinstate");
      expect(await list()).toEqual([["KEY-B", "revoked"]]);
      // Activity that is no status change leaves the serial alone.
      answer(await activate(b.blob, "machine-aaaa"), 201, "ACTIVATED");
      expect(await list()).toEqual([["KEY-B", "revoked"]]);
      expect(serials[0]).toBeGreaterThan(0);
      expect(serials[1]!).toBeGreaterThan(serials[0]!);
      expect(serials[2]!).toBeGreaterThan(serials[1]!);
      expect(serials[3]).toBe(serials[2]);
    });
  });

  describe("admin seats", () => {
    it("lists a license's seats and releases one by id, with an event naming the admin", async () => {
      const l = await issue({ seats: 2 });
      answer(await activate(l.blob, "machine-aaaa", { hostname: "one" }), 201, "ACTIVATED");
      const second = answer(await activate(l.blob, "machine-bbbb"), 201, "ACTIVATED");
      const listed = json<{
        seats: { limit: number; used: number };
        activations: { id: number; fingerprint: string; released_at: string | null }[];
      }>(
        await call({
          method: "GET",
          url: `/v1/licenses/${l.license_key}/activations`,
          headers: auth(),
        }),
      );
      expect(listed.seats).toEqual({ limit: 2, used: 2 });
      expect(listed.activations.map((a) => a.fingerprint)).toEqual([
        "machine-bbbb",
        "machine-aaaa",
      ]);
      const freed = await call({
        method: "POST",
        url: `/v1/activations/${second.activation!.id}/release`,
        headers: auth(),
      });
      expect(freed.statusCode, freed.body).toBe(200);
      expect(json(freed)).toMatchObject({
        fingerprint: "machine-bbbb",
        released_by: "test admin",
        released_at: START.toISOString(),
      });
      const twice = await call({
        method: "POST",
        url: `/v1/activations/${second.activation!.id}/release`,
        headers: auth(),
      });
      expect(errorOf(twice).code).toBe("LICENSE_STATE_CONFLICT");
      for (const id of ["999", "abc", "0"]) {
        const res = await call({
          method: "POST",
          url: `/v1/activations/${id}/release`,
          headers: auth(),
        });
        expect(res.statusCode).toBe(404);
        expect(errorOf(res).code).toBe("NOT_FOUND");
      }
      const unknown = await call({
        method: "GET",
        url: "/v1/licenses/NO-SUCH-KEY/activations",
        headers: auth(),
      });
      expect(errorOf(unknown).code).toBe("NOT_FOUND");
      const noAuth = await call({
        method: "GET",
        url: `/v1/licenses/${l.license_key}/activations`,
      });
      expect(errorOf(noAuth).code).toBe("AUTH_MISSING");
      answer(await checkIn(l.blob, "machine-bbbb"), 404, "NOT_ACTIVATED");
      answer(await activate(l.blob, "machine-cccc"), 201, "ACTIVATED");
    });
  });

  describe("reclaim", () => {
    it("frees seats unseen for N days, each with a reclaim event, and keeps seen ones", async () => {
      const l = await issue({ seats: 2 });
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");
      answer(await activate(l.blob, "machine-bbbb"), 201, "ACTIVATED");
      h.clock.now = new Date(START.getTime() + 20 * 86_400_000);
      answer(await checkIn(l.blob, "machine-bbbb"), 200, "VALID");
      h.clock.now = new Date(START.getTime() + 31 * 86_400_000);
      const ctx = createServiceContext({ db: h.t.db, signer, ring, now: () => h.clock.now });
      expect(await reclaimUnseenSeats(ctx, 30)).toBe(1);
      expect(await reclaimUnseenSeats(ctx, 30)).toBe(0);
      answer(await checkIn(l.blob, "machine-aaaa"), 404, "NOT_ACTIVATED");
      answer(await checkIn(l.blob, "machine-bbbb"), 200, "VALID");
      const events = json<{ events: { action: string; actor: string; reason: string }[] }>(
        await call({ method: "GET", url: `/v1/licenses/${l.license_key}/events`, headers: auth() }),
      ).events.filter((e) => e.action === "reclaim");
      expect(events).toHaveLength(1);
      expect(events[0]!.actor).toBe("reclaim");
      expect(events[0]!.reason).toContain("machine-aaaa");
    });
  });

  describe("periodic reclaim", () => {
    it("runs on the server's schedule until stopped", async () => {
      const l = await issue({ seats: 1 });
      answer(await activate(l.blob, "machine-aaaa"), 201, "ACTIVATED");
      h.clock.now = new Date(START.getTime() + 8 * 86_400_000);
      const ctx = createServiceContext({ db: h.t.db, signer, ring, now: () => h.clock.now });
      const stop = startSeatReclaim(h.app, ctx, 7, { first: 5, every: 20 });
      try {
        await until(
          async () => (await h.count("activations WHERE released_at IS NOT NULL")) === 1,
          "the seat to be reclaimed",
        );
      } finally {
        stop();
      }
      expect(startSeatReclaim(h.app, ctx, undefined)).toBeTypeOf("function");
      answer(await activate(l.blob, "machine-bbbb"), 201, "ACTIVATED");
    });
  });

  describe("concurrency", () => {
    it("gives exactly N seats to concurrent activations", async () => {
      const l = await issue({ seats: 3 });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          activate(l.blob, `machine-${String(i).padStart(4, "0")}`),
        ),
      );
      const codes = results.map((r) => r.statusCode).sort();
      expect(codes.filter((c) => c === 201)).toHaveLength(3);
      expect(codes.filter((c) => c === 409)).toHaveLength(17);
      expect(await h.count("activations")).toBe(3);
    });

    it("answers concurrent check-ins of many machines, each its own seat and the exact count, in shared statements", async () => {
      const l = await issue({ seats: 12 });
      const other = await issue({ seats: 2 });
      const fp = (i: number) => `machine-${String(i).padStart(4, "0")}`;
      for (let i = 0; i < 10; i++) answer(await activate(l.blob, fp(i)), 201, "ACTIVATED");
      answer(await activate(other.blob, fp(0)), 201, "ACTIVATED");
      h.clock.now = new Date(START.getTime() + 3_600_000);
      // Each machine twice, machines that hold no seat, and the other license's seat, together.
      const sent = [
        ...Array.from({ length: 10 }, (_, i) => [l.blob, fp(i)] as const),
        ...Array.from({ length: 10 }, (_, i) => [l.blob, fp(i)] as const),
        [l.blob, fp(50)] as const,
        [other.blob, fp(0)] as const,
        [other.blob, fp(1)] as const,
      ];
      const results = await Promise.all(sent.map(([blob, f]) => checkIn(blob, f)));
      results.forEach((res, i) => {
        const [blob, f] = sent[i]!;
        const held = f !== fp(50) && !(blob === other.blob && f === fp(1));
        const body = answer(res, held ? 200 : 404, held ? "VALID" : "NOT_ACTIVATED");
        expect(body.license_key).toBe(blob === l.blob ? l.license_key : other.license_key);
        expect(body.seats).toEqual(
          blob === l.blob ? { limit: 12, used: 10 } : { limit: 2, used: 1 },
        );
        if (held) {
          expect(body.activation).toMatchObject({
            fingerprint: f,
            last_seen_at: h.clock.now.toISOString(),
          });
        }
      });
      for (let i = 0; i < 10; i++) {
        expect((await storedSeat(fp(i), l.license_key)).seen).toBe(h.clock.now.toISOString());
      }
    });
  });
});
