/** What every endpoint group is given: the service context, and the server's own meters and limits. */
import type { ServiceContext } from "../service/context.js";
import type { Metrics } from "./metrics.js";
import type { RateLimiter } from "./rate-limit.js";

export interface ServerContext {
  /** The operations' dependencies: database, keys, clock (see src/service/). */
  readonly service: ServiceContext;
  readonly metrics: Metrics;
  readonly verifyLimiter: RateLimiter;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The admin token's name once authenticated (the audit trail's "who"). */
    actor: string;
  }
}
