/**
 * Store sales: the payment providers' webhook events (one row per provider
 * event id, which makes each event take effect once), the sale a license came
 * from, and the outbox of license e-mails with its delivery state.
 */
import type { Queryable } from "./db.js";

/** The stores whose webhooks the server takes. */
export const PROVIDERS = ["stripe", "lemonsqueezy"] as const;
export type Provider = (typeof PROVIDERS)[number];

/** What became of a webhook event. */
export const WEBHOOK_STATUSES = ["processed", "ignored"] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** A stored webhook event. */
export interface WebhookEvent {
  readonly id: number;
  readonly provider: Provider;
  readonly event_id: string;
  readonly type: string;
  readonly status: WebhookStatus;
  readonly reason: string | null;
  readonly license_key: string | null;
  readonly received_at: string;
  readonly processed_at: string;
}

type Row = Record<string, unknown>;
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : String(v);

const EVENT_COLUMNS =
  "id, provider, event_id, type, status, reason, license_key, received_at, processed_at";

function toEvent(r: Row): WebhookEvent {
  return {
    id: Number(r.id),
    provider: r.provider as Provider,
    event_id: String(r.event_id),
    type: String(r.type),
    status: r.status as WebhookStatus,
    reason: textOrNull(r.reason),
    license_key: textOrNull(r.license_key),
    received_at: iso(r.received_at),
    processed_at: iso(r.processed_at),
  };
}

/**
 * Claims a provider event in the caller's transaction: inserts its row (as
 * ignored, until {@link settleWebhookEvent} says otherwise) and returns its
 * id, or undefined when the event is already stored. A concurrent claim of
 * the same event waits on the unique index until the first transaction ends,
 * then finds it stored (or claims it, when the first rolled back).
 */
export async function claimWebhookEvent(
  tx: Queryable,
  e: { provider: Provider; eventId: string; type: string; payload: unknown; at: Date },
): Promise<number | undefined> {
  const { rows } = await tx.query<{ id: unknown }>(
    `INSERT INTO webhook_events (provider, event_id, type, status, payload, received_at, processed_at)
     VALUES ($1, $2, $3, 'ignored', $4::text::jsonb, $5, $5)
     ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
    [e.provider, e.eventId, e.type, JSON.stringify(e.payload), e.at.toISOString()],
  );
  return rows[0] ? Number(rows[0].id) : undefined;
}

/** Records what an event did, in the caller's transaction. */
export async function settleWebhookEvent(
  tx: Queryable,
  id: number,
  outcome: { status: WebhookStatus; reason: string | null; licenseKey: string | null; at: Date },
): Promise<WebhookEvent> {
  const { rows } = await tx.query<Row>(
    `UPDATE webhook_events SET status = $2, reason = $3, license_key = $4, processed_at = $5
     WHERE id = $1 RETURNING ${EVENT_COLUMNS}`,
    [id, outcome.status, outcome.reason, outcome.licenseKey, outcome.at.toISOString()],
  );
  return toEvent(rows[0]!);
}

/** The event with this id and its payload; `forUpdate` locks it until the transaction ends. */
export async function getWebhookEvent(
  q: Queryable,
  id: number,
  forUpdate = false,
): Promise<(WebhookEvent & { payload: unknown }) | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT ${EVENT_COLUMNS}, payload FROM webhook_events WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  const payload = typeof r.payload === "string" ? (JSON.parse(r.payload) as unknown) : r.payload;
  return { ...toEvent(r), payload };
}

/** The stored event of a provider with this event id, if any. */
export async function findWebhookEvent(
  q: Queryable,
  provider: Provider,
  eventId: string,
): Promise<WebhookEvent | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE provider = $1 AND event_id = $2`,
    [provider, eventId],
  );
  return rows[0] ? toEvent(rows[0]) : undefined;
}

/** Webhook events, newest first, optionally of one status. */
export async function listWebhookEvents(
  q: Queryable,
  filter: { status?: WebhookStatus; limit: number },
): Promise<WebhookEvent[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${EVENT_COLUMNS} FROM webhook_events
     WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2`,
    [filter.status ?? null, filter.limit],
  );
  return rows.map(toEvent);
}

/** The sale a store license came from. */
export interface Sale {
  readonly provider: Provider;
  /** The order or payment reference (Stripe payment_intent, Lemon Squeezy order id). */
  readonly reference: string;
  readonly event_id: string;
  /** The product reference the products file mapped to a tier. */
  readonly product: string;
}

/** Records the sale behind a new license, in the caller's transaction. */
export async function insertSale(
  tx: Queryable,
  licenseKey: string,
  sale: Sale,
  at: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO sales (license_key, provider, reference, event_id, product, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [licenseKey, sale.provider, sale.reference, sale.event_id, sale.product, at.toISOString()],
  );
}

/** The license key sold under this order or payment reference, if any. */
export async function findSaleLicense(
  q: Queryable,
  provider: Provider,
  reference: string,
): Promise<string | undefined> {
  const { rows } = await q.query<{ license_key: unknown }>(
    "SELECT license_key FROM sales WHERE provider = $1 AND reference = $2",
    [provider, reference],
  );
  return rows[0] ? String(rows[0].license_key) : undefined;
}

/** The sale behind a license, if it came from a store. */
export async function getSale(q: Queryable, licenseKey: string): Promise<Sale | undefined> {
  const { rows } = await q.query<Row>(
    "SELECT provider, reference, event_id, product FROM sales WHERE license_key = $1",
    [licenseKey],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    provider: r.provider as Provider,
    reference: String(r.reference),
    event_id: String(r.event_id),
    product: String(r.product),
  };
}

/** Where a license e-mail is. */
export const DELIVERY_STATUSES = ["queued", "sent", "failing"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** The delivery state of a license's latest e-mail. */
export interface Delivery {
  readonly id: number;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly last_error: string | null;
  readonly next_attempt_at: string | null;
  readonly sent_at: string | null;
  readonly created_at: string;
}

const OUTBOX_COLUMNS = "id, status, attempts, last_error, next_attempt_at, sent_at, created_at";

function toDelivery(r: Row): Delivery {
  const status = r.status as DeliveryStatus;
  return {
    id: Number(r.id),
    status,
    attempts: Number(r.attempts),
    last_error: textOrNull(r.last_error),
    next_attempt_at: status === "sent" ? null : iso(r.next_attempt_at),
    sent_at: r.sent_at === null || r.sent_at === undefined ? null : iso(r.sent_at),
    created_at: iso(r.created_at),
  };
}

/** Queues an e-mail of the license's stored blob, in the caller's transaction. */
export async function enqueueDelivery(
  q: Queryable,
  licenseKey: string,
  at: Date,
): Promise<Delivery> {
  const { rows } = await q.query<Row>(
    `INSERT INTO outbox (license_key, status, next_attempt_at, created_at)
     VALUES ($1, 'queued', $2, $2) RETURNING ${OUTBOX_COLUMNS}`,
    [licenseKey, at.toISOString()],
  );
  return toDelivery(rows[0]!);
}

/** The latest e-mail of a license, if one was ever queued. */
export async function latestDelivery(
  q: Queryable,
  licenseKey: string,
): Promise<Delivery | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE license_key = $1 ORDER BY id DESC LIMIT 1`,
    [licenseKey],
  );
  return rows[0] ? toDelivery(rows[0]) : undefined;
}

/** An outbox row claimed for sending, with what the e-mail needs. */
export interface ClaimedDelivery {
  readonly id: number;
  readonly attempts: number;
  readonly license_key: string;
  readonly name: string;
  readonly email: string;
  readonly tier: string;
  readonly expires_at: string;
  readonly blob: string;
}

/**
 * Claims the oldest due outbox row: the row is picked with FOR UPDATE SKIP
 * LOCKED (so a worker in another process passes over it and takes the next)
 * and leased until `leaseUntil` in one statement that commits at once, so no
 * transaction stays open while the e-mail is sent. A worker that dies before
 * recording the outcome leaves the row due again when the lease ends.
 * Undefined when nothing is due.
 */
export async function claimDueDelivery(
  q: Queryable,
  now: Date,
  leaseUntil: Date,
): Promise<ClaimedDelivery | undefined> {
  const { rows } = await q.query<Row>(
    `WITH due AS (
       SELECT id FROM outbox WHERE status <> 'sent' AND next_attempt_at <= $1
       ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
     o AS (
       UPDATE outbox SET next_attempt_at = $2 FROM due WHERE outbox.id = due.id
       RETURNING outbox.id, outbox.attempts, outbox.license_key)
     SELECT o.id, o.attempts, l.license_key, l.name, l.email, l.tier, l.expires_at, l.blob
     FROM o JOIN licenses l ON l.license_key = o.license_key`,
    [now.toISOString(), leaseUntil.toISOString()],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    attempts: Number(r.attempts),
    license_key: String(r.license_key),
    name: String(r.name),
    email: String(r.email),
    tier: String(r.tier),
    expires_at: iso(r.expires_at),
    blob: String(r.blob),
  };
}

/** Records that a claimed row was sent. */
export async function markDeliverySent(q: Queryable, id: number, at: Date): Promise<void> {
  await q.query(
    `UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $2, last_error = NULL
     WHERE id = $1`,
    [id, at.toISOString()],
  );
}

/** Records a failed attempt and when to try again. */
export async function markDeliveryFailing(
  tx: Queryable,
  id: number,
  error: string,
  nextAttempt: Date,
): Promise<void> {
  await tx.query(
    `UPDATE outbox SET status = 'failing', attempts = attempts + 1, last_error = $2,
       next_attempt_at = $3 WHERE id = $1`,
    [id, error.slice(0, 1000), nextAttempt.toISOString()],
  );
}

/** Outbox rows not yet sent. */
export async function countUnsent(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>(
    "SELECT count(*)::int AS n FROM outbox WHERE status <> 'sent'",
  );
  return Number(rows[0]?.n ?? 0);
}

/** An outbox row whose last attempt failed, with its license. */
export interface FailingDelivery extends Delivery {
  readonly license_key: string;
}

/** Outbox rows whose last attempt failed, the next due first. */
export async function listFailingDeliveries(
  q: Queryable,
  limit: number,
): Promise<FailingDelivery[]> {
  const { rows } = await q.query<Row>(
    `SELECT license_key, ${OUTBOX_COLUMNS} FROM outbox WHERE status = 'failing'
     ORDER BY next_attempt_at, id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ ...toDelivery(r), license_key: String(r.license_key) }));
}

/** Webhook events of one status. */
export async function countWebhookEvents(q: Queryable, status: WebhookStatus): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>(
    "SELECT count(*)::int AS n FROM webhook_events WHERE status = $1",
    [status],
  );
  return Number(rows[0]?.n ?? 0);
}
