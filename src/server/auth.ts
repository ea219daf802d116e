/**
 * Bearer-token authentication for the admin endpoints. It runs when the
 * request arrives, before the body is parsed, so an unauthenticated caller
 * learns nothing from validation errors and costs no parsing.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { LicenseError } from "../core/errors.js";
import { touchToken } from "../store/tokens.js";
import type { ServerContext } from "./context.js";

// last_used_at is written at most this often per token, so reads stay reads
// (docs/LICENSE-SERVER.md: it is accurate to the minute).
const TOUCH_EVERY_MS = 60_000;

/** An onRequest hook that admits only a live admin token. */
export function requireAdmin(ctx: ServerContext) {
  // Tokens whose last_used_at this process is writing now: concurrent requests
  // that all read the old value write it once, not once each.
  const touching = new Set<number>();
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === "") {
      throw new LicenseError(
        "AUTH_MISSING",
        "this endpoint needs an admin token: send Authorization: Bearer <token>",
      );
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    const found = m ? await ctx.authenticate(m[1]!) : undefined;
    if (!found) {
      throw new LicenseError(
        "AUTH_INVALID",
        "the admin token is not valid (unknown, malformed or revoked)",
      );
    }
    req.actor = found.name;
    const now = ctx.now();
    const stale = !found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() >= TOUCH_EVERY_MS;
    if (stale && !touching.has(found.id)) {
      touching.add(found.id);
      touchToken(ctx.db, found.id, now)
        .catch((err: unknown) => req.log.warn({ err }, "could not record token use"))
        .finally(() => touching.delete(found.id));
    }
  };
}
