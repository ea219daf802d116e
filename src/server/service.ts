/**
 * The license operations behind the endpoints: issue (mint, then store with
 * its event), change state, renew. Input is validated and signed before any
 * database work, so a refused request writes nothing.
 */
import { LicenseError } from "../core/errors.js";
import { encodeBlob } from "../core/format.js";
import { addYears, formatTime, parseTime, validateYears } from "../core/license.js";
import { mintLicense, type MintInput, type MintedLicense } from "../core/mint.js";
import type { Signer } from "../core/keys.js";
import { UNIQUE_VIOLATION, sqlState, violatedConstraint, type Queryable } from "../store/db.js";
import { claimKey, completeKey, requestHash, type StoredResponse } from "../store/idempotency.js";
import {
  getLicense,
  insertLicense,
  markSuperseded,
  setStatus,
  type Actor,
  type LicenseRecord,
  type LicenseStatus,
} from "../store/licenses.js";
import type { ServerContext } from "./context.js";

/** An answer that may have come from the idempotency store. */
export interface Outcome {
  readonly status: number;
  readonly body: unknown;
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

function signer(ctx: ServerContext): Signer {
  if (!ctx.signer) {
    throw new LicenseError(
      "KEY_MISSING",
      "this server has no signing key (DATATOOLS_LICENSE_PRIVKEY); it can verify but not issue",
    );
  }
  return ctx.signer;
}

function isKeyTaken(err: unknown): boolean {
  return sqlState(err) === UNIQUE_VIOLATION && violatedConstraint(err) === "licenses_pkey";
}

/**
 * Runs `work` once per idempotency key. Without a key it runs directly; with
 * one, inside a transaction that first claims the key (a concurrent duplicate
 * waits for the first to commit and then gets its stored response).
 */
async function once(
  ctx: ServerContext,
  idem: Idempotency | undefined,
  work: (q: Queryable, transactional: boolean) => Promise<StoredResponse>,
): Promise<Outcome> {
  if (!idem) {
    const r = await work(ctx.db, false);
    return { ...r, replayed: false };
  }
  const hash = requestHash(idem.method, idem.path, idem.body);
  return ctx.db.transaction(async (tx) => {
    const stored = await claimKey(tx, idem.key, hash, ctx.now());
    if (stored) return { ...stored, replayed: true };
    const r = await work(tx, true);
    await completeKey(tx, idem.key, r);
    return { ...r, replayed: false };
  });
}

/** Retries `attempt` when a generated license key was taken (only then). */
async function withKeyRetry<T>(
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

export interface IssueBody {
  name: string;
  email: string;
  tier: string;
  years?: number;
  license_key?: string;
}

/** POST /v1/licenses. */
export async function issue(
  ctx: ServerContext,
  body: IssueBody,
  who: Actor,
  idem?: Idempotency,
): Promise<Outcome> {
  const s = signer(ctx);
  const input: MintInput = {
    name: body.name,
    email: body.email,
    tier: body.tier,
    years: body.years ?? 1,
    ...(body.license_key !== undefined ? { licenseKey: body.license_key } : {}),
  };
  const generated = body.license_key === undefined;
  // Validate and sign first: a bad request throws here, before any write.
  let minted = mintLicense(input, s, ctx.now());
  // Outside a transaction (no Idempotency-Key) the insert may share a statement with
  // concurrent requests' (see licenseInserter); inside one it must use that transaction.
  const store = (q: Queryable, transactional: boolean) => {
    const row = { ...minted.payload, blob: minted.blob, source: "api" } as const;
    return transactional
      ? insertLicense(q, row, who, ctx.now())
      : ctx.insertLicense(row, who, ctx.now());
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
        if (isKeyTaken(err) && generated) minted = mintLicense(input, s, ctx.now());
        throw err;
      }
    },
  );
  if (!result.replayed) ctx.metrics.inc("licenses", "issue");
  return result;
}

const TRANSITIONS: Record<string, { from: readonly LicenseStatus[]; to: LicenseStatus }> = {
  revoke: { from: ["active", "suspended"], to: "revoked" },
  suspend: { from: ["active"], to: "suspended" },
  reinstate: { from: ["suspended"], to: "active" },
};

/** POST /v1/licenses/{key}/revoke|suspend|reinstate. Revocation is final. */
export async function changeStatus(
  ctx: ServerContext,
  key: string,
  action: "revoke" | "suspend" | "reinstate",
  reason: string,
  who: Actor,
): Promise<LicenseRecord> {
  const t = TRANSITIONS[action]!;
  return ctx.db.transaction(async (tx) => {
    const before = await getLicense(tx, key, true);
    if (!before) throw new LicenseError("NOT_FOUND", `no license with key ${key}`);
    if (!t.from.includes(before.status)) {
      throw new LicenseError(
        "LICENSE_STATE_CONFLICT",
        `license ${key} is ${before.status}; ${action} applies only to ${t.from.join(" or ")} licenses`,
      );
    }
    return setStatus(tx, before, t.to, action, reason, who, ctx.now());
  });
}

/**
 * POST /v1/licenses/{key}/renew: a new license (new key, new blob) for the
 * same buyer and tier, running `years` from the later of now and the old
 * expiry (so renewing early loses no time), the old one marked superseded.
 */
export async function renew(
  ctx: ServerContext,
  key: string,
  years: number,
  who: Actor,
  idem?: Idempotency,
): Promise<Outcome> {
  const s = signer(ctx);
  const y = validateYears(years);
  const result = await withKeyRetry(
    true,
    () => key,
    () =>
      once(ctx, idem, async (q, transactional) => {
        const run = async (tx: Queryable) => {
          const before = await getLicense(tx, key, true);
          if (!before) throw new LicenseError("NOT_FOUND", `no license with key ${key}`);
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
            { ...minted.payload, blob: minted.blob, source: "api", supersedes: key },
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
  if (!result.replayed) ctx.metrics.inc("licenses", "renew");
  return result;
}

function renewal(old: LicenseRecord, years: number, s: Signer, now: Date): MintedLicense {
  const minted = mintLicense({ name: old.name, email: old.email, tier: old.tier, years }, s, now);
  const oldExpiry = parseTime(old.expires_at)!;
  if (oldExpiry.getTime() <= now.getTime()) return minted;
  const payload = { ...minted.payload, expires_at: formatTime(addYears(oldExpiry, years)) };
  return { payload, blob: encodeBlob(payload, s) };
}
