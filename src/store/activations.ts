/**
 * Machine activations (seats) and the revocation list. A held seat is a row
 * with no released_at; at most one per (license, fingerprint). Releasing keeps
 * the row (released_at, released_by), so the history stays. Writes that count
 * seats run in the caller's transaction after it locked the license row
 * (`getLicense(tx, key, true)`), which makes the count exact across processes.
 */
import { Batcher } from "./batch.js";
import type { Queryable } from "./db.js";
import { insertEvent, type Actor } from "./licenses.js";

/** One seat a machine took, held or released. */
export interface Activation {
  readonly id: number;
  readonly license_key: string;
  readonly fingerprint: string;
  readonly hostname: string | null;
  readonly first_seen_at: string;
  readonly last_seen_at: string;
  readonly released_at: string | null;
  /** "machine" (the app released it), "reclaim" (unseen too long) or the admin token's name. */
  readonly released_by: string | null;
}

const COLUMNS =
  "id, license_key, fingerprint, hostname, first_seen_at, last_seen_at, released_at, released_by";

type Row = Record<string, unknown>;
const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown) => (v === null || v === undefined ? null : iso(v));
const textOrNull = (v: unknown) => (v === null || v === undefined ? null : String(v));

function toActivation(r: Row): Activation {
  return {
    id: Number(r.id),
    license_key: String(r.license_key),
    fingerprint: String(r.fingerprint),
    hostname: textOrNull(r.hostname),
    first_seen_at: iso(r.first_seen_at),
    last_seen_at: iso(r.last_seen_at),
    released_at: isoOrNull(r.released_at),
    released_by: textOrNull(r.released_by),
  };
}

/** The seat `fingerprint` holds on license `key`, or undefined. */
export async function heldActivation(
  q: Queryable,
  key: string,
  fingerprint: string,
): Promise<Activation | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM activations
     WHERE license_key = $1 AND fingerprint = $2 AND released_at IS NULL`,
    [key, fingerprint],
    "held_activation",
  );
  return rows[0] ? toActivation(rows[0]) : undefined;
}

/** How many seats of license `key` are held. */
export async function countHeld(q: Queryable, key: string): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>(
    "SELECT count(*)::int AS n FROM activations WHERE license_key = $1 AND released_at IS NULL",
    [key],
    "count_held",
  );
  return Number(rows[0]!.n);
}

/** A seat to refresh: the license, the machine and, from an activation, its host name. */
export interface SeatTouch {
  readonly key: string;
  readonly fingerprint: string;
  readonly hostname?: string | undefined;
}

/** What refreshing a seat found: the seat (undefined when not held) and the license's held seats. */
export interface TouchedSeat {
  readonly held: Activation | undefined;
  readonly used: number;
}

/**
 * Refreshes the seats `touches` name and counts each license's held seats, in
 * one statement (one round trip, however many seats). A seat's row is written
 * only when its last_seen_at is at or before `freshSince` or a new host name was
 * given: a machine checking in again within the granularity reads its seat
 * without writing it (no row lock, no WAL, no commit to wait for). Whether a
 * seat is held is decided on the statement's snapshot, and again under the
 * row's lock when it is written, so a seat released meanwhile is not held.
 * The results are in the order of `touches`.
 */
export async function touchSeats(
  q: Queryable,
  touches: readonly SeatTouch[],
  now: Date,
  freshSince: Date,
): Promise<TouchedSeat[]> {
  const { rows } = await q.query<Row>(
    `WITH req AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(k, fp, host, n)),
     h AS (
       SELECT a.id, a.license_key, a.fingerprint, a.hostname, a.first_seen_at, a.last_seen_at,
         req.n, req.host, (a.last_seen_at <= $5::timestamptz
           OR (req.host IS NOT NULL AND req.host IS DISTINCT FROM a.hostname)) AS stale
       FROM req JOIN activations a
         ON a.license_key = req.k AND a.fingerprint = req.fp AND a.released_at IS NULL),
     t AS (
       UPDATE activations a SET last_seen_at = greatest(a.last_seen_at, $4::timestamptz),
         hostname = coalesce(h.host, a.hostname)
       FROM h WHERE a.id = h.id AND h.stale AND a.released_at IS NULL
       RETURNING a.id, a.hostname, a.last_seen_at),
     c AS (
       SELECT license_key, count(*)::int AS used FROM activations
       WHERE license_key = ANY($1::text[]) AND released_at IS NULL GROUP BY license_key)
     SELECT req.n, coalesce(c.used, 0) AS used, h.stale, t.id AS touched,
       h.id, h.license_key, h.fingerprint, coalesce(t.hostname, h.hostname) AS hostname,
       h.first_seen_at, coalesce(t.last_seen_at, h.last_seen_at) AS last_seen_at,
       NULL AS released_at, NULL AS released_by
     FROM req LEFT JOIN h ON h.n = req.n LEFT JOIN t ON t.id = h.id
       LEFT JOIN c ON c.license_key = req.k
     ORDER BY req.n`,
    [
      touches.map((t) => t.key),
      touches.map((t) => t.fingerprint),
      touches.map((t) => t.hostname ?? null),
      now.toISOString(),
      freshSince.toISOString(),
    ],
    "touch_seats",
  );
  return rows.map((r) => {
    // Held: found on the snapshot, and (when it had to be written) still held under the lock.
    const found = r.id !== null && r.id !== undefined;
    const held = found && (r.stale !== true || (r.touched !== null && r.touched !== undefined));
    return { held: held ? toActivation(r) : undefined, used: Number(r.used) };
  });
}

/** {@link touchSeats} for one seat. */
export async function touchAndCount(
  q: Queryable,
  touch: SeatTouch,
  now: Date,
  freshSince: Date,
): Promise<TouchedSeat> {
  return (await touchSeats(q, [touch], now, freshSince))[0]!;
}

/**
 * {@link touchSeats} for a server: the seats of concurrent check-ins and repeat
 * activations are refreshed by one statement (see batch.ts); `clock` gives the
 * time and the granularity's cut-off when the statement is sent. Nothing is
 * cached: every answer is read after its request arrived.
 */
export function seatToucher(
  q: Queryable,
  clock: () => { now: Date; freshSince: Date },
): (touch: SeatTouch) => Promise<TouchedSeat> {
  const seats = new Batcher<string, TouchedSeat>(async (ids) => {
    const touches = ids.map((id) => {
      const [key, fingerprint, hostname] = id.split("\u0000") as [string, string, string];
      return { key, fingerprint, ...(hostname ? { hostname: hostname.slice(1) } : {}) };
    });
    const { now, freshSince } = clock();
    const found = await touchSeats(q, touches, now, freshSince);
    return new Map(ids.map((id, i) => [id, found[i]!]));
  });
  return async (t) => {
    // Host names never hold NUL (the request schema refuses it), fingerprints neither.
    const id = `${t.key}\u0000${t.fingerprint}\u0000${t.hostname === undefined ? "" : `h${t.hostname}`}`;
    return (await seats.get(id))!;
  };
}

/** Why a seat was taken or freed, for its audit event. */
function seatReason(a: Activation, extra?: string): string {
  const host = a.hostname ? ` on ${a.hostname}` : "";
  return `seat ${a.id}: machine ${a.fingerprint}${host}${extra ? `; ${extra}` : ""}`;
}

/**
 * Records a new seat and its `activate` event, in the caller's transaction
 * (which holds the license row's lock and has counted the seats).
 */
export async function insertActivation(
  tx: Queryable,
  key: string,
  fingerprint: string,
  hostname: string | undefined,
  who: Actor,
  now: Date,
): Promise<Activation> {
  const { rows } = await tx.query<Row>(
    `INSERT INTO activations (license_key, fingerprint, hostname, first_seen_at, last_seen_at)
     VALUES ($1, $2, $3, $4, $4) RETURNING ${COLUMNS}`,
    [key, fingerprint, hostname ?? null, now.toISOString()],
  );
  const a = toActivation(rows[0]!);
  await insertEvent(
    tx,
    key,
    { action: "activate", who, at: now, reason: seatReason(a) },
    null,
    null,
  );
  return a;
}

/**
 * Frees a held seat and records its event (`release`, or `reclaim` for a seat
 * unseen too long), in the caller's transaction. Undefined when the seat is
 * not held (already released) or, with `unseenSince`, was seen since then.
 */
export async function releaseActivation(
  tx: Queryable,
  id: number,
  action: "release" | "reclaim",
  who: Actor,
  now: Date,
  note?: string,
  unseenSince?: Date,
): Promise<Activation | undefined> {
  const { rows } = await tx.query<Row>(
    `UPDATE activations SET released_at = $2, released_by = $3
     WHERE id = $1 AND released_at IS NULL
       AND ($4::timestamptz IS NULL OR last_seen_at < $4::timestamptz)
     RETURNING ${COLUMNS}`,
    [id, now.toISOString(), who.actor, unseenSince?.toISOString() ?? null],
  );
  if (!rows[0]) return undefined;
  const a = toActivation(rows[0]);
  await insertEvent(
    tx,
    a.license_key,
    { action, who, at: now, reason: seatReason(a, note) },
    null,
    null,
  );
  return a;
}

/** One activation by id, or undefined. */
export async function getActivation(q: Queryable, id: number): Promise<Activation | undefined> {
  const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM activations WHERE id = $1`, [id]);
  return rows[0] ? toActivation(rows[0]) : undefined;
}

/** Every activation of a license, held ones first, then newest first. */
export async function listActivations(q: Queryable, key: string): Promise<Activation[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${COLUMNS} FROM activations WHERE license_key = $1
     ORDER BY (released_at IS NULL) DESC, id DESC`,
    [key],
  );
  return rows.map(toActivation);
}

/** Held seats last seen before `cutoff` (oldest first, at most `limit`): what a reclaim frees. */
export async function unseenActivations(
  q: Queryable,
  cutoff: Date,
  limit: number,
): Promise<{ id: number; license_key: string }[]> {
  const { rows } = await q.query<Row>(
    `SELECT id, license_key FROM activations
     WHERE released_at IS NULL AND last_seen_at < $1 ORDER BY last_seen_at, id LIMIT $2`,
    [cutoff.toISOString(), limit],
  );
  return rows.map((r) => ({ id: Number(r.id), license_key: String(r.license_key) }));
}

/** One entry of the revocation list. */
export interface RevokedEntry {
  readonly license_key: string;
  readonly state: "revoked" | "suspended";
  /** When the license got that status. */
  readonly since: string;
}

/**
 * Every revoked and suspended license (by key), and the list's serial: the id
 * of the latest status change (revoke, suspend, reinstate), which only grows
 * because event ids follow the events' chain. Read in one snapshot.
 */
export async function revocationList(
  q: Queryable,
): Promise<{ serial: number; revoked: RevokedEntry[] }> {
  const { rows } = await q.query<Row>(
    `WITH serial AS (
       SELECT coalesce(max(id), 0)::bigint AS serial FROM events
       WHERE action IN ('revoke', 'suspend', 'reinstate'))
     SELECT (SELECT serial FROM serial) AS serial, l.license_key, l.status,
       coalesce((SELECT max(e.at) FROM events e
         WHERE e.license_key = l.license_key AND e.action IN ('revoke', 'suspend')),
         l.updated_at) AS since
     FROM (SELECT 1) one
     LEFT JOIN licenses l ON l.status IN ('revoked', 'suspended')
     ORDER BY l.license_key COLLATE "C"`,
  );
  const serial = Number(rows[0]?.serial ?? 0);
  const revoked = rows
    .filter((r) => r.license_key !== null && r.license_key !== undefined)
    .map((r) => ({
      license_key: String(r.license_key),
      state: r.status as RevokedEntry["state"],
      since: iso(r.since),
    }));
  return { serial, revoked };
}
