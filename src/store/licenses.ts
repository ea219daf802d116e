/**
 * The licenses table and its audit trail. Every write here also writes an
 * event (who, what, when, before/after) in the same statement or transaction;
 * nothing is ever deleted.
 */
import { TIERS, type Tier } from "../core/catalogue.js";
import { formatTime, normalizeIdentity, type LicensePayload } from "../core/license.js";
import { LicenseError } from "../core/errors.js";
import { Batcher } from "./batch.js";
import type { Database, Queryable } from "./db.js";

/** The state a license row is in; "expired" is derived from expires_at, never stored. */
export const LICENSE_STATUSES = ["active", "suspended", "revoked"] as const;
export type LicenseStatus = (typeof LICENSE_STATUSES)[number];

/** Where a row came from. */
export type LicenseSource = "api" | "import";

/** The signed payload's fields, as a row stores them beside the blob. */
export type SignedFields = Omit<LicensePayload, "v">;

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
}

/** What is inserted for a new license (the signed payload's fields and the blob). */
export interface NewLicense extends SignedFields {
  readonly blob: string;
  readonly source: LicenseSource;
  readonly supersedes?: string | null;
}

/** Who made a change, for the audit trail. */
export interface Actor {
  /** The admin token's name, or e.g. "import" / "cli". */
  readonly actor: string;
  readonly requestId?: string | null;
}

/** One audit event. */
export interface LicenseEvent {
  readonly id: number;
  readonly license_key: string;
  readonly action: string;
  readonly actor: string;
  readonly reason: string | null;
  readonly request_id: string | null;
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  readonly at: string;
}

const COLUMNS = `license_key, name, email, tier, issued_at, expires_at, kid, blob, status,
  status_reason, supersedes, superseded_by, source, created_at, updated_at`;

type Row = Record<string, unknown>;

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const rfc = (v: unknown): string => formatTime(v instanceof Date ? v : new Date(String(v)));
const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : String(v);

function toRecord(r: Row): LicenseRecord {
  return {
    license_key: String(r.license_key),
    name: String(r.name),
    email: String(r.email),
    tier: r.tier as Tier,
    issued_at: rfc(r.issued_at),
    expires_at: rfc(r.expires_at),
    kid: String(r.kid),
    blob: String(r.blob),
    status: r.status as LicenseStatus,
    status_reason: textOrNull(r.status_reason),
    supersedes: textOrNull(r.supersedes),
    superseded_by: textOrNull(r.superseded_by),
    source: r.source as LicenseSource,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

/** The part of a license an event's before/after shows. */
export function snapshot(r: LicenseRecord): Record<string, unknown> {
  return {
    status: r.status,
    status_reason: r.status_reason,
    tier: r.tier,
    expires_at: r.expires_at,
    supersedes: r.supersedes,
    superseded_by: r.superseded_by,
  };
}

/**
 * Inserts a license and its "issue" (or "import") event in one statement,
 * which PostgreSQL runs atomically. A taken license_key fails with SQLSTATE
 * 23505 on the constraint `licenses_pkey`.
 */
export async function insertLicense(
  q: Queryable,
  l: NewLicense,
  who: Actor,
  now: Date,
  action = "issue",
): Promise<LicenseRecord> {
  const at = now.toISOString();
  const after = afterInsert(l);
  const { rows } = await q.query<Row>(
    `WITH l AS (
       INSERT INTO licenses (license_key, name, email, email_norm, tier, issued_at, expires_at,
         kid, blob, source, supersedes, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
       RETURNING ${COLUMNS}),
     e AS (
       INSERT INTO events (license_key, action, actor, request_id, before, after, at)
       SELECT license_key, $13, $14, $15, NULL, $16::text::jsonb, $12 FROM l)
     SELECT * FROM l`,
    [
      l.license_key,
      l.name,
      l.email,
      normalizeIdentity(l.email),
      l.tier,
      l.issued_at,
      l.expires_at,
      l.kid,
      l.blob,
      l.source,
      l.supersedes ?? null,
      at,
      action,
      who.actor,
      who.requestId ?? null,
      JSON.stringify(after),
    ],
    "insert_license",
  );
  return toRecord(rows[0]!);
}

interface PendingInsert {
  readonly l: NewLicense;
  readonly who: Actor;
  readonly now: Date;
  readonly ok: (r: LicenseRecord) => void;
  readonly fail: (err: unknown) => void;
}

/**
 * {@link insertLicense} for a server: licenses issued by concurrent requests
 * in the same turn of the event loop go in as one statement (each row still
 * with its own event, all committed together: a group commit). If that
 * statement fails — a supplied license_key already taken, say — each license
 * is inserted on its own again, so every request gets its own answer or error
 * exactly as if it had been alone.
 */
export function licenseInserter(
  q: Queryable,
  maxRows = 200,
): (l: NewLicense, who: Actor, now: Date) => Promise<LicenseRecord> {
  let pending: PendingInsert[] = [];
  let scheduled = false;
  const alone = (p: PendingInsert) => insertLicense(q, p.l, p.who, p.now).then(p.ok, p.fail);
  const flush = () => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    if (batch.length === 1) {
      void alone(batch[0]!);
      return;
    }
    insertMany(q, batch).then(
      (rows) => {
        for (const p of batch) {
          const r = rows.get(p.l.license_key);
          if (r) p.ok(r);
          else void alone(p);
        }
      },
      () => {
        for (const p of batch) void alone(p);
      },
    );
  };
  return (l, who, now) =>
    new Promise<LicenseRecord>((ok, fail) => {
      pending.push({ l, who, now, ok, fail });
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

async function insertMany(
  q: Queryable,
  batch: readonly PendingInsert[],
): Promise<Map<string, LicenseRecord>> {
  const col = (f: (p: PendingInsert) => unknown) => batch.map(f);
  const { rows } = await q.query<Row>(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[],
         $12::timestamptz[], $13::text[], $14::text[], $15::text[])
         AS t(license_key, name, email, email_norm, tier, issued_at, expires_at, kid, blob,
           source, supersedes, at, actor, request_id, after)),
     l AS (
       INSERT INTO licenses (license_key, name, email, email_norm, tier, issued_at, expires_at,
         kid, blob, source, supersedes, created_at, updated_at)
       SELECT license_key, name, email, email_norm, tier, issued_at, expires_at, kid, blob,
         source, supersedes, at, at FROM input
       RETURNING ${COLUMNS}),
     e AS (
       INSERT INTO events (license_key, action, actor, request_id, before, after, at)
       SELECT i.license_key, 'issue', i.actor, i.request_id, NULL, i.after::jsonb, i.at
       FROM input i JOIN l ON l.license_key = i.license_key)
     SELECT * FROM l`,
    [
      col((p) => p.l.license_key),
      col((p) => p.l.name),
      col((p) => p.l.email),
      col((p) => normalizeIdentity(p.l.email)),
      col((p) => p.l.tier),
      col((p) => p.l.issued_at),
      col((p) => p.l.expires_at),
      col((p) => p.l.kid),
      col((p) => p.l.blob),
      col((p) => p.l.source),
      col((p) => p.l.supersedes ?? null),
      col((p) => p.now.toISOString()),
      col((p) => p.who.actor),
      col((p) => p.who.requestId ?? null),
      col((p) => JSON.stringify(afterInsert(p.l))),
    ],
    "insert_licenses",
  );
  return new Map(rows.map((r) => [String(r.license_key), toRecord(r)]));
}

function afterInsert(l: NewLicense): Record<string, unknown> {
  return {
    status: "active",
    status_reason: null,
    tier: l.tier,
    expires_at: l.expires_at,
    supersedes: l.supersedes ?? null,
    superseded_by: null,
  };
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

/** What the public verify endpoint needs to know about a key. */
export interface LicenseState {
  readonly status: LicenseStatus;
  readonly expires_at: Date;
  readonly blob: string;
  readonly superseded_by: string | null;
}

type StateRow = {
  license_key: unknown;
  status: unknown;
  expires_at: unknown;
  blob: unknown;
  superseded_by: unknown;
};

function toState(r: StateRow | undefined): LicenseState | undefined {
  if (!r) return undefined;
  return {
    status: r.status as LicenseStatus,
    expires_at: r.expires_at instanceof Date ? r.expires_at : new Date(String(r.expires_at)),
    blob: String(r.blob),
    superseded_by: textOrNull(r.superseded_by),
  };
}

/** The state of the license with this key, or undefined (a hot read: a named prepared statement). */
export async function getLicenseState(
  q: Queryable,
  key: string,
): Promise<LicenseState | undefined> {
  const { rows } = await q.query<StateRow>(
    "SELECT license_key, status, expires_at, blob, superseded_by FROM licenses WHERE license_key = $1",
    [key],
    "license_state",
  );
  return toState(rows[0]);
}

/**
 * {@link getLicenseState} for a server: concurrent verify requests' reads share
 * one query (see batch.ts). Nothing is cached; every answer is read after the
 * request arrived, so a revocation is seen at once.
 */
export function licenseStateReader(
  q: Queryable,
): (key: string) => Promise<LicenseState | undefined> {
  const rows = new Batcher<string, StateRow>(async (keys) => {
    const { rows } = await q.query<StateRow>(
      `SELECT license_key, status, expires_at, blob, superseded_by FROM licenses
       WHERE license_key = ANY($1::text[])`,
      [keys],
      "license_states",
    );
    return new Map(rows.map((r) => [String(r.license_key), r]));
  });
  return async (key) => toState(await rows.get(key));
}

/** Changes a license's status and records the event, in the caller's transaction. */
export async function setStatus(
  tx: Queryable,
  before: LicenseRecord,
  status: LicenseStatus,
  action: string,
  reason: string,
  who: Actor,
  now: Date,
): Promise<LicenseRecord> {
  const { rows } = await tx.query<Row>(
    `UPDATE licenses SET status = $2, status_reason = $3, updated_at = $4
     WHERE license_key = $1 RETURNING ${COLUMNS}`,
    [before.license_key, status, reason, now.toISOString()],
  );
  const after = toRecord(rows[0]!);
  await insertEvent(tx, after.license_key, action, who, now, before, after, reason);
  return after;
}

/** Records that `oldKey` was replaced by `newKey` (a renewal), with its event. */
export async function markSuperseded(
  tx: Queryable,
  before: LicenseRecord,
  newKey: string,
  who: Actor,
  now: Date,
): Promise<LicenseRecord> {
  const { rows } = await tx.query<Row>(
    `UPDATE licenses SET superseded_by = $2, updated_at = $3
     WHERE license_key = $1 RETURNING ${COLUMNS}`,
    [before.license_key, newKey, now.toISOString()],
  );
  const after = toRecord(rows[0]!);
  await insertEvent(tx, after.license_key, "supersede", who, now, before, after, null);
  return after;
}

/** An earlier blob of a license key (see {@link addBlob}), as verify needs it. */
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
  const r = rows[0];
  if (!r) return undefined;
  return {
    expires_at: r.expires_at instanceof Date ? r.expires_at : new Date(String(r.expires_at)),
  };
}

/** Which of two blobs of one key is the later: by issue time, then expiry, then text (for a stable answer). */
function isLater(a: SignedFields & { blob: string }, b: SignedFields & { blob: string }): boolean {
  if (a.issued_at !== b.issued_at) return a.issued_at > b.issued_at;
  if (a.expires_at !== b.expires_at) return a.expires_at > b.expires_at;
  return a.blob > b.blob;
}

/**
 * Records a genuine blob under a license key the store may already hold: a vendor
 * re-mints a buyer with the same key to renew them (docs/ADMIN.md). A key not yet
 * stored is inserted as a new license (action `import`). Under a stored key, for the
 * same buyer (e-mail compared case-insensitively):
 * - the blob already held (current or earlier) → `already_present`, nothing written;
 * - a later blob (issue time, then expiry) becomes the current one, the previous
 *   current blob is kept as an earlier blob, and an `import-renewal` event is written;
 * - an earlier blob is kept beside the current one (`import-earlier` event).
 * The license's status (revoked, suspended) applies to every blob of the key.
 * Another buyer's key is refused with LICENSE_KEY_TAKEN, writing nothing.
 */
export async function addBlob(
  db: Database,
  l: NewLicense,
  who: Actor,
  now: Date,
): Promise<"imported" | "already_present"> {
  return db.transaction(async (tx) => {
    const current = await getLicense(tx, l.license_key, true);
    if (!current) {
      await insertLicense(tx, l, who, now, "import");
      return "imported";
    }
    if (current.blob === l.blob || (await findEarlierBlob(tx, l.license_key, l.blob))) {
      return "already_present";
    }
    if (normalizeIdentity(current.email) !== normalizeIdentity(l.email)) {
      throw new LicenseError(
        "LICENSE_KEY_TAKEN",
        `license key ${l.license_key} is stored for another buyer`,
      );
    }
    const at = now.toISOString();
    const keep = (b: SignedFields & { blob: string }) =>
      tx.query(
        `INSERT INTO earlier_blobs (license_key, name, email, tier, issued_at, expires_at, kid,
           blob, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [b.license_key, b.name, b.email, b.tier, b.issued_at, b.expires_at, b.kid, b.blob, at],
      );
    if (!isLater(l, current)) {
      await keep(l);
      await insertEvent(
        tx,
        l.license_key,
        "import-earlier",
        who,
        now,
        current,
        current,
        `an earlier blob of this key (issued ${l.issued_at}, expires ${l.expires_at}) was recorded`,
      );
      return "imported";
    }
    await keep(current);
    const { rows } = await tx.query<Row>(
      `UPDATE licenses SET name = $2, email = $3, email_norm = $4, tier = $5, issued_at = $6,
         expires_at = $7, kid = $8, blob = $9, updated_at = $10
       WHERE license_key = $1 RETURNING ${COLUMNS}`,
      [
        l.license_key,
        l.name,
        l.email,
        normalizeIdentity(l.email),
        l.tier,
        l.issued_at,
        l.expires_at,
        l.kid,
        l.blob,
        at,
      ],
    );
    await insertEvent(
      tx,
      l.license_key,
      "import-renewal",
      who,
      now,
      current,
      toRecord(rows[0]!),
      `a later blob of this key (issued ${l.issued_at}) replaced the one issued ${current.issued_at}`,
    );
    return "imported";
  });
}

/** Appends one audit event. */
export async function insertEvent(
  q: Queryable,
  key: string,
  action: string,
  who: Actor,
  now: Date,
  before: LicenseRecord | null,
  after: LicenseRecord | null,
  reason: string | null,
): Promise<void> {
  await q.query(
    `INSERT INTO events (license_key, action, actor, reason, request_id, before, after, at)
     VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, $8)`,
    [
      key,
      action,
      who.actor,
      reason,
      who.requestId ?? null,
      before ? JSON.stringify(snapshot(before)) : null,
      after ? JSON.stringify(snapshot(after)) : null,
      now.toISOString(),
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
    action: String(r.action),
    actor: String(r.actor),
    reason: textOrNull(r.reason),
    request_id: textOrNull(r.request_id),
    before: (r.before ?? null) as Record<string, unknown> | null,
    after: (r.after ?? null) as Record<string, unknown> | null,
    at: iso(r.at),
  }));
}

/** The derived states a list can be filtered on. */
export const LICENSE_STATES = ["active", "expired", "suspended", "revoked"] as const;
export type LicenseStateFilter = (typeof LICENSE_STATES)[number];

export interface ListFilter {
  /** Exact buyer e-mail, compared case-insensitively. */
  readonly email?: string;
  readonly tier?: Tier;
  readonly state?: LicenseStateFilter;
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
  if (filter.state !== undefined) {
    if (filter.state === "expired") {
      where.push(`status = 'active' AND expires_at <= ${p(now.toISOString())}`);
    } else if (filter.state === "active") {
      where.push(`status = 'active' AND expires_at > ${p(now.toISOString())}`);
    } else {
      where.push(`status = ${p(filter.state)}`);
    }
  }
  if (filter.expiringWithinDays !== undefined) {
    const until = new Date(now.getTime() + filter.expiringWithinDays * 86_400_000);
    where.push(
      `status = 'active' AND expires_at > ${p(now.toISOString())} AND expires_at <= ${p(until.toISOString())}`,
    );
  }
  if (filter.search !== undefined && filter.search !== "") {
    const pattern = p(likePattern(filter.search.normalize("NFC")));
    where.push(
      `(name ILIKE ${pattern} ESCAPE '\\' OR email ILIKE ${pattern} ESCAPE '\\' OR license_key ILIKE ${pattern} ESCAPE '\\')`,
    );
  }
  if (filter.after !== undefined) where.push(`id < ${p(filter.after)}`);
  const sql =
    `SELECT id, ${COLUMNS} FROM licenses` +
    (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY id DESC LIMIT ${p(filter.limit + 1)}`;
  const { rows } = await q.query<Row>(sql, params);
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
  readonly by_state: Record<LicenseStateFilter, number>;
}

export async function countLicenses(q: Queryable, now: Date): Promise<LicenseCounts> {
  const { rows } = await q.query<Row>(
    `SELECT tier,
       CASE WHEN status = 'active' AND expires_at <= $1 THEN 'expired' ELSE status END AS state,
       count(*)::int AS n
     FROM licenses GROUP BY 1, 2`,
    [now.toISOString()],
  );
  const by_tier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<Tier, number>;
  const by_state = Object.fromEntries(LICENSE_STATES.map((s) => [s, 0])) as Record<
    LicenseStateFilter,
    number
  >;
  let total = 0;
  for (const r of rows) {
    const n = Number(r.n);
    by_tier[r.tier as Tier] += n;
    by_state[r.state as LicenseStateFilter] += n;
    total += n;
  }
  return { total, by_tier, by_state };
}
