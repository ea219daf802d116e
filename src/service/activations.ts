/**
 * The online check-in workflows: a machine activates (takes a seat of its
 * license), checks in (refreshes its seat and learns the license's state),
 * releases its seat; admins list and release seats; seats unseen too long are
 * reclaimed; the revocation list. Every answer to a machine is one body shape
 * with an HTTP status (docs/API.md, "Online check-in"); the route signs it.
 */
import { LicenseError, isLicenseError } from "../core/errors.js";
import { parseTime } from "../core/license.js";
import {
  countHeld,
  getActivation,
  heldActivation,
  insertActivation,
  listActivations,
  releaseActivation,
  revocationList as readRevocationList,
  touchAndCount,
  unseenActivations,
  type Activation,
  type RevokedEntry,
} from "../store/activations.js";
import type { Queryable } from "../store/db.js";
import {
  findEarlierBlob,
  getLicense,
  licenseState,
  updateLicense,
  type Actor,
  type LicenseRecord,
  type LicenseState,
} from "../store/licenses.js";
import { seenClock, type ServiceContext } from "./context.js";
import { validateSeats } from "./licenses.js";

export type { Activation, RevokedEntry } from "../store/activations.js";

/** What a machine sends: its license, its fingerprint and a fresh nonce (and, to activate, its host name). */
export interface MachineRequest {
  readonly blob: string;
  readonly fingerprint: string;
  readonly nonce: string;
  readonly hostname?: string;
}

/** A seat as a machine is shown it. */
export interface SeatView {
  readonly id: number;
  readonly fingerprint: string;
  readonly hostname: string | null;
  readonly first_seen_at: string;
  readonly last_seen_at: string;
}

/** The answer body of activate, release and check-in (fields in this order on the wire). */
export interface MachineAnswer {
  readonly code: string;
  readonly message: string;
  readonly license_key: string | null;
  readonly state: LicenseState | "unknown";
  readonly expires_at: string | null;
  readonly seats: { readonly limit: number | null; readonly used: number } | null;
  readonly activation: SeatView | null;
  readonly nonce: string;
  readonly server_time: string;
}

/** An answer and its HTTP status. */
export interface MachineOutcome {
  readonly status: number;
  readonly body: MachineAnswer;
}

const STATE_CODES = {
  expired: "EXPIRED",
  suspended: "SUSPENDED",
  revoked: "REVOKED",
} as const;

const STATE_MESSAGES = {
  expired: "the license has expired",
  suspended: "the license is suspended",
  revoked: "the license was revoked",
} as const;

/** Who acts when a machine calls a public endpoint, for the audit trail. */
export const MACHINE_ACTOR = "machine";
/** Who acts when a seat unseen too long is freed. */
export const RECLAIM_ACTOR = "reclaim";

const view = (a: Activation): SeatView => ({
  id: a.id,
  fingerprint: a.fingerprint,
  hostname: a.hostname,
  first_seen_at: a.first_seen_at,
  last_seen_at: a.last_seen_at,
});

/** What the check-in needs of a stored license. */
interface StoredLicense {
  readonly status: LicenseRecord["status"];
  readonly expires: Date;
  readonly blob: string;
  readonly seats: number | null;
}

type Read =
  | { readonly kind: "not-genuine"; readonly code: string; readonly message: string }
  | { readonly kind: "unknown"; readonly key: string; readonly expiresAt: string }
  | {
      readonly kind: "known";
      readonly key: string;
      readonly expiresAt: string;
      readonly row: StoredLicense;
      readonly state: LicenseState;
    };

/** The license row: locked until the transaction ends, or through the server's shared hot read. */
async function storedLicense(
  ctx: ServiceContext,
  q: Queryable,
  key: string,
  lock: boolean,
): Promise<StoredLicense | undefined> {
  if (!lock) {
    const row = await ctx.hot.verifyRow(key);
    return row && { status: row.status, expires: row.expires_at, blob: row.blob, seats: row.seats };
  }
  const row = await getLicense(q, key, true);
  return (
    row && {
      status: row.status,
      expires: parseTime(row.expires_at)!,
      blob: row.blob,
      seats: row.seats,
    }
  );
}

/**
 * Reads the blob (genuine under the ring?) and the license it names (locked
 * until the transaction ends when `lock`; else through the shared hot read):
 * the key's current blob or an earlier one of it, as verify counts them.
 */
async function readLicense(
  ctx: ServiceContext,
  q: Queryable,
  text: string,
  lock: boolean,
): Promise<Read> {
  let payload;
  let blob: string;
  try {
    // Through the server's cache of verified signatures (only what the signature proves).
    ({ payload, blob } = ctx.hot.verifyBlob(text));
  } catch (err) {
    if (!isLicenseError(err)) throw err;
    return { kind: "not-genuine", code: err.code, message: err.message };
  }
  const key = payload.license_key;
  const row = await storedLicense(ctx, q, key, lock);
  const unknown = { kind: "unknown", key, expiresAt: payload.expires_at } as const;
  if (!row) return unknown;
  let expires: Date;
  if (row.blob === blob) {
    expires = row.expires;
  } else {
    const earlier = await findEarlierBlob(q, key, blob);
    if (!earlier) return unknown;
    expires = earlier.expires_at;
  }
  const state = licenseState(row.status, expires, ctx.now());
  return { kind: "known", key, expiresAt: payload.expires_at, row, state };
}

/** Builds answers for one request: the nonce and the server time are always the same. */
function answerer(ctx: ServiceContext, nonce: string) {
  return (
    status: number,
    fields: Omit<MachineAnswer, "nonce" | "server_time">,
  ): MachineOutcome => ({
    status,
    body: { ...fields, nonce, server_time: ctx.now().toISOString() },
  });
}

/** The answer for a request whose blob is not genuine, not on this server, or (`known`) not active. */
function refusal(
  answer: ReturnType<typeof answerer>,
  read: Read,
  seats: MachineAnswer["seats"] = null,
): MachineOutcome {
  if (read.kind === "not-genuine") {
    return answer(403, {
      code: read.code,
      message: read.message,
      license_key: null,
      state: "unknown",
      expires_at: null,
      seats: null,
      activation: null,
    });
  }
  if (read.kind === "unknown") {
    return answer(403, {
      code: "UNKNOWN",
      message: "the server has no record of this license",
      license_key: read.key,
      state: "unknown",
      expires_at: read.expiresAt,
      seats: null,
      activation: null,
    });
  }
  const s = read.state as keyof typeof STATE_CODES;
  return answer(403, {
    code: STATE_CODES[s],
    message: STATE_MESSAGES[s],
    license_key: read.key,
    state: read.state,
    expires_at: read.expiresAt,
    seats,
    activation: null,
  });
}

const seatsWord = (n: number) => `${n} seat${n === 1 ? "" : "s"}`;

/**
 * Activates a machine: 201 ACTIVATED for a new seat, 200 ALREADY_ACTIVE when
 * the fingerprint holds one (free; refreshes last_seen_at when it is
 * LAST_SEEN_GRANULARITY_S old, and a new host name at once), 409
 * SEAT_LIMIT_REACHED, or 403 with the license's state or the blob's code.
 * A repeat (the fingerprint holds a seat) and a refusal are answered without
 * a lock; taking a seat locks the license's row while the seats are counted,
 * so the limit holds under concurrent activations in any number of server
 * processes.
 *
 * @example
 * ```ts
 * const { status, body } = await activateMachine(ctx, { blob, fingerprint, nonce }, { actor: "machine" });
 * ```
 */
export async function activateMachine(
  ctx: ServiceContext,
  req: MachineRequest,
  who: Actor,
): Promise<MachineOutcome> {
  const answer = answerer(ctx, req.nonce);
  /** One pass; without the lock it answers only what needs none, else undefined. */
  const attempt = async (q: Queryable, locked: boolean): Promise<MachineOutcome | undefined> => {
    const read = await readLicense(ctx, q, req.blob, locked);
    if (read.kind !== "known") return refusal(answer, read);
    const limit = read.row.seats;
    if (read.state !== "active") {
      return refusal(answer, read, { limit, used: await countHeld(q, read.key) });
    }
    const base = { license_key: read.key, state: read.state, expires_at: read.expiresAt };
    const touch = { key: read.key, fingerprint: req.fingerprint, hostname: req.hostname };
    const seen = seenClock(ctx.now)();
    const now = seen.now;
    // Unlocked (a repeat is the common case), through the server's shared statement.
    const { held, used } = locked
      ? await touchAndCount(q, touch, now, seen.freshSince)
      : await ctx.hot.touchSeat(touch);
    if (held) {
      return answer(200, {
        code: "ALREADY_ACTIVE",
        message: "this machine already holds a seat of the license",
        ...base,
        seats: { limit, used },
        activation: view(held),
      });
    }
    if (!locked) return undefined;
    if (limit !== null && used >= limit) {
      return answer(409, {
        code: "SEAT_LIMIT_REACHED",
        message:
          `all ${seatsWord(limit)} ${limit === 1 ? "is" : "are"} taken; release a seat on a machine ` +
          "that holds one (or ask the vendor to), then activate again",
        ...base,
        seats: { limit, used },
        activation: null,
      });
    }
    const created = await insertActivation(q, read.key, req.fingerprint, req.hostname, who, now);
    return answer(201, {
      code: "ACTIVATED",
      message:
        limit === null
          ? "this machine now holds a seat of the license"
          : `this machine now holds one of the license's ${seatsWord(limit)} (${used + 1} in use)`,
      ...base,
      seats: { limit, used: used + 1 },
      activation: view(created),
    });
  };
  const quick = await attempt(ctx.db, false);
  if (quick) return quick;
  // Read again under the lock: the license or its seats may have changed meanwhile.
  return ctx.db.transaction(async (tx) => (await attempt(tx, true))!);
}

/**
 * Frees the seat a machine holds: 200 RELEASED (whatever the license's
 * state), 404 NOT_ACTIVATED when it holds none, 403 UNKNOWN or the blob's code.
 */
export function releaseMachine(
  ctx: ServiceContext,
  req: MachineRequest,
  who: Actor,
): Promise<MachineOutcome> {
  const answer = answerer(ctx, req.nonce);
  return ctx.db.transaction(async (tx) => {
    const read = await readLicense(ctx, tx, req.blob, true);
    if (read.kind !== "known") return refusal(answer, read);
    const limit = read.row.seats;
    const base = { license_key: read.key, state: read.state, expires_at: read.expiresAt };
    const held = await heldActivation(tx, read.key, req.fingerprint);
    const released = held
      ? await releaseActivation(tx, held.id, "release", who, ctx.now())
      : undefined;
    const used = await countHeld(tx, read.key);
    if (!released) {
      return answer(404, {
        code: "NOT_ACTIVATED",
        message: "this machine holds no seat of the license; nothing was released",
        ...base,
        seats: { limit, used },
        activation: null,
      });
    }
    return answer(200, {
      code: "RELEASED",
      message: "the seat was released; the license may now be activated on another machine",
      ...base,
      seats: { limit, used },
      activation: view(released),
    });
  });
}

/**
 * A machine checks in: 200 VALID (active, and the fingerprint holds a seat,
 * whose last_seen_at is refreshed), 403 with the license's state or the
 * blob's code, 404 NOT_ACTIVATED (no seat: activate again). No transaction: the
 * license's row (read fresh, shared with concurrent requests) and one statement
 * that refreshes the seat and counts the seats (shared too, see
 * store/activations.ts `seatToucher`); last_seen_at is written only when it is
 * LAST_SEEN_GRANULARITY_S old (context.ts), so most check-ins write nothing.
 */
export async function checkIn(ctx: ServiceContext, req: MachineRequest): Promise<MachineOutcome> {
  const answer = answerer(ctx, req.nonce);
  const q = ctx.db;
  const read = await readLicense(ctx, q, req.blob, false);
  if (read.kind !== "known") return refusal(answer, read);
  const limit = read.row.seats;
  if (read.state !== "active") {
    return refusal(answer, read, { limit, used: await countHeld(q, read.key) });
  }
  const base = { license_key: read.key, state: read.state, expires_at: read.expiresAt };
  const { held, used } = await ctx.hot.touchSeat({ key: read.key, fingerprint: req.fingerprint });
  if (!held) {
    return answer(404, {
      code: "NOT_ACTIVATED",
      message:
        "this machine holds no seat of the license (it was released or reclaimed); activate it again",
      ...base,
      seats: { limit, used },
      activation: null,
    });
  }
  return answer(200, {
    code: "VALID",
    message: "the license is valid and this machine holds a seat",
    ...base,
    seats: { limit, used },
    activation: view(held),
  });
}

/**
 * Changes a license's seat limit (null: none), with a `set-seats` event whose
 * reason says from what to what. Seats already held stay held when the limit
 * drops below them; new machines are refused until enough are released.
 * SEATS_INVALID before anything is read; NOT_FOUND for an unknown key.
 */
export async function setSeatLimit(
  ctx: ServiceContext,
  key: string,
  seats: unknown,
  who: Actor,
): Promise<LicenseRecord> {
  const limit = validateSeats(seats);
  return ctx.db.transaction(async (tx) => {
    const before = await getLicense(tx, key, true);
    if (!before) throw new LicenseError("NOT_FOUND", `no license with key ${key.slice(0, 100)}`);
    const shown = (n: number | null) => (n === null ? "no limit" : String(n));
    return updateLicense(
      tx,
      before,
      { seats: limit },
      {
        action: "set-seats",
        who,
        at: ctx.now(),
        reason: `seats ${shown(before.seats)} → ${shown(limit)}`,
      },
    );
  });
}

/** A license's seats, for admins. */
export interface SeatList {
  readonly license_key: string;
  readonly seats: { readonly limit: number | null; readonly used: number };
  /** Held seats first, then released ones, newest first. */
  readonly activations: Activation[];
}

/** Every activation of a license (NOT_FOUND for an unknown key). */
export async function licenseActivations(ctx: ServiceContext, key: string): Promise<SeatList> {
  const license = await getLicense(ctx.db, key);
  if (!license) throw new LicenseError("NOT_FOUND", `no license with key ${key.slice(0, 100)}`);
  const activations = await listActivations(ctx.db, key);
  return {
    license_key: key,
    seats: { limit: license.seats, used: activations.filter((a) => !a.released_at).length },
    activations,
  };
}

/**
 * An admin frees a seat by its id, with a `release` event naming the admin.
 * NOT_FOUND for an unknown id; LICENSE_STATE_CONFLICT when it is already free.
 */
export async function releaseSeat(
  ctx: ServiceContext,
  id: number,
  who: Actor,
): Promise<Activation> {
  const found = await getActivation(ctx.db, id);
  if (!found) throw new LicenseError("NOT_FOUND", `no activation with id ${id}`);
  return ctx.db.transaction(async (tx) => {
    await getLicense(tx, found.license_key, true);
    const released = await releaseActivation(tx, id, "release", who, ctx.now());
    if (!released) {
      const again = await getActivation(tx, id);
      throw new LicenseError(
        "LICENSE_STATE_CONFLICT",
        `activation ${id} was already released at ${again?.released_at ?? "?"}`,
      );
    }
    return released;
  });
}

/**
 * Frees every seat not seen for `days` days, each with a `reclaim` event;
 * returns how many. A seat that checks in meanwhile is kept.
 */
export async function reclaimUnseenSeats(ctx: ServiceContext, days: number): Promise<number> {
  const now = ctx.now();
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  const who: Actor = { actor: RECLAIM_ACTOR };
  let total = 0;
  for (;;) {
    const batch = await unseenActivations(ctx.db, cutoff, 100);
    if (batch.length === 0) return total;
    for (const { id, license_key } of batch) {
      const done = await ctx.db.transaction(async (tx) => {
        await getLicense(tx, license_key, true);
        return releaseActivation(
          tx,
          id,
          "reclaim",
          who,
          now,
          `unseen for over ${days} days`,
          cutoff,
        );
      });
      if (done) total++;
    }
    if (batch.length < 100) return total;
  }
}

/** The signed revocation list's body (fields in this order on the wire). */
export interface RevocationList {
  readonly serial: number;
  readonly issued_at: string;
  readonly next_update: string;
  readonly server_time: string;
  readonly revoked: RevokedEntry[];
}

/** Every revoked and suspended license, with the list's serial; `maxAgeS` dates the next one. */
export async function revocationList(
  ctx: ServiceContext,
  maxAgeS: number,
): Promise<RevocationList> {
  const { serial, revoked } = await readRevocationList(ctx.db);
  const now = ctx.now();
  return {
    serial,
    issued_at: now.toISOString(),
    next_update: new Date(now.getTime() + maxAgeS * 1000).toISOString(),
    server_time: now.toISOString(),
    revoked,
  };
}
