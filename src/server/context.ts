/** What every endpoint group is given: the database, the keys, the clock and the shared meters. */
import type { KeyRing, Signer } from "../core/keys.js";
import type { Database } from "../store/db.js";
import type { Actor, LicenseRecord, LicenseState, NewLicense } from "../store/licenses.js";
import type { AuthenticatedToken } from "../store/tokens.js";
import type { Metrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limit.js";

export interface ServerContext {
  readonly db: Database;
  /** Signs new licenses; undefined when only public keys are configured (issuing answers 503). */
  readonly signer: Signer | undefined;
  /** The keys blobs are verified against. */
  readonly ring: KeyRing;
  /** The clock; tests freeze it. */
  readonly now: () => Date;
  readonly metrics: Metrics;
  readonly verifyLimiter: RateLimiter;
  /** Admin token lookups; concurrent requests share one query, nothing is cached. */
  readonly authenticate: (presented: string) => Promise<AuthenticatedToken | undefined>;
  /** License state reads for verify; concurrent requests share one query, nothing is cached. */
  readonly licenseState: (key: string) => Promise<LicenseState | undefined>;
  /** Inserts outside a transaction; concurrent requests' licenses share one statement. */
  readonly insertLicense: (l: NewLicense, who: Actor, now: Date) => Promise<LicenseRecord>;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The admin token's name once authenticated (the audit trail's "who"). */
    actor: string;
  }
}
