/**
 * Bearer-token authentication for the admin endpoints. It runs when the
 * request arrives, before the body is parsed, so an unauthenticated caller
 * learns nothing from validation errors and costs no parsing.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { LicenseError } from "../core/errors.js";
import { authenticateAdmin } from "../service/tokens.js";
import type { ServerContext } from "./context.js";

/** An onRequest hook that admits only a live admin token. */
export function requireAdmin(ctx: ServerContext) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === "") {
      throw new LicenseError(
        "AUTH_MISSING",
        "this endpoint needs an admin token: send Authorization: Bearer <token>",
      );
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) {
      throw new LicenseError(
        "AUTH_INVALID",
        "the admin token is not valid (unknown, malformed or revoked)",
      );
    }
    const found = await authenticateAdmin(ctx.service, m[1]!, (err) =>
      req.log.warn({ err }, "could not record token use"),
    );
    req.actor = found.name;
  };
}
