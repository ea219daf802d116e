/**
 * The licenses table, the earlier blobs of a key and the audit trail. This
 * file holds the one definition of a stored license's fields, of the state a
 * license is in (in TypeScript and in SQL), of what an event's before/after
 * shows, and the one write path for each: new licenses go through
 * {@link insertLicenses}, changes through {@link updateLicense}, and each
 * writes its events in the same statement or transaction. Nothing is deleted.
 */
import { TIERS, type Tier } from "../core/catalogue.js";
import {
  formatTime,
  normalizeIdentity,
  PAYLOAD_FIELDS,
  RECORD_FIELDS,
  type SignedFields,
} from "../core/license.js";
import { Batcher } from "./batch.js";
import type { Database, Queryable } from "./db.js";

/** What is stored about a license; "expired" is derived from expires_at, never stored. */
export const LICENSE_STATUSES = ["active", "suspended", "revoked"] as const;
export type LicenseStatus = (typeof LICENSE_STATUSES)[number];

/** Where a license came from. */
export const LICENSE_SOURCES = ["api", "import", "stripe", "lemonsqueezy"] as const;
export type LicenseSource = (typeof LICENSE_SOURCES)[number];

/** The state of a license at a moment: its status, an active one past its expiry being `expired`. */
export const LICENSE_STATES = ["active", "expired", "suspended", "revoked"] as const;
export type LicenseState = (typeof LICENSE_STATES)[number];

/** What an audit event records. */
export const EVENT_ACTIONS = [
  "issue",
  "import",
  "import-renewal",
  "import-earlier",
  "renew",
  "reissue",
  "supersede",
  "suspend",
  "reinstate",
  "revoke",
  "activate",
  "release",
  "reclaim",
  "set-seats",
  "deliver",
] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** A stored license, as the API returns it. */
export interface LicenseRecord extends SignedFields {
  readonly blob: string;
  readonly status: LicenseStatus;
  readonly status_reason: string | null;
  readonly supersedes: string | null;
  readonly superseded_by: string | null;
  readonly source: LicenseSource;
  readonly created_at: string;
  readonly updated_at: string;
  /** How many machines may hold a seat at once; null: no limit. */
  readonly seats: number | null;
}

/**
 * A stored license's fields in the order the API shows them: the issuance log's
 * fields first (docs/ADMIN.md), then the key id, the blob and the server's own.
 */
export const LICENSE_FIELDS = [
  ...RECORD_FIELDS,
  "kid",
  "blob",
  "status",
  "status_reason",
  "supersedes",
  "superseded_by",
  "source",
  "created_at",
  "updated_at",
  "seats",
] as const satisfies readonly (keyof LicenseRecord)[];

/** What is inserted for a new license: the signed payload's fields and the blob. */
export interface NewLicense extends SignedFields {
  readonly blob: string;
  readonly source: LicenseSource;
  readonly supersedes?: string | null;
  /** The seat limit; absent or null: no limit. */
  readonly seats?: number | null;
}

/** Who made a change, for the audit trail. */
export interface Actor {
  /** The admin token's name, or e.g. "import" / "cli:keys-reissue". */
  readonly actor: string;
  readonly requestId?: string | null;
}

/** One audit event. */
export interface LicenseEvent {
  readonly id: number;
  readonly license_key: string;
  readonly action: EventAction;
  readonly actor: string;
  readonly reason: string | null;
  readonly request_id: string | null;
  readonly before: Snapshot | null;
  readonly after: Snapshot | null;
  readonly at: string;
}

/** The part of a license an event's before/after shows. */
export const SNAPSHOT_FIELDS = [
  "status",
  "status_reason",
  "tier",
  "expires_at",
  "supersedes",
  "superseded_by",
] as const satisfies readonly (keyof LicenseRecord)[];
export type Snapshot = Pick<LicenseRecord, (typeof SNAPSHOT_FIELDS)[number]>;

/** The before/after an event shows of `r`. */
export function snapshot(r: Snapshot): Snapshot {
  return Object.fromEntries(SNAPSHOT_FIELDS.map((f) => [f, r[f]])) as unknown as Snapshot;
}

/** The row a new license becomes once inserted, as far as its snapshot shows it. */
function snapshotOfNew(l: NewLicense): Snapshot {
  return snapshot({
    status: "active",
    status_reason: null,
    tier: l.tier,
    expires_at: l.expires_at,
    supersedes: l.supersedes ?? null,
    superseded_by: null,
  });
}

/**
 * The state of a license at `now`.
 *
 * @example
 * ```ts
 * licenseState("active", new Date("2026-01-01T00:00:00Z"), new Date()); // "expired"
 * ```
 */
export function licenseState(status: LicenseStatus, expiresAt: Date, now: Date): LicenseState {
  return status === "active" && expiresAt.getTime() <= now.getTime() ? "expired" : status;
}

/**
 * {@link licenseState} in SQL: the condition for each state. `now` gives the
 * bound parameter that holds the current time (e.g. `$3`), called only by the
 * conditions that need it. Written so that the indexes on status and
 * expires_at can serve them.
 */
export const STATE_WHERE: Readonly<Record<LicenseState, (now: () => string) => string>> = {
  active: (now) => `status = 'active' AND expires_at > ${now()}`,
  expired: (now) => `status = 'active' AND expires_at <= ${now()}`,
  suspended: () => `status = 'suspended'`,
  revoked: () => `status = 'revoked'`,
};

const COLUMNS = LICENSE_FIELDS.join(", ");

type Row = Record<string, unknown>;

const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const iso = (v: unknown): string => toDate(v).toISOString();
const rfc = (v: unknown): string => formatTime(toDate(v));
const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : String(v);

/** How each column comes back from either driver. */
const READ: { readonly [K in keyof LicenseRecord]-?: (v: unknown) => LicenseRecord[K] } = {
  kid: String,
  license_key: String,
  name: String,
  email: String,
  tier: (v) => v as Tier,
  issued_at: rfc,
  expires_at: rfc,
  blob: String,
  status: (v) => v as LicenseStatus,
  status_reason: textOrNull,
  supersedes: textOrNull,
  superseded_by: textOrNull,
  source: (v) => v as LicenseSource,
  created_at: iso,
  updated_at: iso,
  seats: (v) => (v === null || v === undefined ? null : Number(v)),
};

function toRecord(r: Row): LicenseRecord {
  return Object.fromEntries(
    LICENSE_FIELDS.map((f) => [f, READ[f](r[f])]),
  ) as unknown as LicenseRecord;
}

/**
 * The CTEs, for a data-modifying WITH, that append the events `source`
 * selects (columns n, license_key, action, actor, reason, request_id, before,
 * after, at, log_line) to the audit events' hash chain in the order of n. Each
 * event's `prev` is the hash of the event before it (by id; 64 zeros before
 * the first) and its `hash` is `ledger_link(prev, ledger_event_content(…))`,
 * SQL functions of migration 4 that recompute the same bytes from a stored
 * row. The statement locks the one `ledger_head` row (FOR UPDATE) before it
 * links anything: the lock serializes appends across connections and processes
 * until the commit, the lock reads the latest head even after waiting for
 * another append, and the events' ids are drawn only after that, so they
 * follow the chain. Each link is computed once, in the window; the head is
 * then set to the last of them. Nothing is locked when `source` selects no
 * row; a missing head row leaves the links null, which the events_chained
 * check refuses.
 */
function chainedEvents(source: string): string {
  return `ev AS (
       SELECT s.*, ledger_event_content(s.license_key, s.action, s.actor, s.reason,
         s.request_id, s.before, s.after, s.at, s.log_line) AS content
       FROM (${source}) s),
     locked AS (
       SELECT hash FROM ledger_head WHERE one = true AND EXISTS (SELECT 1 FROM ev) FOR UPDATE),
     start AS (SELECT (SELECT hash FROM locked) AS head),
     chained AS (
       SELECT ev.*, s.head, ledger_chain(s.head, ev.content) OVER (ORDER BY ev.n) AS hash
       FROM ev CROSS JOIN start s),
     head AS (
       UPDATE ledger_head SET before = hash,
         hash = (SELECT c.hash FROM chained c ORDER BY c.n DESC LIMIT 1)
       WHERE one = true AND EXISTS (SELECT 1 FROM chained)),
     e AS (
       INSERT INTO events (license_key, action, actor, reason, request_id, before, after, at,
         log_line, prev, hash)
       SELECT license_key, action, actor, reason, request_id, before, after, at, log_line,
         coalesce(lag(hash) OVER (ORDER BY n), head), hash
       FROM chained ORDER BY n)`;
}

/** One new license to insert, with the event that records it. */
export interface LicenseWrite {
  readonly license: NewLicense;
  readonly action: Extract<EventAction, "issue" | "import" | "renew" | "reissue">;
  readonly who: Actor;
  readonly at: Date;
  /** For an import: the SHA-256 of the issuance-log line the license came from. */
  readonly logLine?: string | null;
}

/**
 * The one way a license row comes into being: inserts the licenses and their
 * events in one statement, which PostgreSQL runs atomically. With
 * `onConflict: "fail"` a taken license_key fails the statement with SQLSTATE
 * 23505 on `licenses_pkey`; with `"skip"` such rows are left out (and get no
 * event). The events are appended to the audit events' hash chain in input
 * order (see chainedEvents). Returns the inserted rows by license key.
 */
export async function insertLicenses(
  q: Queryable,
  writes: readonly LicenseWrite[],
  onConflict: "fail" | "skip" = "fail",
): Promise<Map<string, LicenseRecord>> {
  if (writes.length === 0) return new Map();
  const { rows } = await q.query<Row>(
    insertStatement(onConflict, COLUMNS),
    insertParams(writes),
    onConflict === "fail" ? "insert_licenses" : "insert_licenses_skip",
  );
  return new Map(rows.map((r) => [String(r.license_key), toRecord(r)]));
}

/**
 * {@link insertLicenses} for a caller that needs only to know which licenses went in
 * (an import): the same statement, answering with their keys alone, so neither the
 * database nor this process spends time on rows it already has.
 */
export async function insertLicenseKeys(
  q: Queryable,
  writes: readonly LicenseWrite[],
  onConflict: "fail" | "skip" = "fail",
): Promise<Set<string>> {
  if (writes.length === 0) return new Set();
  const { rows } = await q.query<{ license_key: string }>(
    insertStatement(onConflict, "license_key"),
    insertParams(writes),
    onConflict === "fail" ? "insert_license_keys" : "insert_license_keys_skip",
  );
  return new Set(rows.map((r) => String(r.license_key)));
}

function insertStatement(onConflict: "fail" | "skip", returning: string): string {
  return `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[],
         $12::timestamptz[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
         $18::int[])
         WITH ORDINALITY AS t(${PAYLOAD_FIELDS.join(", ")}, email_norm, blob, source, supersedes,
           at, action, actor, request_id, after, log_line, seats, n)),
     l AS (
       INSERT INTO licenses (${PAYLOAD_FIELDS.join(", ")}, email_norm, blob, source, supersedes,
         created_at, updated_at, seats)
       SELECT ${PAYLOAD_FIELDS.join(", ")}, email_norm, blob, source, supersedes, at, at, seats
       FROM input
       ${onConflict === "skip" ? "ON CONFLICT (license_key) DO NOTHING" : ""}
       RETURNING ${returning}),
     ${chainedEvents(
       `SELECT i.n, i.license_key, i.action, i.actor, NULL::text AS reason, i.request_id,
          NULL::jsonb AS before, i.after::jsonb AS after, i.at, i.log_line
        FROM input i JOIN l ON l.license_key = i.license_key`,
     )}
     SELECT * FROM l`;
}

function insertParams(writes: readonly LicenseWrite[]): unknown[] {
  const col = (f: (w: LicenseWrite) => unknown) => writes.map(f);
  return [
    ...PAYLOAD_FIELDS.map((f) => col((w) => w.license[f])),
    col((w) => normalizeIdentity(w.license.email)),
    col((w) => w.license.blob),
    col((w) => w.license.source),
    col((w) => w.license.supersedes ?? null),
    col((w) => w.at.toISOString()),
    col((w) => w.action),
    col((w) => w.who.actor),
    col((w) => w.who.requestId ?? null),
    col((w) => JSON.stringify(snapshotOfNew(w.license))),
    col((w) => w.logLine ?? null),
    col((w) => w.license.seats ?? null),
  ];
}

/**
 * Inserts one license and its event ({@link insertLicenses}); a taken key fails
 * with SQLSTATE 23505 on `licenses_pkey`.
 */
export async function insertLicense(
  q: Queryable,
  l: NewLicense,
  who: Actor,
  now: Date,
  action: LicenseWrite["action"] = "issue",
): Promise<LicenseRecord> {
  const rows = await insertLicenses(q, [{ license: l, action, who, at: now }]);
  return rows.get(l.license_key)!;
}

interface PendingInsert {
  readonly write: LicenseWrite;
  readonly ok: (r: LicenseRecord) => void;
  readonly fail: (err: unknown) => void;
}

/**
 * {@link insertLicense} for a server: licenses issued by concurrent requests
 * go in as one statement (each row still with its own event, all committed
 * together: a group commit) — those of one turn of the event loop, and all
 * that arrive while the previous statement runs: statements that write events
 * take turns on the events chain's head row, so a second one in flight would
 * only wait at the database, holding a connection. If a statement fails — a
 * supplied license_key already taken, say — each of its licenses is inserted
 * on its own again, so every request gets its own answer or error exactly as
 * if it had been alone.
 */
export function licenseInserter(
  q: Queryable,
  maxRows = 200,
): (l: NewLicense, who: Actor, now: Date) => Promise<LicenseRecord> {
  let pending: PendingInsert[] = [];
  let scheduled = false;
  let running = false;
  const alone = (p: PendingInsert) =>
    insertLicenses(q, [p.write]).then(
      (rows) => p.ok(rows.get(p.write.license.license_key)!),
      p.fail,
    );
  const together = (batch: readonly PendingInsert[]) =>
    insertLicenses(
      q,
      batch.map((p) => p.write),
    ).then(
      (rows) => {
        for (const p of batch) {
          const r = rows.get(p.write.license.license_key);
          if (r) p.ok(r);
          else void alone(p);
        }
      },
      () => {
        for (const p of batch) void alone(p);
      },
    );
  const flush = () => {
    if (running || pending.length === 0) return;
    const batch = pending.slice(0, maxRows);
    pending = pending.slice(maxRows);
    running = true;
    void (batch.length === 1 ? alone(batch[0]!) : together(batch)).finally(() => {
      running = false;
      flush();
    });
  };
  return (license, who, at) =>
    new Promise<LicenseRecord>((ok, fail) => {
      pending.push({ write: { license, who, at, action: "issue" }, ok, fail });
      if (pending.length >= maxRows) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
    });
}

/** The license with this key, or undefined. `forUpdate` locks the row until the transaction ends. */
export async function getLicense(
  q: Queryable,
  key: string,
  forUpdate = false,
): Promise<LicenseRecord | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM licenses WHERE license_key = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [key],
    forUpdate ? "get_license_for_update" : "get_license",
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** The licenses with these keys (those that exist), by key. */
export async function getLicenses(
  q: Queryable,
  keys: readonly string[],
): Promise<Map<string, LicenseRecord>> {
  if (keys.length === 0) return new Map();
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM licenses WHERE license_key = ANY($1::text[])`,
    [keys],
  );
  return new Map(rows.map((r) => [String(r.license_key), toRecord(r)]));
}

/** What the public verify endpoint needs to know about a key. */
export interface VerifyRow {
  readonly status: LicenseStatus;
  readonly expires_at: Date;
  readonly blob: string;
  readonly superseded_by: string | null;
  /** The seat limit (the online check-in reads it on the same hot path); null: none. */
  readonly seats: number | null;
}

type VerifyColumns = {
  license_key: unknown;
  status: unknown;
  expires_at: unknown;
  blob: unknown;
  superseded_by: unknown;
  seats: unknown;
};

const VERIFY_COLUMNS = "license_key, status, expires_at, blob, superseded_by, seats";

function toVerifyRow(r: VerifyColumns | undefined): VerifyRow | undefined {
  if (!r) return undefined;
  return {
    status: r.status as LicenseStatus,
    expires_at: toDate(r.expires_at),
    blob: String(r.blob),
    superseded_by: textOrNull(r.superseded_by),
    seats: r.seats === null || r.seats === undefined ? null : Number(r.seats),
  };
}

/** The verify row of the license with this key, or undefined (a hot read: a named prepared statement). */
export async function getVerifyRow(q: Queryable, key: string): Promise<VerifyRow | undefined> {
  const { rows } = await q.query<VerifyColumns>(
    `SELECT ${VERIFY_COLUMNS} FROM licenses WHERE license_key = $1`,
    [key],
    "license_state",
  );
  return toVerifyRow(rows[0]);
}

/**
 * {@link getVerifyRow} for a server: concurrent verify requests' reads share
 * one query (see batch.ts). Nothing is cached; every answer is read after the
 * request arrived, so a revocation is seen at once.
 */
export function verifyRowReader(q: Queryable): (key: string) => Promise<VerifyRow | undefined> {
  const rows = new Batcher<string, VerifyColumns>(async (keys) => {
    const { rows } = await q.query<VerifyColumns>(
      `SELECT ${VERIFY_COLUMNS} FROM licenses WHERE license_key = ANY($1::text[])`,
      [keys],
      "license_states",
    );
    return new Map(rows.map((r) => [String(r.license_key), r]));
  });
  return async (key) => toVerifyRow(await rows.get(key));
}

/** A change to a stored license (the columns a workflow may change). */
export type LicenseChange = Partial<
  Pick<LicenseRecord, "status" | "status_reason" | "superseded_by" | "seats"> &
    SignedFields & { blob: string }
>;

/** The event that records a change. */
export interface EventInput {
  readonly action: EventAction;
  readonly who: Actor;
  readonly at: Date;
  readonly reason: string | null;
  /** For an import: the SHA-256 of the issuance-log line the blob came from. */
  readonly logLine?: string | null;
}

const CHANGEABLE = [
  ...PAYLOAD_FIELDS,
  "blob",
  "status",
  "status_reason",
  "superseded_by",
  "seats",
] as const satisfies readonly (keyof LicenseChange)[];

/**
 * The one way a stored license changes: updates the row and records the event
 * with its before and after, in the caller's transaction (lock the row first
 * with `getLicense(tx, key, true)`).
 */
export async function updateLicense(
  tx: Queryable,
  before: LicenseRecord,
  change: LicenseChange,
  event: EventInput,
): Promise<LicenseRecord> {
  const sets: string[] = [];
  const params: unknown[] = [before.license_key, event.at.toISOString()];
  for (const f of CHANGEABLE) {
    if (change[f] === undefined) continue;
    params.push(change[f]);
    sets.push(`${f} = $${params.length}`);
    if (f === "email") {
      params.push(normalizeIdentity(change.email!));
      sets.push(`email_norm = $${params.length}`);
    }
  }
  const { rows } = await tx.query<Row>(
    `UPDATE licenses SET ${[...sets, "updated_at = $2"].join(", ")}
     WHERE license_key = $1 RETURNING ${COLUMNS}`,
    params,
  );
  const after = toRecord(rows[0]!);
  await insertEvent(tx, before.license_key, event, before, after);
  return after;
}

/** Changes a license's status and records the event, in the caller's transaction. */
export function setStatus(
  tx: Queryable,
  before: LicenseRecord,
  status: LicenseStatus,
  action: EventAction,
  reason: string,
  who: Actor,
  now: Date,
): Promise<LicenseRecord> {
  return updateLicense(
    tx,
    before,
    { status, status_reason: reason },
    { action, who, at: now, reason },
  );
}

/** Records that `before` was replaced by the license `newKey` (a renewal or re-issue). */
export function markSuperseded(
  tx: Queryable,
  before: LicenseRecord,
  newKey: string,
  who: Actor,
  now: Date,
): Promise<LicenseRecord> {
  return updateLicense(
    tx,
    before,
    { superseded_by: newKey },
    { action: "supersede", who, at: now, reason: null },
  );
}

/** Appends one audit event (before/after as {@link snapshot}s) to the chain. */
export async function insertEvent(
  q: Queryable,
  key: string,
  event: EventInput,
  before: Snapshot | null,
  after: Snapshot | null,
): Promise<void> {
  await q.query(
    `WITH ${chainedEvents(
      `SELECT 1::bigint AS n, $1::text AS license_key, $2::text AS action, $3::text AS actor,
         $4::text AS reason, $5::text AS request_id, $6::text::jsonb AS before,
         $7::text::jsonb AS after, $8::timestamptz AS at, $9::text AS log_line`,
    )}
     SELECT 1`,
    [
      key,
      event.action,
      event.who.actor,
      event.reason,
      event.who.requestId ?? null,
      before ? JSON.stringify(snapshot(before)) : null,
      after ? JSON.stringify(snapshot(after)) : null,
      event.at.toISOString(),
      event.logLine ?? null,
    ],
  );
}

/** A license's audit trail, oldest first. */
export async function listEvents(q: Queryable, key: string): Promise<LicenseEvent[]> {
  const { rows } = await q.query<Row>(
    `SELECT id, license_key, action, actor, reason, request_id, before, after, at
     FROM events WHERE license_key = $1 ORDER BY id`,
    [key],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    license_key: String(r.license_key),
    action: r.action as EventAction,
    actor: String(r.actor),
    reason: textOrNull(r.reason),
    request_id: textOrNull(r.request_id),
    before: (r.before ?? null) as Snapshot | null,
    after: (r.after ?? null) as Snapshot | null,
    at: iso(r.at),
  }));
}

/** An earlier blob of a license key: a buyer re-minted under the same key. */
export interface EarlierBlob {
  readonly expires_at: Date;
}

/** The earlier blob `blob` of license `key`, or undefined when the server holds no such blob. */
export async function findEarlierBlob(
  q: Queryable,
  key: string,
  blob: string,
): Promise<EarlierBlob | undefined> {
  const { rows } = await q.query<{ expires_at: unknown }>(
    "SELECT expires_at FROM earlier_blobs WHERE license_key = $1 AND md5(blob) = md5($2) AND blob = $2",
    [key, blob],
    "find_earlier_blob",
  );
  return rows[0] ? { expires_at: toDate(rows[0].expires_at) } : undefined;
}

/** Keeps `b` as an earlier blob of its key, in the caller's transaction. */
export async function keepEarlierBlob(
  tx: Queryable,
  b: SignedFields & { readonly blob: string },
  at: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO earlier_blobs (${PAYLOAD_FIELDS.join(", ")}, blob, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [...PAYLOAD_FIELDS.map((f) => b[f]), b.blob, at.toISOString()],
  );
}

export interface ListFilter {
  /** Exact buyer e-mail, compared case-insensitively. */
  readonly email?: string;
  readonly tier?: Tier;
  readonly state?: LicenseState;
  /** Active licenses that expire within this many days from `now`. */
  readonly expiringWithinDays?: number;
  /** Text that name, e-mail or license key contains (case-insensitive). */
  readonly search?: string;
  /** Only rows after this cursor (from a previous page's `next_cursor`). */
  readonly after?: number;
  /** Page size. */
  readonly limit: number;
}

export interface LicensePage {
  readonly licenses: LicenseRecord[];
  /** Pass back as `after` for the next page; null on the last page. */
  readonly nextAfter: number | null;
}

/** The expression of the trigram index licenses_search (migration 8), written exactly as there. */
const SEARCH_TEXT = "(name || ' ' || email || ' ' || license_key)";

/** Escapes LIKE's wildcards so search text matches literally. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * One page of licenses, newest first, by keyset pagination on the internal
 * row id (stable under concurrent inserts, unlike OFFSET). Every filter value
 * is a bound parameter.
 */
export async function listLicenses(
  q: Queryable,
  filter: ListFilter,
  now: Date,
): Promise<LicensePage> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filter.email !== undefined) where.push(`email_norm = ${p(normalizeIdentity(filter.email))}`);
  if (filter.tier !== undefined) where.push(`tier = ${p(filter.tier)}`);
  const at = () => p(now.toISOString());
  if (filter.state !== undefined) where.push(STATE_WHERE[filter.state](at));
  if (filter.expiringWithinDays !== undefined) {
    const until = new Date(now.getTime() + filter.expiringWithinDays * 86_400_000);
    where.push(`${STATE_WHERE.active(at)} AND expires_at <= ${p(until.toISOString())}`);
  }
  if (filter.search !== undefined && filter.search !== "") {
    const pattern = p(likePattern(filter.search.normalize("NFC")));
    // The first condition is the one the trigram index licenses_search serves (migration 8);
    // the second, exact one is rechecked on the rows it finds.
    where.push(
      `${SEARCH_TEXT} ILIKE ${pattern} ESCAPE '\\'`,
      `(name ILIKE ${pattern} ESCAPE '\\' OR email ILIKE ${pattern} ESCAPE '\\' OR license_key ILIKE ${pattern} ESCAPE '\\')`,
    );
  }
  if (filter.after !== undefined) where.push(`id < ${p(filter.after)}`);
  const sql =
    `SELECT id, ${COLUMNS} FROM licenses` +
    (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY id DESC LIMIT ${p(filter.limit + 1)}`;
  const searching = filter.search !== undefined && filter.search !== "";
  // A trigram index's cost is estimated far above what it costs, so the planner would read
  // every row (PostgreSQL on small tables; PGlite, on 10,000 rows, every row by id order)
  // instead. A text search is told to use an index: the trigram one for text of three
  // characters or more (what a trigram is made of), else a walk by id.
  const { rows } =
    searching && "transaction" in q
      ? await (q as Pick<Database, "transaction">).transaction(async (tx) => {
          const trigrams = [...filter.search!].length >= 3;
          await tx.query(
            `SELECT set_config('enable_seqscan', 'off', true),
               set_config('enable_indexscan', ${trigrams ? "'off'" : "'on'"}, true)`,
          );
          return tx.query<Row>(sql, params);
        })
      : await q.query<Row>(sql, params);
  const more = rows.length > filter.limit;
  const page = more ? rows.slice(0, filter.limit) : rows;
  return {
    licenses: page.map(toRecord),
    nextAfter: more ? Number(page[page.length - 1]!.id) : null,
  };
}

/** License counts by tier and by state. */
export interface LicenseCounts {
  readonly total: number;
  readonly by_tier: Record<Tier, number>;
  readonly by_state: Record<LicenseState, number>;
}

const DAY_MS = 86_400_000;

/** Tally rows added since the last compaction (by this process) that make a counts read compact. */
const TALLY_SLACK = 5000;

// An arbitrary constant that names "compacting the license tally" among advisory locks.
const TALLY_LOCK = "7243012946113908";

/** The tally's size after this process last compacted it, by database. */
const compactedSize = new WeakMap<object, number>();

/**
 * License counts by tier and state, without reading every license: from the
 * tally the triggers of migration 8 keep (licenses by tier, status and day of
 * expiry), plus the active licenses that expire today, read from the
 * (status, expires_at) index, as only they may change state as the day goes
 * on. When the tally has grown by TALLY_SLACK rows since this process last
 * compacted it (or it first reads more than that), it is compacted (one
 * process at a time) after the answer is read.
 */
export async function countLicenses(q: Queryable, now: Date): Promise<LicenseCounts> {
  const day = Math.floor(now.getTime() / DAY_MS);
  const { rows } = await q.query<Row>(
    `SELECT tier,
       CASE WHEN status = 'active' AND expires_day < $1 THEN 'expired' ELSE status END AS state,
       sum(n)::bigint AS n, count(*)::bigint AS raw
     FROM license_tally WHERE NOT (status = 'active' AND expires_day = $1) GROUP BY 1, 2
     UNION ALL
     SELECT tier, CASE WHEN expires_at <= $2 THEN 'expired' ELSE 'active' END, count(*), 0
     FROM licenses
     WHERE status = 'active' AND expires_at >= $3 AND expires_at < $4 GROUP BY 1, 2`,
    [
      day,
      now.toISOString(),
      new Date(day * DAY_MS).toISOString(),
      new Date((day + 1) * DAY_MS).toISOString(),
    ],
  );
  const by_tier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<Tier, number>;
  const by_state = Object.fromEntries(LICENSE_STATES.map((s) => [s, 0])) as Record<
    LicenseState,
    number
  >;
  let total = 0;
  let raw = 0;
  for (const r of rows) {
    const n = Number(r.n);
    raw += Number(r.raw);
    if (n === 0) continue;
    by_tier[r.tier as Tier] = (by_tier[r.tier as Tier] ?? 0) + n;
    by_state[r.state as LicenseState] += n;
    total += n;
  }
  if (raw > (compactedSize.get(q) ?? 0) + TALLY_SLACK && "transaction" in q) {
    const size = await compactTally(q as Queryable & Pick<Database, "transaction">, now);
    if (size !== undefined) compactedSize.set(q, size);
  }
  return { total, by_tier, by_state };
}

/**
 * Replaces the tally's rows by one per group (their sums) and returns how many
 * that is, or undefined when another process is compacting it. Rows appended
 * meanwhile by other transactions are not seen by the DELETE and stay as they
 * are, so no count is lost. The days of expiry more than two days before `now`
 * become one (the counts only ask whether a day is before today, and today
 * only moves on), so the tally keeps a row per tier, status and day still to
 * come.
 */
export async function compactTally(
  db: Pick<Database, "transaction">,
  now: Date,
): Promise<number | undefined> {
  const past = Math.floor(now.getTime() / DAY_MS) - 2;
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_xact_lock(${TALLY_LOCK}) AS ok`,
    );
    if (!rows[0]?.ok) return undefined;
    const { rows: kept } = await tx.query<{ n: unknown }>(
      `WITH gone AS (DELETE FROM license_tally RETURNING tier, status, expires_day, n),
       kept AS (
         INSERT INTO license_tally (tier, status, expires_day, n)
         SELECT tier, status, greatest(expires_day, $1), sum(n) FROM gone GROUP BY 1, 2, 3
         HAVING sum(n) <> 0
         RETURNING 1)
       SELECT count(*)::int AS n FROM kept`,
      [past],
    );
    return Number(kept[0]?.n ?? 0);
  });
}

/** Stored licenses (current blobs) by the key id that signed them. */
export async function countByKid(q: Queryable): Promise<{ kid: string; n: number }[]> {
  const { rows } = await q.query<{ kid: string; n: unknown }>(
    "SELECT kid, count(*)::int AS n FROM licenses GROUP BY kid ORDER BY kid",
  );
  return rows.map((r) => ({ kid: String(r.kid), n: Number(r.n) }));
}

/** The active licenses that are nobody's predecessor: what a re-issue renews. */
const REISSUABLE = (now: string) => `${STATE_WHERE.active(() => now)} AND superseded_by IS NULL`;

/**
 * The keys of the active, not superseded licenses signed by another key than
 * `kid` (oldest first), and how many are already on `kid`.
 */
export async function reissueCandidates(
  q: Queryable,
  kid: string,
  now: Date,
): Promise<{ candidates: string[]; onKey: number }> {
  const { rows } = await q.query<{ license_key: string; on_key: boolean }>(
    `SELECT license_key, kid = $2 AS on_key FROM licenses WHERE ${REISSUABLE("$1")} ORDER BY id`,
    [now.toISOString(), kid],
  );
  return {
    candidates: rows.filter((r) => !r.on_key).map((r) => String(r.license_key)),
    onKey: rows.filter((r) => r.on_key).length,
  };
}

/** True when `r` is still what a re-issue renews (read again under its row lock). */
export function isReissuable(r: LicenseRecord, now: Date): boolean {
  return (
    licenseState(r.status, new Date(r.expires_at), now) === "active" && r.superseded_by === null
  );
}

/** One stored blob with the fields stored beside it, for an integrity check. */
export interface StoredBlob extends SignedFields {
  readonly blob: string;
  /** True for an earlier blob of the key (earlier_blobs), false for its current one. */
  readonly earlier: boolean;
}

/**
 * Every stored blob, current ones then earlier ones, `pageSize` at a time;
 * `onPage` is called for each page in order.
 */
export async function scanBlobs(
  q: Queryable,
  onPage: (blobs: StoredBlob[]) => void,
  pageSize = 1000,
): Promise<void> {
  const tables: [string, boolean][] = [["licenses", false]];
  const { rows: found } = await q.query<{ t: string | null }>(
    "SELECT to_regclass('earlier_blobs')::text AS t",
  );
  if (found[0]?.t) tables.push(["earlier_blobs", true]);
  for (const [table, earlier] of tables) {
    let after = 0;
    for (;;) {
      const { rows } = await q.query<Row>(
        `SELECT id, ${PAYLOAD_FIELDS.join(", ")}, blob FROM ${table}
         WHERE id > $1 ORDER BY id LIMIT $2`,
        [after, pageSize],
      );
      if (rows.length === 0) break;
      after = Number(rows[rows.length - 1]!.id);
      onPage(
        rows.map((r) => ({
          ...(Object.fromEntries(
            PAYLOAD_FIELDS.map((f) => [f, READ[f](r[f])]),
          ) as unknown as SignedFields),
          blob: String(r.blob),
          earlier,
        })),
      );
    }
  }
}
