/**
 * Store sales: what a verified payment-provider event does. A paid order
 * issues a license (through the one issue workflow) with its sale record and
 * an outbox row for the e-mail; a full refund revokes, a dispute suspends and
 * its outcome reinstates or revokes. Each provider event takes effect once:
 * its row is claimed in the same transaction as its effects, so a redelivery,
 * also one racing on another server process, finds it done and does nothing.
 * An event that cannot take effect (unknown product, no e-mail, unknown
 * payment) is kept as `ignored` with the reason, to be replayed once fixed.
 */
import { isLicenseError, LicenseError } from "../core/errors.js";
import type { Products } from "../config/sales.js";
import type { Queryable } from "../store/db.js";
import {
  getLicense as getStored,
  insertEvent,
  type Actor,
  type LicenseRecord,
} from "../store/licenses.js";
import {
  claimWebhookEvent,
  enqueueDelivery,
  findSaleLicense,
  findWebhookEvent,
  getSale,
  getWebhookEvent,
  insertSale,
  latestDelivery,
  listWebhookEvents as listStored,
  settleWebhookEvent,
  type Delivery,
  type Provider,
  type Sale,
  type WebhookEvent,
  type WebhookStatus,
} from "../store/sales.js";
import type { ServiceContext } from "./context.js";
import { changeLicenseStatusIn, issueLicenseIn, type StatusChange } from "./licenses.js";

export { DELIVERY_STATUSES, PROVIDERS, WEBHOOK_STATUSES } from "../store/sales.js";
export type { Delivery, Provider, Sale, WebhookEvent, WebhookStatus } from "../store/sales.js";

/** A provider event whose signature was checked: its id, type and parsed body. */
export interface StoreEvent {
  readonly provider: Provider;
  readonly id: string;
  readonly type: string;
  readonly payload: unknown;
}

/** What an event asks for, read from its payload. */
export type SaleAction =
  | {
      readonly kind: "issue";
      readonly reference: string;
      readonly product: string;
      readonly name: string;
      readonly email: string;
    }
  | { readonly kind: StatusChange; readonly reference: string; readonly reason: string }
  | { readonly kind: "ignore"; readonly reason: string };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {};
const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? v : typeof v === "number" ? String(v) : undefined;

/** The action of a Stripe event (https://docs.stripe.com/api/events/types). */
export function stripeAction(type: string, id: string, payload: unknown): SaleAction {
  const o = obj(obj(obj(payload).data).object);
  const paymentIntent = str(o.payment_intent);
  switch (type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded": {
      if (o.payment_status !== "paid") {
        return {
          kind: "ignore",
          reason: `payment_status is ${String(o.payment_status)}; the license is issued when checkout.session.async_payment_succeeded arrives`,
        };
      }
      const product = str(obj(o.metadata).dtl_product) ?? str(o.payment_link);
      if (!product) {
        return {
          kind: "ignore",
          reason:
            "the session has neither metadata.dtl_product nor a payment_link to look up in the products file",
        };
      }
      const buyer = obj(o.customer_details);
      const email = str(buyer.email);
      if (!email) return { kind: "ignore", reason: "the session has no customer_details.email" };
      return {
        kind: "issue",
        reference: paymentIntent ?? str(o.id) ?? id,
        product,
        name: str(buyer.name) ?? email,
        email,
      };
    }
    case "charge.refunded": {
      if (!paymentIntent) return { kind: "ignore", reason: "the charge has no payment_intent" };
      const full = o.refunded === true;
      if (!full) {
        return {
          kind: "ignore",
          reason: `partial refund (${String(o.amount_refunded)} of ${String(o.amount)}); the license is unchanged`,
        };
      }
      return {
        kind: "revoke",
        reference: paymentIntent,
        reason: `refunded in full (stripe ${type} ${id})`,
      };
    }
    case "charge.dispute.created":
      if (!paymentIntent) return { kind: "ignore", reason: "the dispute has no payment_intent" };
      return {
        kind: "suspend",
        reference: paymentIntent,
        reason: `payment disputed (stripe ${type} ${id})`,
      };
    case "charge.dispute.closed": {
      if (!paymentIntent) return { kind: "ignore", reason: "the dispute has no payment_intent" };
      if (o.status === "won") {
        return {
          kind: "reinstate",
          reference: paymentIntent,
          reason: `dispute won (stripe ${type} ${id})`,
        };
      }
      if (o.status === "lost") {
        return {
          kind: "revoke",
          reference: paymentIntent,
          reason: `dispute lost (stripe ${type} ${id})`,
        };
      }
      return {
        kind: "ignore",
        reason: `dispute closed with status ${String(o.status)}; the license is unchanged`,
      };
    }
    default:
      return { kind: "ignore", reason: `stripe events of type ${type} are not handled` };
  }
}

/** The event id of a Lemon Squeezy webhook (its body carries none): the event name and the order id. */
export function lemonSqueezyEventId(payload: unknown): { id: string; type: string } | undefined {
  const type = str(obj(obj(payload).meta).event_name);
  const order = str(obj(obj(payload).data).id);
  return type && order ? { id: `${type}:${order}`, type } : undefined;
}

/** The action of a Lemon Squeezy event (https://docs.lemonsqueezy.com/help/webhooks). */
export function lemonSqueezyAction(type: string, id: string, payload: unknown): SaleAction {
  const data = obj(obj(payload).data);
  const a = obj(data.attributes);
  const order = str(data.id);
  if (!order) return { kind: "ignore", reason: "the event has no data.id (order id)" };
  switch (type) {
    case "order_created": {
      if (a.status !== "paid") {
        return { kind: "ignore", reason: `the order's status is ${String(a.status)}, not paid` };
      }
      const product = str(obj(a.first_order_item).variant_id);
      if (!product)
        return { kind: "ignore", reason: "the order has no first_order_item.variant_id" };
      const email = str(a.user_email);
      if (!email) return { kind: "ignore", reason: "the order has no user_email" };
      return { kind: "issue", reference: order, product, name: str(a.user_name) ?? email, email };
    }
    case "order_refunded":
      if (a.status === "partial_refund") {
        return { kind: "ignore", reason: "partial refund; the license is unchanged" };
      }
      return {
        kind: "revoke",
        reference: order,
        reason: `order refunded (lemonsqueezy ${type} ${id})`,
      };
    default:
      return { kind: "ignore", reason: `lemonsqueezy events of type ${type} are not handled` };
  }
}

function actionOf(e: StoreEvent): SaleAction {
  return e.provider === "stripe"
    ? stripeAction(e.type, e.id, e.payload)
    : lemonSqueezyAction(e.type, e.id, e.payload);
}

/** What handling an event came to. */
export interface EventOutcome {
  readonly event: WebhookEvent;
  /** True when the event was already stored (a redelivery): nothing was done now. */
  readonly duplicate: boolean;
}

/** The audit trail's actor of a provider's events. */
export const webhookActor = (provider: Provider, requestId?: string | null): Actor => ({
  actor: `webhook:${provider}`,
  requestId: requestId ?? null,
});

// Input errors of the buyer's fields: the event is kept as ignored, not retried.
const BUYER_FIELD_CODES = new Set([
  "NAME_INVALID",
  "EMAIL_INVALID",
  "TIER_UNKNOWN",
  "YEARS_INVALID",
]);

/** Carries out an action in the caller's transaction; what to record of it. */
async function apply(
  tx: Queryable,
  ctx: ServiceContext,
  products: Products,
  e: StoreEvent,
  who: Actor,
): Promise<{
  status: WebhookStatus;
  reason: string | null;
  license: LicenseRecord | null;
  issued: boolean;
}> {
  const action = actionOf(e);
  const ignored = (reason: string) => ({
    status: "ignored" as const,
    reason,
    license: null,
    issued: false,
  });
  if (action.kind === "ignore") return ignored(action.reason);
  if (action.kind === "issue") {
    const product = products[e.provider][action.product];
    if (!product) {
      return ignored(
        `unknown product ${action.product}: add it to the ${e.provider} products (DATATOOLS_PRODUCTS_FILE), then replay this event`,
      );
    }
    const already = await findSaleLicense(tx, e.provider, action.reference);
    if (already) return ignored(`license ${already} was already issued for ${action.reference}`);
    let license: LicenseRecord;
    try {
      license = await issueLicenseIn(
        tx,
        ctx,
        { name: action.name, email: action.email, tier: product.tier, years: product.years },
        who,
        e.provider,
      );
    } catch (err) {
      if (isLicenseError(err) && BUYER_FIELD_CODES.has(err.code)) return ignored(err.message);
      throw err;
    }
    const sale: Sale = {
      provider: e.provider,
      reference: action.reference,
      event_id: e.id,
      product: action.product,
    };
    await insertSale(tx, license.license_key, sale, ctx.now());
    await enqueueDelivery(tx, license.license_key, ctx.now());
    return { status: "processed", reason: null, license, issued: true };
  }
  const key = await findSaleLicense(tx, e.provider, action.reference);
  if (!key) return ignored(`no license was sold under ${action.reference}`);
  try {
    const license = await changeLicenseStatusIn(tx, ctx, key, action.kind, action.reason, who);
    return { status: "processed", reason: action.reason, license, issued: false };
  } catch (err) {
    if (isLicenseError(err, "LICENSE_STATE_CONFLICT")) return ignored(err.message);
    throw err;
  }
}

/**
 * Takes a verified provider event: once per provider event id, its effects
 * and its row committed together. A redelivery returns the stored row with
 * `duplicate: true`. Throws only for the server's own faults (no signing key,
 * the database), after which the provider retries.
 *
 * @example
 * ```ts
 * const { event } = await receiveStoreEvent(ctx, products, { provider: "stripe", id, type, payload });
 * ```
 */
export async function receiveStoreEvent(
  ctx: ServiceContext,
  products: Products,
  e: StoreEvent,
  requestId?: string,
): Promise<EventOutcome> {
  const who = webhookActor(e.provider, requestId);
  const result = await ctx.db.transaction(async (tx) => {
    const id = await claimWebhookEvent(tx, {
      provider: e.provider,
      eventId: e.id,
      type: e.type,
      payload: e.payload,
      at: ctx.now(),
    });
    if (id === undefined) {
      return {
        event: (await findWebhookEvent(tx, e.provider, e.id))!,
        duplicate: true,
        issued: false,
      };
    }
    const done = await apply(tx, ctx, products, e, who);
    const event = await settleWebhookEvent(tx, id, {
      status: done.status,
      reason: done.reason,
      licenseKey: done.license?.license_key ?? null,
      at: ctx.now(),
    });
    return { event, duplicate: false, issued: done.issued };
  });
  if (result.issued) ctx.events.licensesWritten("issue", 1);
  return { event: result.event, duplicate: result.duplicate };
}

/**
 * Handles an ignored event again from its stored payload (after the products
 * file was fixed, say) with `products` as they are now (the caller reads the
 * file again: `currentProducts`). NOT_FOUND for an unknown id;
 * WEBHOOK_EVENT_PROCESSED when it already took effect.
 */
export async function replayStoreEvent(
  ctx: ServiceContext,
  products: Products,
  id: number,
  who: Actor,
): Promise<WebhookEvent> {
  const result = await ctx.db.transaction(async (tx) => {
    const stored = await getWebhookEvent(tx, id, true);
    if (!stored) throw new LicenseError("NOT_FOUND", `no webhook event with id ${id}`);
    if (stored.status !== "ignored") {
      throw new LicenseError(
        "WEBHOOK_EVENT_PROCESSED",
        `webhook event ${id} (${stored.provider} ${stored.event_id}) was already processed; only ignored events are replayed`,
      );
    }
    const e: StoreEvent = {
      provider: stored.provider,
      id: stored.event_id,
      type: stored.type,
      payload: stored.payload,
    };
    const done = await apply(tx, ctx, products, e, {
      actor: `${webhookActor(e.provider).actor} (replayed by ${who.actor})`,
      requestId: who.requestId ?? null,
    });
    const event = await settleWebhookEvent(tx, id, {
      status: done.status,
      reason: done.reason,
      licenseKey: done.license?.license_key ?? null,
      at: ctx.now(),
    });
    return { event, issued: done.issued };
  });
  if (result.issued) ctx.events.licensesWritten("issue", 1);
  return result.event;
}

/** Stored webhook events, newest first. */
export function listStoreEvents(
  ctx: ServiceContext,
  filter: { status?: WebhookStatus; limit: number },
): Promise<WebhookEvent[]> {
  return listStored(ctx.db, filter);
}

/** The sale behind a license and its latest e-mail (null when none). */
export interface SaleState {
  readonly sale: Sale | null;
  readonly delivery: Delivery | null;
}

/** The sale and delivery state of a license. */
export async function saleState(ctx: ServiceContext, key: string): Promise<SaleState> {
  const [sale, delivery] = await Promise.all([getSale(ctx.db, key), latestDelivery(ctx.db, key)]);
  return { sale: sale ?? null, delivery: delivery ?? null };
}

/**
 * Queues another e-mail of the license's stored blob (never re-signed), with a
 * `deliver` event naming who asked. NOT_FOUND for an unknown key.
 */
export async function queueDelivery(
  ctx: ServiceContext,
  key: string,
  who: Actor,
): Promise<Delivery> {
  return ctx.db.transaction(async (tx) => {
    const license = await getStored(tx, key);
    if (!license) throw new LicenseError("NOT_FOUND", `no license with key ${key.slice(0, 100)}`);
    const now = ctx.now();
    const delivery = await enqueueDelivery(tx, key, now);
    const reason = "license e-mail queued again";
    await insertEvent(tx, key, { action: "deliver", who, at: now, reason }, null, null);
    return delivery;
  });
}
