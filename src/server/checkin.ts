/**
 * The online check-in endpoints: machines activate, check in and release
 * seats (public, rate-limited, answers signed); the signed revocation list;
 * admins list and release seats. Also the one hook that signs every answer of
 * the signed routes — outcomes and errors alike — over the exact body bytes.
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ANSWER_SIGNATURE_HEADER, signAnswer } from "../core/answer.js";
import {
  MACHINE_ACTOR,
  activateMachine,
  checkIn,
  licenseActivations,
  releaseMachine,
  releaseSeat,
  revocationList,
  setSeatLimit,
  type MachineOutcome,
} from "../service/activations.js";
import { requireAdmin } from "./auth.js";
import type { ServerContext } from "./context.js";
import { ApiError, sendError } from "./errors.js";
import { ADMIN, TAGS } from "./openapi.js";
import { RateLimiter } from "./rate-limit.js";
import {
  ActivateBody,
  ActivationParams,
  ActivationResponse,
  KeyParams,
  MachineBody,
  RevocationList,
  SeatList,
  SeatsBody,
  errorResponses,
  licenseResponse,
  machineAnswer,
} from "./schemas.js";

/** The routes whose every answer is signed when the server has a signing key ("METHOD url"). */
export const SIGNED_ROUTES: ReadonlySet<string> = new Set([
  "POST /v1/activations",
  "POST /v1/activations/release",
  "POST /v1/check-in",
  "POST /v1/licenses/verify",
  "GET /v1/revocations",
]);

/** The revocation list's max age when nothing is configured, in seconds. */
export const DEFAULT_REVOCATIONS_MAX_AGE_S = 3600;

export interface CheckinOptions {
  /** How long a revocation list may be cached (Cache-Control max-age, next_update), in seconds. */
  readonly revocationsMaxAgeS?: number;
}

/**
 * Signs the answers of {@link SIGNED_ROUTES} with the server's current key:
 * `DTL-Signature` over `DTLRESP1:` and the exact bytes sent. Without a key
 * nothing is signed (and the routes other than verify answer KEY_MISSING).
 */
function installAnswerSigning(app: FastifyInstance, ctx: ServerContext): void {
  app.addHook("onSend", (req, reply, payload, done) => {
    const signer = ctx.service.signer;
    if (signer && SIGNED_ROUTES.has(`${req.method} ${req.routeOptions.url}`)) {
      if (payload === null || payload === undefined) {
        reply.header(ANSWER_SIGNATURE_HEADER, signAnswer(signer, ""));
      } else if (typeof payload === "string" || Buffer.isBuffer(payload)) {
        reply.header(ANSWER_SIGNATURE_HEADER, signAnswer(signer, payload));
      }
    }
    done(null, payload);
  });
}

export function registerCheckinRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  options: CheckinOptions = {},
): void {
  installAnswerSigning(app, ctx);
  const maxAge = options.revocationsMaxAgeS ?? DEFAULT_REVOCATIONS_MAX_AGE_S;
  // Its own buckets, at verify's rate: an app's check-ins do not eat into its verifies.
  const limiter = new RateLimiter(ctx.verifyLimiter.perMinute);
  // A callback hook (no promise per request): it answers 503 or 429 itself, else lets the request on.
  const publicGate = (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (!ctx.service.signer) {
      sendError(
        reply,
        new ApiError(
          "KEY_MISSING",
          "this server has no signing key (DATATOOLS_LICENSE_PRIVKEY_FILE), so it cannot sign " +
            "answers; activations, check-ins and the revocation list are off. Verify still works.",
        ),
      );
      return;
    }
    const wait = limiter.take(req.ip);
    if (wait > 0) {
      sendError(
        reply,
        new ApiError("RATE_LIMITED", `too many requests from this address; retry in ${wait} s`),
        { "retry-after": String(wait) },
      );
      return;
    }
    done();
  };
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const machine = (req: FastifyRequest) => ({ actor: MACHINE_ACTOR, requestId: String(req.id) });
  const send = (reply: FastifyReply, o: MachineOutcome) => reply.code(o.status).send(o.body);
  const signedNote =
    " No auth; rate-limited per client address. Every answer carries DTL-Signature (docs/FORMAT.md); " +
    "503 KEY_MISSING when the server has no signing key.";

  r.post(
    "/v1/activations",
    {
      schema: {
        tags: [TAGS.verify],
        summary: "Activate a machine (take a seat)",
        description:
          "201 ACTIVATED for a new seat, 200 ALREADY_ACTIVE when the fingerprint holds one, 409 " +
          "SEAT_LIMIT_REACHED, 403 with the license's state or why the blob is not genuine." +
          signedNote,
        body: ActivateBody,
        response: {
          200: machineAnswer("ALREADY_ACTIVE: this machine holds a seat (refreshed)"),
          201: machineAnswer("ACTIVATED: a new seat"),
          403: machineAnswer("EXPIRED, SUSPENDED, REVOKED, UNKNOWN or a blob-reading code"),
          409: machineAnswer("SEAT_LIMIT_REACHED: every seat is taken"),
          ...errorResponses(400, 413, 415, 429, 503),
        },
      },
      onRequest: publicGate,
    },
    async (req, reply) => send(reply, await activateMachine(ctx.service, req.body, machine(req))),
  );

  r.post(
    "/v1/activations/release",
    {
      schema: {
        tags: [TAGS.verify],
        summary: "Release this machine's seat",
        description:
          "200 RELEASED (whatever the license's state), 404 NOT_ACTIVATED when the fingerprint " +
          "holds no seat, 403 UNKNOWN or why the blob is not genuine." +
          signedNote,
        body: MachineBody,
        response: {
          200: machineAnswer("RELEASED"),
          403: machineAnswer("UNKNOWN or a blob-reading code"),
          404: machineAnswer("NOT_ACTIVATED: this machine holds no seat"),
          ...errorResponses(400, 413, 415, 429, 503),
        },
      },
      onRequest: publicGate,
    },
    async (req, reply) => send(reply, await releaseMachine(ctx.service, req.body, machine(req))),
  );

  r.post(
    "/v1/check-in",
    {
      schema: {
        tags: [TAGS.verify],
        summary: "Check in: refresh this machine's seat and learn the license's state",
        description:
          "200 VALID (active, and the fingerprint holds a seat), 403 EXPIRED, SUSPENDED, REVOKED, " +
          "UNKNOWN or why the blob is not genuine, 404 NOT_ACTIVATED (activate again)." +
          signedNote,
        body: MachineBody,
        response: {
          200: machineAnswer("VALID"),
          403: machineAnswer("EXPIRED, SUSPENDED, REVOKED, UNKNOWN or a blob-reading code"),
          404: machineAnswer("NOT_ACTIVATED: released or reclaimed; activate again"),
          ...errorResponses(400, 413, 415, 429, 503),
        },
      },
      onRequest: publicGate,
    },
    async (req, reply) => send(reply, await checkIn(ctx.service, req.body)),
  );

  r.get(
    "/v1/revocations",
    {
      schema: {
        tags: [TAGS.verify],
        summary: "The signed list of revoked and suspended licenses",
        description:
          "Every revoked and suspended license key, with a serial that only grows. Cacheable " +
          "(Cache-Control: public, max-age)." +
          signedNote,
        response: { 200: RevocationList, ...errorResponses(429, 503) },
      },
      onRequest: publicGate,
    },
    async (_req, reply) => {
      reply.header("cache-control", `public, max-age=${maxAge}`);
      return revocationList(ctx.service, maxAge);
    },
  );

  const onRequest = requireAdmin(ctx);
  r.get(
    "/v1/licenses/:key/activations",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "A license's seats: held and released activations",
        security: ADMIN,
        params: KeyParams,
        response: { 200: SeatList, ...errorResponses(401, 404) },
      },
      onRequest,
    },
    async (req) => licenseActivations(ctx.service, req.params.key),
  );

  r.post(
    "/v1/licenses/:key/seats",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Change a license's seat limit",
        description:
          "Sets `seats` (1-10,000, or null for no limit) with a `set-seats` event; the blob is " +
          "not re-issued. Seats already held stay held when the limit drops below them.",
        security: ADMIN,
        params: KeyParams,
        body: SeatsBody,
        response: {
          200: licenseResponse("the license with its new limit"),
          ...errorResponses(400, 401, 404, 413, 415),
        },
      },
      onRequest,
    },
    async (req) =>
      setSeatLimit(ctx.service, req.params.key, req.body.seats, {
        actor: req.actor,
        requestId: String(req.id),
      }),
  );

  r.post(
    "/v1/activations/:id/release",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Release a seat (admin)",
        description:
          "Frees the seat with a `release` event naming the admin token; 409 when it is already free.",
        security: ADMIN,
        params: ActivationParams,
        response: { 200: ActivationResponse, ...errorResponses(400, 401, 404, 409) },
      },
      onRequest,
      config: { emptyBodyIsObject: true },
    },
    async (req) => {
      const id = /^[0-9]{1,15}$/.test(req.params.id) ? Number(req.params.id) : NaN;
      if (!Number.isSafeInteger(id) || id < 1) {
        throw new ApiError("NOT_FOUND", `no activation with id ${req.params.id.slice(0, 30)}`);
      }
      return releaseSeat(ctx.service, id, { actor: req.actor, requestId: String(req.id) });
    },
  );
}
