/**
 * The store endpoints: the Stripe and Lemon Squeezy webhooks (signature
 * checked on the raw body before anything is parsed or stored), the list of
 * stored webhook events with replay, and re-delivery of a license e-mail.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  currentProducts,
  DEFAULT_DELIVERY,
  NO_PRODUCTS,
  type SalesConfig,
} from "../config/sales.js";
import {
  lemonSqueezyEventId,
  listStoreEvents,
  queueDelivery,
  receiveStoreEvent,
  replayStoreEvent,
  type EventOutcome,
  type StoreEvent,
} from "../service/sales.js";
import { requireAdmin } from "./auth.js";
import type { ServerContext } from "./context.js";
import { ApiError } from "./errors.js";
import { ADMIN, TAGS } from "./openapi.js";
import {
  DeliveryRecord,
  KeyParams,
  WebhookAnswer,
  WebhookEventList,
  WebhookEventParams,
  WebhookEventRecord,
  WebhookEventsQuery,
  errorResponses,
} from "./schemas.js";

/** The largest webhook body taken (Stripe's and Lemon Squeezy's events are a few KiB). */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;

const refuse = (message: string) => new ApiError("WEBHOOK_SIGNATURE_INVALID", message);

/** The raw body as text, or WEBHOOK_PAYLOAD_INVALID. */
function rawText(req: FastifyRequest): Buffer {
  if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
    throw new ApiError("WEBHOOK_PAYLOAD_INVALID", "the webhook request has no body");
  }
  return req.body;
}

function parseJson(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new ApiError("WEBHOOK_PAYLOAD_INVALID", "the webhook body is not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiError("WEBHOOK_PAYLOAD_INVALID", "the webhook body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Checks a Stripe-Signature header with the official package, loaded only when needed. */
async function stripeEvent(
  raw: Buffer,
  header: string | undefined,
  secret: string,
  now: Date,
): Promise<StoreEvent> {
  if (!header) throw refuse("the Stripe-Signature header is missing");
  const { default: Stripe } = await import("stripe");
  let event: unknown;
  try {
    event = Stripe.webhooks.constructEvent(
      raw,
      header,
      secret,
      Stripe.webhooks.DEFAULT_TOLERANCE,
      undefined,
      now.getTime(),
    );
  } catch (err) {
    if ((err as { type?: unknown }).type !== "StripeSignatureVerificationError") {
      throw new ApiError("WEBHOOK_PAYLOAD_INVALID", "the webhook body is not JSON");
    }
    throw refuse(
      `the Stripe-Signature does not verify (${(err as Error).message.split("\n")[0]!.slice(0, 200)}); check STRIPE_WEBHOOK_SECRET(_FILE) against the endpoint's signing secret`,
    );
  }
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    throw new ApiError("WEBHOOK_PAYLOAD_INVALID", "the webhook body is not a JSON object");
  }
  const body = event as Record<string, unknown>;
  if (typeof body.id !== "string" || typeof body.type !== "string" || body.id === "") {
    throw new ApiError("WEBHOOK_PAYLOAD_INVALID", "the Stripe event has no id or type");
  }
  return { provider: "stripe", id: body.id, type: body.type, payload: body };
}

/** Checks an X-Signature header: the hex HMAC-SHA256 of the raw body, compared in constant time. */
function lemonSqueezyEvent(raw: Buffer, header: string | undefined, secret: string): StoreEvent {
  if (!header) throw refuse("the X-Signature header is missing");
  const expected = createHmac("sha256", secret).update(raw).digest();
  const given = /^[0-9a-fA-F]{64}$/.test(header.trim())
    ? Buffer.from(header.trim(), "hex")
    : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw refuse(
      "the X-Signature does not match the body; check LEMONSQUEEZY_WEBHOOK_SECRET(_FILE) against the webhook's signing secret",
    );
  }
  const body = parseJson(raw);
  const ids = lemonSqueezyEventId(body);
  if (!ids) {
    throw new ApiError(
      "WEBHOOK_PAYLOAD_INVALID",
      "the Lemon Squeezy event has no meta.event_name or data.id",
    );
  }
  return { provider: "lemonsqueezy", id: ids.id, type: ids.type, payload: body };
}

function answer(o: EventOutcome) {
  return {
    received: true as const,
    duplicate: o.duplicate,
    status: o.event.status,
    reason: o.event.reason,
    license_key: o.event.license_key,
  };
}

/**
 * The webhooks take the raw bytes (the signature is over them), so they live
 * in their own plugin whose only body parser keeps the body as a Buffer.
 */
function registerWebhooks(app: FastifyInstance, ctx: ServerContext, sales: SalesConfig): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
    const r = scope.withTypeProvider<TypeBoxTypeProvider>();
    const common = {
      tags: [TAGS.sales],
      response: { 200: WebhookAnswer, ...errorResponses(400, 413, 503) },
    };
    // The products file is read again for each event (a broken one answers 500 and stores
    // nothing, so the store retries), so a product added to it needs no restart.
    const handled = (e: StoreEvent, req: FastifyRequest) =>
      receiveStoreEvent(ctx.service, currentProducts(sales), e, String(req.id));
    const logged = (req: FastifyRequest, o: EventOutcome) => {
      req.log.info(
        {
          provider: o.event.provider,
          event_id: o.event.event_id,
          type: o.event.type,
          status: o.event.status,
          duplicate: o.duplicate,
          ...(o.event.reason ? { reason: o.event.reason } : {}),
          ...(o.event.license_key ? { license_key: o.event.license_key } : {}),
        },
        "store webhook",
      );
      return answer(o);
    };

    r.post(
      "/v1/webhooks/stripe",
      {
        schema: {
          ...common,
          summary: "Stripe webhook",
          description:
            "Checked against STRIPE_WEBHOOK_SECRET on the raw body (Stripe-Signature, default 300 s tolerance); each event id takes effect once.",
        },
        bodyLimit: WEBHOOK_BODY_LIMIT,
      },
      async (req) => {
        if (!sales.stripeSecret) {
          throw new ApiError(
            "WEBHOOK_NOT_CONFIGURED",
            "STRIPE_WEBHOOK_SECRET(_FILE) is not configured on this server",
          );
        }
        const header = req.headers["stripe-signature"];
        const e = await stripeEvent(
          rawText(req),
          typeof header === "string" ? header : undefined,
          sales.stripeSecret,
          ctx.service.now(),
        );
        return logged(req, await handled(e, req));
      },
    );

    r.post(
      "/v1/webhooks/lemonsqueezy",
      {
        schema: {
          ...common,
          summary: "Lemon Squeezy webhook",
          description:
            "X-Signature is the hex HMAC-SHA256 of the raw body under LEMONSQUEEZY_WEBHOOK_SECRET; each event (name and order id) takes effect once.",
        },
        bodyLimit: WEBHOOK_BODY_LIMIT,
      },
      async (req) => {
        if (!sales.lemonSqueezySecret) {
          throw new ApiError(
            "WEBHOOK_NOT_CONFIGURED",
            "LEMONSQUEEZY_WEBHOOK_SECRET(_FILE) is not configured on this server",
          );
        }
        const header = req.headers["x-signature"];
        const e = lemonSqueezyEvent(
          rawText(req),
          typeof header === "string" ? header : undefined,
          sales.lemonSqueezySecret,
        );
        return logged(req, await handled(e, req));
      },
    );
  });
}

function wholeNumber(value: string, name: string, min: number, max: number): number {
  const n = /^[0-9]{1,12}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ApiError("REQUEST_INVALID", `${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function registerSalesRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  sales: SalesConfig | undefined,
): void {
  const config: SalesConfig = sales ?? {
    products: NO_PRODUCTS,
    productsFile: undefined,
    stripeSecret: undefined,
    lemonSqueezySecret: undefined,
    smtp: undefined,
    mailFrom: undefined,
    templatesDir: undefined,
    templates: {},
    delivery: DEFAULT_DELIVERY,
  };
  registerWebhooks(app, ctx, config);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = requireAdmin(ctx);

  r.get(
    "/v1/webhooks/events",
    {
      schema: {
        tags: [TAGS.sales],
        summary: "List stored webhook events",
        description: "Newest first; `status=ignored` lists the events to fix and replay.",
        security: ADMIN,
        querystring: WebhookEventsQuery,
        response: { 200: WebhookEventList, ...errorResponses(400, 401) },
      },
      onRequest,
    },
    async (req) => ({
      events: await listStoreEvents(ctx.service, {
        ...(req.query.status !== undefined ? { status: req.query.status } : {}),
        limit: req.query.limit === undefined ? 100 : wholeNumber(req.query.limit, "limit", 1, 500),
      }),
    }),
  );

  r.post(
    "/v1/webhooks/events/:id/replay",
    {
      schema: {
        tags: [TAGS.sales],
        summary: "Replay an ignored webhook event",
        description:
          "Handles the stored event again with the products file as it is now, read and checked again (e.g. after adding a missing product; no restart). A broken products file answers 500 CONFIG_INVALID naming the line or field (FILE_UNREADABLE when it cannot be read) and changes nothing.",
        security: ADMIN,
        params: WebhookEventParams,
        response: { 200: WebhookEventRecord, ...errorResponses(400, 401, 404, 409, 503) },
      },
      onRequest,
      config: { emptyBodyIsObject: true },
    },
    async (req) => {
      const id = wholeNumber(req.params.id, "id", 1, Number.MAX_SAFE_INTEGER);
      return replayStoreEvent(ctx.service, currentProducts(config), id, {
        actor: req.actor,
        requestId: String(req.id),
      });
    },
  );

  r.post(
    "/v1/licenses/:key/deliver",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Queue the license e-mail again",
        description:
          "Queues another e-mail of the stored blob (never re-signed) to the license's e-mail address.",
        security: ADMIN,
        params: KeyParams,
        response: { 202: DeliveryRecord, ...errorResponses(401, 404) },
      },
      onRequest,
      config: { emptyBodyIsObject: true },
    },
    async (req, reply) =>
      reply.code(202).send(
        await queueDelivery(ctx.service, req.params.key, {
          actor: req.actor,
          requestId: String(req.id),
        }),
      ),
  );
}
