/**
 * The license workflows: issue, renew, suspend/reinstate/revoke, read, list,
 * count and verify. Input is validated and signed before any database work,
 * so a refused request writes nothing; every write goes through the store's
 * one write path with its audit event.
 */
import { defaultSeats } from "../core/catalogue.js";
import { LicenseError } from "../core/errors.js";
import { isLicenseError } from "../core/errors.js";
import { encodeBlob } from "../core/format.js";
import type { Signer } from "../core/keys.js";
import { addYears, formatTime, parseTime, validateYears } from "../core/license.js";
import { mintLicense, type MintInput, type MintedLicense } from "../core/mint.js";
import { UNIQUE_VIOLATION, sqlState, violatedConstraint, type Queryable } from "../store/db.js";
import { claimKey, completeKey, requestHash, type StoredResponse } from "../store/idempotency.js";
import {
  countLicenses as countStored,
  findEarlierBlob,
  getLicense as getStored,
  insertLicense,
  licenseState,
  listEvents,
  listLicenses as listStored,
  markSuperseded,
  setStatus,
  type Actor,
  type LicenseCounts,
  type LicenseEvent,
  type LicensePage,
  type LicenseRecord,
  type LicenseSource,
  type LicenseStatus,
  type ListFilter,
} from "../store/licenses.js";
import type { ServiceContext } from "./context.js";

export {
  EVENT_ACTIONS,
  LICENSE_FIELDS,
  licenseState,
  LICENSE_SOURCES,
  LICENSE_STATES,
  LICENSE_STATUSES,
} from "../store/licenses.js";
export type {
  Actor,
  LicenseCounts,
  LicenseEvent,
  LicensePage,
  LicenseRecord,
  LicenseState,
  LicenseStatus,
  ListFilter,
} from "../store/licenses.js";

/** An answer that may have come from the idempotency store. */
export interface Outcome<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly replayed: boolean;
}

/** What a retry with the same Idempotency-Key must match. */
export interface Idempotency {
  readonly key: string;
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

// A generated key colliding is a 1-in-2^64 event; retrying a few times is plenty.
const KEY_ATTEMPTS = 3;

/** The signing key, or KEY_MISSING (a server configured with public keys only verifies). */
export function requireSigner(ctx: ServiceContext): Signer {
  if (!ctx.signer) {
    throw new LicenseError(
      "KEY_MISSING",
      "no signing key is configured (DATATOOLS_LICENSE_PRIVKEY_FILE); licenses can be verified but not issued",
    );
  }
  return ctx.signer;
}

/** True when `err` is a generated or requested license key that is already stored. */
export function isKeyTaken(err: unknown): boolean {
  return sqlState(err) === UNIQUE_VIOLATION && violatedConstraint(err) === "licenses_pkey";
}

/**
 * Runs `work` once per idempotency key. Without a key it runs directly; with
 * one, inside a transaction that first claims the key (a concurrent duplicate
 * waits for the first to commit and then gets its stored response).
 */
async function once<T>(
  ctx: ServiceContext,
  idem: Idempotency | undefined,
  work: (q: Queryable, transactional: boolean) => Promise<StoredResponse & { body: T }>,
): Promise<Outcome<T>> {
  if (!idem) {
    const r = await work(ctx.db, false);
    return { ...r, replayed: false };
  }
  const hash = requestHash(idem.method, idem.path, idem.body);
  return ctx.db.transaction(async (tx) => {
    const stored = await claimKey(tx, idem.key, hash, ctx.now());
    if (stored) return { status: stored.status, body: stored.body as T, replayed: true };
    const r = await work(tx, true);
    await completeKey(tx, idem.key, r);
    return { ...r, replayed: false };
  });
}

/**
 * Runs `attempt`, retrying when a generated license key was taken (only
 * then); a requested key that is taken is LICENSE_KEY_TAKEN.
 */
export async function withKeyRetry<T>(
  generated: boolean,
  key: () => string,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isKeyTaken(err)) throw err;
      if (!generated || i >= KEY_ATTEMPTS) {
        throw new LicenseError(
          "LICENSE_KEY_TAKEN",
          `license key ${key()} is already issued; choose another license_key or leave it out`,
          { cause: err },
        );
      }
    }
  }
}

/** What issuing takes: the buyer, the tier and, optionally, years, a license key and seats. */
export interface IssueInput {
  readonly name: string;
  readonly email: string;
  readonly tier: string;
  readonly years?: number;
  readonly license_key?: string;
  /** The seat limit (1-10,000); absent or null: no limit. Checked by {@link validateSeats}. */
  readonly seats?: unknown;
}

/** Most machines one license may be activated on at once. */
export const MAX_SEATS = 10_000;

/**
 * A seat limit as given: a whole number 1-10,000, or null for no limit;
 * anything else is SEATS_INVALID.
 *
 * @example
 * ```ts
 * validateSeats(3); // 3
 * ```
 */
export function validateSeats(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_SEATS) {
    const shown = JSON.stringify(value) ?? String(value);
    throw new LicenseError(
      "SEATS_INVALID",
      `seats must be a whole number from 1 to 10,000 (or null for no limit), not ${shown.slice(0, 40)}`,
    );
  }
  return value;
}

/**
 * Signs and stores a new license with its `issue` event (201). With an
 * idempotency key, a retry gets the first answer back.
 *
 * @example
 * ```ts
 * const { body } = await issueLicense(ctx, { name: "Ada", email: "ada@example.com", tier: "pro" }, { actor: "ops" });
 * ```
 */
export async function issueLicense(
  ctx: ServiceContext,
  input: IssueInput,
  who: Actor,
  idem?: Idempotency,
): Promise<Outcome<LicenseRecord>> {
  const s = requireSigner(ctx);
  const asked = input.seats === undefined ? undefined : validateSeats(input.seats);
  const mint = mintInput(input);
  const generated = input.license_key === undefined;
  // Validate and sign first: a bad request throws here, before any write.
  let minted = mintLicense(mint, s, ctx.now());
  const seats = asked === undefined ? defaultSeats(minted.payload.tier, ctx.catalogue) : asked;
  // Outside a transaction (no Idempotency-Key) the insert may share a statement with
  // concurrent requests' (the hot path); inside one it must use that transaction.
  const store = (q: Queryable, transactional: boolean) => {
    const row = { ...minted.payload, blob: minted.blob, source: "api", seats } as const;
    return transactional
      ? insertLicense(q, row, who, ctx.now())
      : ctx.hot.insertLicense(row, who, ctx.now());
  };
  const result = await withKeyRetry(
    generated,
    () => minted.payload.license_key,
    async () => {
      try {
        return await once(ctx, idem, async (q, transactional) => ({
          status: 201,
          body: await store(q, transactional),
        }));
      } catch (err) {
        if (isKeyTaken(err) && generated) minted = mintLicense(mint, s, ctx.now());
        throw err;
      }
    },
  );
  if (!result.replayed) ctx.events.licensesWritten("issue", 1);
  return result;
}

function mintInput(input: IssueInput): MintInput {
  return {
    name: input.name,
    email: input.email,
    tier: input.tier,
    years: input.years ?? 1,
    ...(input.license_key !== undefined ? { licenseKey: input.license_key } : {}),
  };
}

/**
 * {@link issueLicense} inside the caller's transaction, for a workflow whose
 * other rows must commit with the license (a store sale: its webhook event,
 * sale and outbox row). Validated and signed before the insert, so bad input
 * throws before anything is written. A generated key that is taken (a 1-in-2^64
 * event) fails the transaction; the caller's retry gets a new key.
 */
export async function issueLicenseIn(
  tx: Queryable,
  ctx: ServiceContext,
  input: IssueInput,
  who: Actor,
  source: LicenseSource,
): Promise<LicenseRecord> {
  const asked = input.seats === undefined ? undefined : validateSeats(input.seats);
  const minted = mintLicense(mintInput(input), requireSigner(ctx), ctx.now());
  const seats = asked === undefined ? defaultSeats(minted.payload.tier, ctx.catalogue) : asked;
  const row = { ...minted.payload, blob: minted.blob, source, seats };
  return insertLicense(tx, row, who, ctx.now());
}

/** The status changes, each with the statuses it applies to. Revocation is final. */
export const STATUS_CHANGES = {
  revoke: { from: ["active", "suspended"], to: "revoked" },
  suspend: { from: ["active"], to: "suspended" },
  reinstate: { from: ["suspended"], to: "active" },
} as const satisfies Record<string, { from: readonly LicenseStatus[]; to: LicenseStatus }>;
export type StatusChange = keyof typeof STATUS_CHANGES;

/**
 * Suspends, reinstates or revokes a license, with its event (reason required).
 * NOT_FOUND for an unknown key; LICENSE_STATE_CONFLICT when the change does not
 * apply to the license's status.
 */
export async function changeLicenseStatus(
  ctx: ServiceContext,
  key: string,
  change: StatusChange,
  reason: string,
  who: Actor,
): Promise<LicenseRecord> {
  return ctx.db.transaction((tx) => changeLicenseStatusIn(tx, ctx, key, change, reason, who));
}

/** {@link changeLicenseStatus} inside the caller's transaction (it locks the license's row). */
export async function changeLicenseStatusIn(
  tx: Queryable,
  ctx: ServiceContext,
  key: string,
  change: StatusChange,
  reason: string,
  who: Actor,
): Promise<LicenseRecord> {
  const t = STATUS_CHANGES[change];
  const before = await getStored(tx, key, true);
  if (!before) throw notFound(key);
  if (!(t.from as readonly LicenseStatus[]).includes(before.status)) {
    throw new LicenseError(
      "LICENSE_STATE_CONFLICT",
      `license ${key} is ${before.status}; ${change} applies only to ${t.from.join(" or ")} licenses`,
    );
  }
  return setStatus(tx, before, t.to, change, reason, who, ctx.now());
}

/**
 * A new license (new key, new blob) for the same buyer and tier, running
 * `years` from the later of now and the old expiry (so renewing early loses no
 * time), the old one marked superseded (201). `seats` sets the new license's
 * seat limit; absent, it keeps the old one's.
 */
export async function renewLicense(
  ctx: ServiceContext,
  key: string,
  years: number,
  who: Actor,
  idem?: Idempotency,
  seats?: unknown,
): Promise<Outcome<LicenseRecord>> {
  const s = requireSigner(ctx);
  const y = validateYears(years);
  const limit = seats === undefined ? undefined : validateSeats(seats);
  const result = await withKeyRetry(
    true,
    () => key,
    () =>
      once(ctx, idem, async (q, transactional) => {
        const run = async (tx: Queryable) => {
          const before = await getStored(tx, key, true);
          if (!before) throw notFound(key);
          if (before.status !== "active") {
            throw new LicenseError(
              "LICENSE_STATE_CONFLICT",
              `license ${key} is ${before.status}; only an active license can be renewed`,
            );
          }
          if (before.superseded_by) {
            throw new LicenseError(
              "LICENSE_STATE_CONFLICT",
              `license ${key} was already renewed as ${before.superseded_by}; renew that one`,
            );
          }
          const now = ctx.now();
          const minted = renewal(before, y, s, now);
          const created = await insertLicense(
            tx,
            {
              ...minted.payload,
              blob: minted.blob,
              source: "api",
              supersedes: key,
              seats: limit === undefined ? before.seats : limit,
            },
            who,
            now,
            "renew",
          );
          await markSuperseded(tx, before, created.license_key, who, now);
          return { status: 201, body: created };
        };
        return transactional ? run(q) : ctx.db.transaction(run);
      }),
  );
  if (!result.replayed) ctx.events.licensesWritten("renew", 1);
  return result;
}

function renewal(old: LicenseRecord, years: number, s: Signer, now: Date): MintedLicense {
  const minted = mintLicense({ name: old.name, email: old.email, tier: old.tier, years }, s, now);
  const oldExpiry = parseTime(old.expires_at)!;
  if (oldExpiry.getTime() <= now.getTime()) return minted;
  const payload = { ...minted.payload, expires_at: formatTime(addYears(oldExpiry, years)) };
  return { payload, blob: encodeBlob(payload, s) };
}

function notFound(key: string): LicenseError {
  return new LicenseError("NOT_FOUND", `no license with key ${key.slice(0, 100)}`);
}

/** The stored license with this key; NOT_FOUND when there is none. */
export async function getLicense(ctx: ServiceContext, key: string): Promise<LicenseRecord> {
  const found = await getStored(ctx.db, key);
  if (!found) throw notFound(key);
  return found;
}

/** A license's audit trail, oldest first; NOT_FOUND for an unknown key. */
export async function getLicenseEvents(ctx: ServiceContext, key: string): Promise<LicenseEvent[]> {
  await getLicense(ctx, key);
  return listEvents(ctx.db, key);
}

/** One page of licenses, newest first (see the store's ListFilter). */
export function listLicenses(ctx: ServiceContext, filter: ListFilter): Promise<LicensePage> {
  return listStored(ctx.db, filter, ctx.now());
}

/** Licenses by tier and by state, now. */
export function countLicenses(ctx: ServiceContext): Promise<LicenseCounts> {
  return countStored(ctx.db, ctx.now());
}

/** The codes a genuine blob can get, with the state each stands for. */
export const VERIFY_CODES = {
  VALID: "active",
  EXPIRED: "expired",
  SUSPENDED: "suspended",
  REVOKED: "revoked",
  UNKNOWN: "unknown",
} as const;

/** The answer of {@link verifyLicense}. */
export type VerifyAnswer =
  | {
      readonly genuine: false;
      readonly state: "unknown";
      readonly code: string;
      readonly message: string;
    }
  | {
      readonly genuine: true;
      readonly license_key: string;
      /** The blob's own expiry. */
      readonly expires_at: string;
      /** True for the key's current blob, false for an earlier blob of it; absent when unknown. */
      readonly current?: boolean;
      readonly superseded_by?: string | null;
      readonly state: (typeof VERIFY_CODES)[keyof typeof VERIFY_CODES];
      readonly code: keyof typeof VERIFY_CODES;
      readonly message: string;
    };

const MESSAGES = {
  VALID: "the license is valid",
  EXPIRED: "the license has expired",
  SUSPENDED: "the license is suspended",
  REVOKED: "the license was revoked",
} as const;

const CODE_OF = {
  active: "VALID",
  expired: "EXPIRED",
  suspended: "SUSPENDED",
  revoked: "REVOKED",
} as const;

/**
 * Is this blob genuine under the ring, and what state is its license in on
 * the server? The key's status (revoked, suspended) covers every blob of the
 * key; expiry is each blob's own. Never throws for a bad blob: the answer says
 * why (`genuine: false` with the reader's code).
 */
export async function verifyLicense(ctx: ServiceContext, text: string): Promise<VerifyAnswer> {
  let verified;
  try {
    verified = ctx.hot.verifyBlob(text);
  } catch (err) {
    if (!isLicenseError(err)) throw err;
    return { genuine: false, state: "unknown", code: err.code, message: err.message };
  }
  const { payload } = verified;
  const row = await ctx.hot.verifyRow(payload.license_key);
  // The key's current blob, or an earlier blob of it (a re-mint under the same key).
  const current = row?.blob === verified.blob;
  const earlier =
    row && !current ? await findEarlierBlob(ctx.db, payload.license_key, verified.blob) : undefined;
  const base = {
    genuine: true as const,
    license_key: payload.license_key,
    expires_at: payload.expires_at,
  };
  if (!row || (!current && !earlier)) {
    return {
      ...base,
      state: "unknown",
      code: "UNKNOWN",
      message: "the server has no record of this license",
    };
  }
  const expiresAt = current ? row.expires_at : earlier!.expires_at;
  const state = licenseState(row.status, expiresAt, ctx.now());
  const code = CODE_OF[state];
  const newer =
    current || state === "revoked" || state === "suspended"
      ? ""
      : `; a later license was issued under this key (expires ${formatTime(row.expires_at)})`;
  return {
    ...base,
    current,
    superseded_by: row.superseded_by,
    state,
    code,
    message: MESSAGES[code] + newer,
  };
}
