/**
 * The public endpoint: is this blob genuine under the server's key ring, and
 * what state is its license in on the server? Every outcome is a 200 with a
 * stable code; only a malformed request is an error. Rate-limited per client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LicenseError } from "../core/errors.js";
import { verifyLicense } from "../service/licenses.js";
import type { ServerContext } from "./context.js";
import { sendError } from "./errors.js";

export { VERIFY_CODES } from "../service/licenses.js";

const schema = {
  body: {
    type: "object",
    additionalProperties: false,
    required: ["blob"],
    properties: { blob: { type: "string", maxLength: 65_536 } },
  },
} as const;

export function registerVerifyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const limit = async (req: FastifyRequest, reply: FastifyReply) => {
    const wait = ctx.verifyLimiter.take(req.ip);
    if (wait > 0) {
      return sendError(
        reply,
        new LicenseError(
          "RATE_LIMITED",
          `too many verify requests from this address; retry in ${wait} s`,
        ),
        { "retry-after": String(wait) },
      );
    }
  };

  app.post("/v1/licenses/verify", { schema, onRequest: limit }, async (req) =>
    verifyLicense(ctx.service, (req.body as { blob: string }).blob),
  );
}
