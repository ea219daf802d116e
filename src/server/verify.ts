/**
 * The public endpoint: is this blob genuine under the server's key ring, and
 * what state is its license in on the server? Every outcome is a 200 with a
 * stable code; only a malformed request is an error. Rate-limited per client.
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { verifyLicense } from "../service/licenses.js";
import type { ServerContext } from "./context.js";
import { ApiError, sendError } from "./errors.js";
import { TAGS } from "./openapi.js";
import { VerifyAnswer, VerifyBody, errorResponses } from "./schemas.js";

export { VERIFY_CODES } from "../service/licenses.js";

export function registerVerifyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // A callback hook (no promise per request): it answers 429 itself, else lets the request on.
  const limit = (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const wait = ctx.verifyLimiter.take(req.ip);
    if (wait > 0) {
      sendError(
        reply,
        new ApiError(
          "RATE_LIMITED",
          `too many verify requests from this address; retry in ${wait} s`,
        ),
        { "retry-after": String(wait) },
      );
      return;
    }
    done();
  };

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    "/v1/licenses/verify",
    {
      schema: {
        tags: [TAGS.verify],
        summary: "Verify a license blob",
        description:
          "No auth; rate-limited per client address. Every outcome of a well-formed request is a 200 " +
          "whose `code` says it: VALID, EXPIRED, SUSPENDED, REVOKED, UNKNOWN, or why the blob is not genuine. " +
          "The answer echoes the optional `nonce` and carries `server_time`; it is signed (DTL-Signature) " +
          "when the server has a signing key.",
        body: VerifyBody,
        response: { 200: VerifyAnswer, ...errorResponses(400, 413, 415, 429, 503) },
      },
      onRequest: limit,
    },
    async (req) => {
      const answer = await verifyLicense(ctx.service, req.body.blob);
      // The nonce and the server time let an app refuse a replayed answer (it is signed: see app.ts).
      const nonce = req.body.nonce;
      return {
        ...answer,
        ...(nonce !== undefined ? { nonce } : {}),
        server_time: ctx.service.now().toISOString(),
      };
    },
  );
}
