/**
 * What every service operation is given: the database, the keys, the clock
 * and a sink for what it did. The HTTP server, the command line (and, later, a
 * webhook or a console page) build one and call the same operations with it.
 */
import { DEFAULT_CATALOGUE, type Catalogue } from "../core/catalogue.js";
import { verifyBlob, type VerifiedLicense } from "../core/format.js";
import type { KeyRing, Signer } from "../core/keys.js";
import type { Database } from "../store/db.js";

export type { Database, PoolStats } from "../store/db.js";
export { isConnectionError } from "../store/db.js";
import {
  getVerifyRow,
  insertLicense,
  licenseInserter,
  verifyRowReader,
  type Actor,
  type LicenseRecord,
  type NewLicense,
  type VerifyRow,
} from "../store/licenses.js";
import {
  seatToucher,
  touchAndCount,
  type SeatTouch,
  type TouchedSeat,
} from "../store/activations.js";
import { authenticateToken, tokenAuthenticator, type AuthenticatedToken } from "../store/tokens.js";
import { DEFAULT_VERIFY_CACHE_ENTRIES, VerifiedBlobCache } from "./verify-cache.js";

/** Told what the operations did, for metrics (the server counts; the command line ignores it). */
export interface ServiceEvents {
  /** `n` licenses were written by `action` (issue, renew, import, reissue). */
  licensesWritten(action: string, n: number): void;
}

/** The dependencies of every operation. */
export interface ServiceContext {
  readonly db: Database;
  /** Signs new licenses; undefined when only public keys are configured (issuing is refused). */
  readonly signer: Signer | undefined;
  /** The keys blobs are verified against. */
  readonly ring: KeyRing;
  /** The clock; tests freeze it. */
  readonly now: () => Date;
  readonly events: ServiceEvents;
  /** The tiers' features and default seat limits (DATATOOLS_CATALOGUE, or the built-in one). */
  readonly catalogue: Catalogue;
  /**
   * The hot paths. On a server, requests that arrive together share one query
   * (see store/batch.ts; no row is cached); elsewhere each is its own query.
   */
  readonly hot: {
    /**
     * Checks a blob's signature (as core's verifyBlob). On a server, blobs that
     * verified are remembered (see verify-cache.ts); never a license's state.
     */
    readonly verifyBlob: (text: string) => VerifiedLicense;
    readonly verifyRow: (key: string) => Promise<VerifyRow | undefined>;
    readonly authenticate: (presented: string) => Promise<AuthenticatedToken | undefined>;
    /** Inserts outside a transaction; on a server concurrent licenses share one statement. */
    readonly insertLicense: (l: NewLicense, who: Actor, now: Date) => Promise<LicenseRecord>;
    /**
     * Refreshes a held seat (last_seen_at at most once per {@link LAST_SEEN_GRANULARITY_S})
     * and counts its license's held seats, outside a transaction; on a server concurrent
     * check-ins share one statement.
     */
    readonly touchSeat: (touch: SeatTouch) => Promise<TouchedSeat>;
  };
}

/**
 * A seat's last_seen_at is written when it is at least this many seconds old
 * (or an activation brings a new host name): a machine that checks in again
 * sooner is answered from the row as stored, without a write. Seats are
 * reclaimed after days unseen, so a minute changes nothing there.
 */
export const LAST_SEEN_GRANULARITY_S = 60;

/** The time now, and the cut-off before which a seat's last_seen_at is written again. */
export function seenClock(now: () => Date): () => { now: Date; freshSince: Date } {
  return () => {
    const at = now();
    return { now: at, freshSince: new Date(at.getTime() - LAST_SEEN_GRANULARITY_S * 1000) };
  };
}

export interface ServiceOptions {
  readonly db: Database;
  readonly signer: Signer | undefined;
  readonly ring: KeyRing;
  readonly now?: () => Date;
  readonly events?: ServiceEvents;
  /** Share hot reads and inserts among concurrent callers (a server). Default false. */
  readonly batching?: boolean;
  /** Default: the built-in catalogue. */
  readonly catalogue?: Catalogue;
  /**
   * With batching: the most blobs the verified-signature cache keeps (0: none).
   * Default DEFAULT_VERIFY_CACHE_ENTRIES.
   */
  readonly verifyCacheEntries?: number;
}

const IGNORE: ServiceEvents = { licensesWritten: () => undefined };

/**
 * Builds the context the operations run with.
 *
 * @example
 * ```ts
 * const ctx = createServiceContext({ db, signer, ring, batching: true });
 * const { body } = await issueLicense(ctx, { name, email, tier: "pro" }, { actor: "ops" });
 * ```
 */
export function createServiceContext(options: ServiceOptions): ServiceContext {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const seen = seenClock(now);
  const cache = options.batching
    ? new VerifiedBlobCache(
        options.ring,
        options.verifyCacheEntries ?? DEFAULT_VERIFY_CACHE_ENTRIES,
      )
    : undefined;
  const hot: ServiceContext["hot"] = cache
    ? {
        verifyBlob: (text) => cache.verify(text),
        verifyRow: verifyRowReader(db),
        authenticate: tokenAuthenticator(db),
        insertLicense: licenseInserter(db),
        touchSeat: seatToucher(db, seen),
      }
    : {
        verifyBlob: (text) => verifyBlob(text, options.ring),
        verifyRow: (key) => getVerifyRow(db, key),
        authenticate: (presented) => authenticateToken(db, presented),
        insertLicense: (l, who, at) => insertLicense(db, l, who, at),
        touchSeat: (touch) => {
          const { now: at, freshSince } = seen();
          return touchAndCount(db, touch, at, freshSince);
        },
      };
  return {
    db,
    signer: options.signer,
    ring: options.ring,
    now,
    events: options.events ?? IGNORE,
    catalogue: options.catalogue ?? DEFAULT_CATALOGUE,
    hot,
  };
}
