// The store webhooks through the HTTP app, on each backend: signatures, exactly-once,
// what each event does, what is refused (and that nothing is then stored).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHarness, errorOf, json, START, type Harness } from "../server/harness.js";
import { backendNames } from "../store/databases.js";
import {
  LS_SECRET,
  PRODUCTS,
  SALES,
  chargeRefunded,
  checkoutCompleted,
  dispute,
  lsOrder,
  signLemonSqueezy,
  signStripe,
} from "./fixtures.js";

interface Answer {
  received: true;
  duplicate: boolean;
  status: "processed" | "ignored";
  reason: string | null;
  license_key: string | null;
}

describe.each(backendNames())("the store webhooks on %s", (backend) => {
  let h: Harness;
  let app: FastifyInstance;
  beforeAll(async () => {
    h = await createHarness(backend);
    app = await h.other({ sales: SALES });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  /** Sends a signed Stripe event to `to` (default: the suite's app). */
  const stripe = (event: unknown, at = START, secret?: string, to = app) => {
    const { payload, header } = signStripe(event, at, secret);
    return to.inject({
      method: "POST",
      url: "/v1/webhooks/stripe",
      headers: { "content-type": "application/json", "stripe-signature": header },
      payload,
    });
  };
  const lemon = (event: unknown, secret?: string) => {
    const { payload, header } = signLemonSqueezy(event, secret);
    return app.inject({
      method: "POST",
      url: "/v1/webhooks/lemonsqueezy",
      headers: { "content-type": "application/json", "x-signature": header },
      payload,
    });
  };
  const admin = (method: "GET" | "POST", url: string) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${h.token}` } });
  const stored = async () => ({
    licenses: await h.count("licenses"),
    events: await h.count("webhook_events"),
    outbox: await h.count("outbox"),
  });

  it("issues a license for a paid Stripe checkout, with its sale, outbox row and the webhook as actor", async () => {
    const event = checkoutCompleted({ paymentIntent: "pi_happy" });
    const res = await stripe(event);
    expect(res.statusCode).toBe(200);
    const a = json<Answer>(res);
    expect(a).toMatchObject({ duplicate: false, status: "processed", reason: null });
    const license = json(await admin("GET", `/v1/licenses/${a.license_key}`));
    expect(license).toMatchObject({
      name: "Ada Lovelace",
      email: "ada@example.com",
      tier: "core",
      source: "stripe",
      sale: { provider: "stripe", reference: "pi_happy", event_id: event.id, product: "core-1y" },
      delivery: { status: "queued", attempts: 0, sent_at: null },
    });
    const events = json<{ events: { actor: string; action: string }[] }>(
      await admin("GET", `/v1/licenses/${a.license_key}/events`),
    ).events;
    expect(events).toEqual([expect.objectContaining({ action: "issue", actor: "webhook:stripe" })]);
    expect(await stored()).toEqual({ licenses: 1, events: 1, outbox: 1 });
  });

  it("looks the product up by payment link when the session has no dtl_product", async () => {
    const a = json<Answer>(
      await stripe(checkoutCompleted({ product: null, paymentLink: "plink_1Abc" })),
    );
    const license = json(await admin("GET", `/v1/licenses/${a.license_key}`));
    expect(license).toMatchObject({ tier: "pro" });
  });

  it("answers a redelivered event 200 and issues nothing new", async () => {
    const event = checkoutCompleted();
    const first = json<Answer>(await stripe(event));
    const again = await stripe(event);
    expect(again.statusCode).toBe(200);
    expect(json<Answer>(again)).toMatchObject({ duplicate: true, license_key: first.license_key });
    expect(await stored()).toEqual({ licenses: 1, events: 1, outbox: 1 });
  });

  it("issues once when the same event arrives ten times at once", async () => {
    const event = checkoutCompleted();
    const answers = await Promise.all(Array.from({ length: 10 }, () => stripe(event)));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((r) => json<Answer>(r).license_key)).size).toBe(1);
    expect(await stored()).toEqual({ licenses: 1, events: 1, outbox: 1 });
  });

  it("revokes on a full refund, so verify says REVOKED; a partial refund changes nothing", async () => {
    const sold = json<Answer>(await stripe(checkoutCompleted({ paymentIntent: "pi_refund" })));
    const partial = json<Answer>(await stripe(chargeRefunded("pi_refund", true)));
    expect(partial).toMatchObject({
      status: "ignored",
      reason: expect.stringContaining("partial"),
    });
    const refund = chargeRefunded("pi_refund");
    const full = json<Answer>(await stripe(refund));
    expect(full).toMatchObject({ status: "processed", license_key: sold.license_key });
    const license = json<{ blob: string; status: string; status_reason: string }>(
      await admin("GET", `/v1/licenses/${sold.license_key}`),
    );
    expect(license.status).toBe("revoked");
    expect(license.status_reason).toContain(refund.id);
    const verify = await app.inject({
      method: "POST",
      url: "/v1/licenses/verify",
      headers: { "content-type": "application/json" },
      payload: { blob: license.blob },
    });
    expect(json(verify)).toMatchObject({ code: "REVOKED" });
  });

  it("suspends on a dispute, reinstates when it is won and revokes when it is lost", async () => {
    const won = json<Answer>(await stripe(checkoutCompleted({ paymentIntent: "pi_won" })));
    const lost = json<Answer>(await stripe(checkoutCompleted({ paymentIntent: "pi_lost" })));
    const status = async (key: string | null) =>
      json<{ status: string }>(await admin("GET", `/v1/licenses/${key}`)).status;
    await stripe(dispute("charge.dispute.created", "pi_won"));
    await stripe(dispute("charge.dispute.created", "pi_lost"));
    expect(await status(won.license_key)).toBe("suspended");
    expect(await status(lost.license_key)).toBe("suspended");
    await stripe(dispute("charge.dispute.closed", "pi_won", "won"));
    await stripe(dispute("charge.dispute.closed", "pi_lost", "lost"));
    expect(await status(won.license_key)).toBe("active");
    expect(await status(lost.license_key)).toBe("revoked");
  });

  it("keeps events it cannot act on as ignored with the reason, and replays one after the fix", async () => {
    const cases = [
      checkoutCompleted({ product: "unknown-product" }),
      checkoutCompleted({ email: null }),
      checkoutCompleted({ name: "Eve \u202eecilA" }),
      chargeRefunded("pi_never_sold"),
      { id: "evt_other", object: "event", type: "customer.created", data: { object: {} } },
    ];
    for (const event of cases) {
      const res = await stripe(event);
      expect(res.statusCode).toBe(200);
      expect(json<Answer>(res)).toMatchObject({ status: "ignored", license_key: null });
    }
    expect(await h.count("licenses")).toBe(0);
    const listed = json<{ events: { id: number; reason: string; event_id: string }[] }>(
      await admin("GET", "/v1/webhooks/events?status=ignored"),
    ).events;
    expect(listed).toHaveLength(cases.length);
    const unknown = listed.find((e) => e.event_id === cases[0]!.id)!;
    expect(unknown.reason).toContain("unknown product unknown-product");
    expect(listed.find((e) => e.event_id === cases[2]!.id)!.reason).toContain("name");

    // Another server process, configured with the product, replays it too.
    const fixed = await h.other({
      sales: {
        ...SALES,
        products: { ...SALES.products, stripe: { "unknown-product": { tier: "pro", years: 1 } } },
      },
    });
    const replay = await fixed.inject({
      method: "POST",
      url: `/v1/webhooks/events/${unknown.id}/replay`,
      headers: { authorization: `Bearer ${h.token}` },
    });
    expect(replay.statusCode).toBe(200);
    expect(json(replay)).toMatchObject({ status: "processed", license_key: expect.any(String) });
    expect(await h.count("licenses")).toBe(1);
    expect(await h.count("outbox")).toBe(1);
    const twice = await fixed.inject({
      method: "POST",
      url: `/v1/webhooks/events/${unknown.id}/replay`,
      headers: { authorization: `Bearer ${h.token}` },
    });
    expect(twice.statusCode).toBe(409);
    expect(errorOf(twice).code).toBe("WEBHOOK_EVENT_PROCESSED");
  });

  it("reads the products file again for a replay and for new events, so the fix needs no restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dtl-products-"));
    const file = join(dir, "products.json");
    writeFileSync(file, JSON.stringify(PRODUCTS));
    // One server, started with the file; it is never rebuilt below.
    const live = await h.other({ sales: { ...SALES, productsFile: file } });
    const post = (event: unknown) => stripe(event, START, undefined, live);
    const replay = (id: number) =>
      live.inject({
        method: "POST",
        url: `/v1/webhooks/events/${id}/replay`,
        headers: { authorization: `Bearer ${h.token}` },
      });
    const first = json<Answer>(await post(checkoutCompleted({ product: "core-2y" })));
    expect(first).toMatchObject({ status: "ignored" });
    expect(first.reason).toBe(
      "unknown product core-2y: add it to the stripe products (DATATOOLS_PRODUCTS_FILE), then replay this event",
    );
    const [ignored] = json<{ events: { id: number }[] }>(
      await admin("GET", "/v1/webhooks/events?status=ignored"),
    ).events;
    expect(await stored()).toEqual({ licenses: 0, events: 1, outbox: 0 });

    writeFileSync(file, JSON.stringify({ stripe: { "core-2y": { tier: "core", years: 2 } } }));
    const replayed = await replay(ignored!.id);
    expect(replayed.statusCode).toBe(200);
    expect(json(replayed)).toMatchObject({ status: "processed", license_key: expect.any(String) });
    const license = json<{ tier: string; expires_at: string }>(
      await admin("GET", `/v1/licenses/${json<{ license_key: string }>(replayed).license_key}`),
    );
    expect(license.tier).toBe("core");
    // A new sale of the product added to the file is issued as well, by the same server.
    expect(json<Answer>(await post(checkoutCompleted({ product: "core-2y" })))).toMatchObject({
      status: "processed",
    });
    // A product removed from the file is unknown again at once.
    expect(json<Answer>(await post(checkoutCompleted({ product: "core-1y" })))).toMatchObject({
      status: "ignored",
      reason: expect.stringContaining("unknown product core-1y"),
    });
    expect(await stored()).toEqual({ licenses: 2, events: 3, outbox: 2 });
  });

  it("refuses a replay while the products file is broken, naming the line or field, and changes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dtl-products-"));
    const file = join(dir, "products.json");
    writeFileSync(file, "{}");
    const live = await h.other({ sales: { ...SALES, productsFile: file } });
    const { payload, header } = signStripe(checkoutCompleted({ product: "core-2y" }), START);
    const post = () =>
      live.inject({
        method: "POST",
        url: "/v1/webhooks/stripe",
        headers: { "content-type": "application/json", "stripe-signature": header },
        payload,
      });
    expect(json<Answer>(await post())).toMatchObject({ status: "ignored" });
    const [ignored] = json<{ events: { id: number; reason: string; updated_at: string }[] }>(
      await admin("GET", "/v1/webhooks/events?status=ignored"),
    ).events;
    const before = await stored();
    const broken = [
      {
        text: '{"stripe": {"core-2y": {"tier": "core", "years": 2},}}',
        code: "CONFIG_INVALID",
        says: /DATATOOLS_PRODUCTS_FILE \(.*products\.json\): is not valid JSON at line 1, column/,
      },
      {
        text: '{\n  "stripe": {\n    "core-2y": {"tier": "gold", "years": 2}\n  }\n}\n',
        code: "CONFIG_INVALID",
        says: /stripe\["core-2y"\]\.tier must be one of lite, core, pro/,
      },
      {
        text: '{"stripe": {"core-2y": {"tier": "core", "years": 0}}}',
        code: "CONFIG_INVALID",
        says: /stripe\["core-2y"\]\.years must be a whole number from 1 to/,
      },
      {
        text: undefined,
        code: "FILE_UNREADABLE",
        says: /DATATOOLS_PRODUCTS_FILE \(.*\): cannot read it/,
      },
    ];
    for (const b of broken) {
      if (b.text === undefined) rmSync(file);
      else writeFileSync(file, b.text);
      const res = await live.inject({
        method: "POST",
        url: `/v1/webhooks/events/${ignored!.id}/replay`,
        headers: { authorization: `Bearer ${h.token}` },
      });
      expect(res.statusCode, b.code).toBe(500);
      expect(errorOf(res).code).toBe(b.code);
      expect(errorOf(res).message).toMatch(b.says);
      expect(await stored()).toEqual(before);
      // A webhook meanwhile is refused too (the store retries it) and stores nothing.
      const other = checkoutCompleted({ product: "core-2y" });
      const signed = signStripe(other, START);
      const refused = await live.inject({
        method: "POST",
        url: "/v1/webhooks/stripe",
        headers: { "content-type": "application/json", "stripe-signature": signed.header },
        payload: signed.payload,
      });
      expect(refused.statusCode).toBe(500);
      expect(errorOf(refused).code).toBe(b.code);
      expect(await stored()).toEqual(before);
    }
    const still = json<{ events: { id: number; reason: string; updated_at: string }[] }>(
      await admin("GET", "/v1/webhooks/events?status=ignored"),
    ).events;
    expect(still).toEqual([ignored]);
    // Fixed, the same event replays.
    writeFileSync(file, JSON.stringify({ stripe: { "core-2y": { tier: "core", years: 2 } } }));
    const res = await live.inject({
      method: "POST",
      url: `/v1/webhooks/events/${ignored!.id}/replay`,
      headers: { authorization: `Bearer ${h.token}` },
    });
    expect(json(res)).toMatchObject({ status: "processed" });
  });

  it("signs a name with line breaks as one line, so it can reach no e-mail header", async () => {
    const a = json<Answer>(
      await stripe(checkoutCompleted({ name: "Eve\r\nBcc: all@example.com" })),
    );
    const license = json<{ name: string }>(await admin("GET", `/v1/licenses/${a.license_key}`));
    expect(license.name).toBe("Eve Bcc: all@example.com");
  });

  it("issues for a paid Lemon Squeezy order and revokes it on refund", async () => {
    const order = lsOrder("order_created", { order: "777" });
    const res = await lemon(order);
    expect(res.statusCode).toBe(200);
    const a = json<Answer>(res);
    expect(a.status).toBe("processed");
    const license = json(await admin("GET", `/v1/licenses/${a.license_key}`));
    expect(license).toMatchObject({
      name: "Grace Hopper",
      tier: "lite",
      source: "lemonsqueezy",
      sale: { provider: "lemonsqueezy", reference: "777", event_id: "order_created:777" },
    });
    expect(json<Answer>(await lemon(order))).toMatchObject({ duplicate: true });
    const refund = json<Answer>(await lemon(lsOrder("order_refunded", { order: "777" })));
    expect(refund).toMatchObject({ status: "processed", license_key: a.license_key });
    expect(json(await admin("GET", `/v1/licenses/${a.license_key}`))).toMatchObject({
      status: "revoked",
    });
  });

  it("refuses a forged, stale, wrongly keyed, missing, non-JSON or oversized request and stores nothing", async () => {
    const event = checkoutCompleted();
    const { payload, header } = signStripe(event, START);
    const forged = JSON.stringify({
      ...event,
      type: "checkout.session.completed",
      id: "evt_forged",
    });
    const post = (url: string, headers: Record<string, string>, body: string) =>
      app.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/json", ...headers },
        payload: body,
      });
    const refusals: [string, Promise<LightMyRequestResponse>, number, string][] = [
      [
        "forged body",
        post("/v1/webhooks/stripe", { "stripe-signature": header }, forged),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
      [
        "stale timestamp",
        stripe(event, new Date(START.getTime() - 301_000)),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
      [
        "wrong secret",
        stripe(event, START, "whsec_someone_elses_secret_0000"),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
      ["no signature", post("/v1/webhooks/stripe", {}, payload), 400, "WEBHOOK_SIGNATURE_INVALID"],
      [
        "non-JSON",
        post(
          "/v1/webhooks/stripe",
          { "stripe-signature": signStripe("x", START).header.replace(/^/, "") },
          "not json",
        ),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
      ["oversized", stripe({ ...event, pad: "x".repeat(300 * 1024) }), 413, "REQUEST_TOO_LARGE"],
      [
        "LS wrong secret",
        lemon(lsOrder("order_created"), "not-the-secret-at-all"),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
      [
        "LS no signature",
        post("/v1/webhooks/lemonsqueezy", {}, JSON.stringify(lsOrder("order_created"))),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
      [
        "LS forged",
        post(
          "/v1/webhooks/lemonsqueezy",
          { "x-signature": signLemonSqueezy(lsOrder("order_created")).header },
          JSON.stringify(lsOrder("order_created", { order: "1" })),
        ),
        400,
        "WEBHOOK_SIGNATURE_INVALID",
      ],
    ];
    for (const [what, pending, status, code] of refusals) {
      const res = await pending;
      expect(res.statusCode, what).toBe(status);
      expect(errorOf(res).code, what).toBe(code);
    }
    // A body that is correctly signed but not JSON is refused as such.
    const text = "definitely not json";
    const signed = (await import("stripe")).default.webhooks.generateTestHeaderString({
      payload: text,
      secret: SALES.stripeSecret!,
      timestamp: Math.floor(START.getTime() / 1000),
    });
    const nonJson = await post("/v1/webhooks/stripe", { "stripe-signature": signed }, text);
    expect(nonJson.statusCode).toBe(400);
    expect(errorOf(nonJson).code).toBe("WEBHOOK_PAYLOAD_INVALID");
    const lsText = await post(
      "/v1/webhooks/lemonsqueezy",
      {
        "x-signature": (await import("node:crypto"))
          .createHmac("sha256", LS_SECRET)
          .update(text)
          .digest("hex"),
      },
      text,
    );
    expect(errorOf(lsText).code).toBe("WEBHOOK_PAYLOAD_INVALID");
    expect(await stored()).toEqual({ licenses: 0, events: 0, outbox: 0 });
  });

  it("refuses every event when no secret is configured", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/webhooks/stripe",
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" },
      payload: "{}",
    });
    expect(res.statusCode).toBe(503);
    expect(errorOf(res).code).toBe("WEBHOOK_NOT_CONFIGURED");
    expect(await h.count("webhook_events")).toBe(0);
  });

  it("queues a re-delivery of the stored blob", async () => {
    const a = json<Answer>(await stripe(checkoutCompleted()));
    const res = await admin("POST", `/v1/licenses/${a.license_key}/deliver`);
    expect(res.statusCode).toBe(202);
    expect(json(res)).toMatchObject({ status: "queued" });
    expect(await h.count("outbox")).toBe(2);
    const missing = await admin("POST", "/v1/licenses/DT1-NOPE/deliver");
    expect(errorOf(missing).code).toBe("NOT_FOUND");
  });
});
