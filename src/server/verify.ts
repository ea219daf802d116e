/**
 * The public endpoint: is this blob genuine under the server's key ring, and
 * what state is its license in on the server? Every outcome is a 200 with a
 * stable code; only a malformed request is an error. Rate-limited per client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LicenseError, isLicenseError } from "../core/errors.js";
import { verifyBlob } from "../core/format.js";
import { formatTime } from "../core/license.js";
import { findEarlierBlob } from "../store/licenses.js";
import type { ServerContext } from "./context.js";
import { sendError } from "./errors.js";

/** The codes a genuine blob can get, with the state each stands for. */
export const VERIFY_CODES = {
  VALID: "active",
  EXPIRED: "expired",
  SUSPENDED: "suspended",
  REVOKED: "revoked",
  UNKNOWN: "unknown",
} as const;

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

  app.post("/v1/licenses/verify", { schema, onRequest: limit }, async (req) => {
    const { blob } = req.body as { blob: string };
    let verified;
    try {
      verified = verifyBlob(blob, ctx.ring);
    } catch (err) {
      if (!isLicenseError(err)) throw err;
      return { genuine: false, state: "unknown", code: err.code, message: err.message };
    }
    const { payload } = verified;
    const row = await ctx.licenseState(payload.license_key);
    // The key's current blob, or an earlier blob of it (a re-mint under the same key).
    const current = row?.blob === verified.blob;
    const earlier =
      row && !current
        ? await findEarlierBlob(ctx.db, payload.license_key, verified.blob)
        : undefined;
    const base = {
      genuine: true,
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
    const extra = { current, superseded_by: row.superseded_by };
    const newer = current
      ? ""
      : `; a later license was issued under this key (expires ${formatTime(row.expires_at)})`;
    if (row.status === "revoked") {
      return {
        ...base,
        ...extra,
        state: "revoked",
        code: "REVOKED",
        message: "the license was revoked",
      };
    }
    if (row.status === "suspended") {
      return {
        ...base,
        ...extra,
        state: "suspended",
        code: "SUSPENDED",
        message: "the license is suspended",
      };
    }
    const expiresAt = current ? row.expires_at : earlier!.expires_at;
    if (expiresAt.getTime() <= ctx.now().getTime()) {
      return {
        ...base,
        ...extra,
        state: "expired",
        code: "EXPIRED",
        message: `the license has expired${newer}`,
      };
    }
    return {
      ...base,
      ...extra,
      state: "active",
      code: "VALID",
      message: `the license is valid${newer}`,
    };
  });
}
