/** The admin license endpoints: issue, list, read, count, change, renew, re-deliver, events, import. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LicenseError } from "../core/errors.js";
import { TIERS, type Tier } from "../core/catalogue.js";
import { importValues } from "../service/imports.js";
import {
  LICENSE_STATES,
  changeLicenseStatus,
  countLicenses,
  getLicense,
  getLicenseEvents,
  issueLicense,
  listLicenses,
  renewLicense,
  type Idempotency,
  type IssueInput,
  type LicenseState,
  type Outcome,
} from "../service/licenses.js";
import { requireAdmin } from "./auth.js";
import type { ServerContext } from "./context.js";

const text = (max: number) => ({ type: "string", maxLength: max }) as const;

const issueSchema = {
  body: {
    type: "object",
    additionalProperties: false,
    required: ["name", "email", "tier"],
    properties: {
      name: text(1000),
      email: text(1000),
      tier: text(100),
      years: { type: "integer" },
      license_key: text(1000),
    },
  },
} as const;

const listSchema = {
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      email: text(1000),
      tier: text(100),
      state: text(100),
      expiring_within_days: text(20),
      q: text(200),
      limit: text(20),
      cursor: text(100),
    },
  },
} as const;

const keyParams = {
  type: "object",
  required: ["key"],
  properties: { key: text(4096) },
} as const;

const reasonSchema = {
  params: keyParams,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["reason"],
    properties: { reason: { type: "string", minLength: 1, maxLength: 500 } },
  },
} as const;

const renewSchema = {
  params: keyParams,
  body: {
    type: "object",
    additionalProperties: false,
    properties: { years: { type: "integer" } },
  },
} as const;

/** Most records one import request may carry. */
export const IMPORT_BATCH_MAX = 1000;

const importSchema = {
  body: {
    type: "object",
    additionalProperties: false,
    required: ["records"],
    properties: {
      records: { type: "array", maxItems: IMPORT_BATCH_MAX, items: { type: "object" } },
    },
  },
} as const;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

function idempotency(req: FastifyRequest): Idempotency | undefined {
  const raw = req.headers["idempotency-key"];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new LicenseError(
      "REQUEST_INVALID",
      "the Idempotency-Key header must be 1-200 printable ASCII characters without spaces",
    );
  }
  return { key, method: req.method, path: req.url.split("?")[0]!, body: req.body };
}

function send(reply: FastifyReply, o: Outcome) {
  if (o.replayed) reply.header("idempotent-replayed", "true");
  return reply.code(o.status).send(o.body);
}

function wholeNumber(value: string, name: string, min: number, max: number): number {
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new LicenseError(
      "REQUEST_INVALID",
      `${name} must be a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

function decodeCursor(cursor: string): number {
  const n = /^[A-Za-z0-9_-]{1,40}$/.test(cursor)
    ? Number(Buffer.from(cursor, "base64url").toString("utf8"))
    : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new LicenseError("REQUEST_INVALID", "cursor is not one this server returned");
  }
  return n;
}

const encodeCursor = (id: number) => Buffer.from(String(id), "utf8").toString("base64url");

export function registerLicenseRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const onRequest = requireAdmin(ctx);
  const who = (req: FastifyRequest) => ({ actor: req.actor, requestId: String(req.id) });

  app.post("/v1/licenses", { schema: issueSchema, onRequest }, async (req, reply) =>
    send(
      reply,
      await issueLicense(ctx.service, req.body as IssueInput, who(req), idempotency(req)),
    ),
  );

  app.get("/v1/licenses", { schema: listSchema, onRequest }, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const tier = q.tier;
    if (tier !== undefined && !(TIERS as readonly string[]).includes(tier)) {
      throw new LicenseError(
        "TIER_UNKNOWN",
        `unknown tier "${tier.slice(0, 40)}"; use one of: ${TIERS.join(", ")}`,
      );
    }
    if (q.state !== undefined && !(LICENSE_STATES as readonly string[]).includes(q.state)) {
      throw new LicenseError(
        "REQUEST_INVALID",
        `state must be one of: ${LICENSE_STATES.join(", ")}`,
      );
    }
    const limit = q.limit === undefined ? 50 : wholeNumber(q.limit, "limit", 1, 200);
    const page = await listLicenses(ctx.service, {
      limit,
      ...(q.email !== undefined ? { email: q.email } : {}),
      ...(tier !== undefined ? { tier: tier as Tier } : {}),
      ...(q.state !== undefined ? { state: q.state as LicenseState } : {}),
      ...(q.expiring_within_days !== undefined
        ? {
            expiringWithinDays: wholeNumber(
              q.expiring_within_days,
              "expiring_within_days",
              0,
              36_500,
            ),
          }
        : {}),
      ...(q.q !== undefined ? { search: q.q } : {}),
      ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    });
    return {
      licenses: page.licenses,
      next_cursor: page.nextAfter === null ? null : encodeCursor(page.nextAfter),
    };
  });

  app.get("/v1/counts", { onRequest }, async () => countLicenses(ctx.service));

  app.post(
    "/v1/licenses/import",
    { schema: importSchema, onRequest, bodyLimit: 8 * 1024 * 1024 },
    async (req) => {
      const records = (req.body as { records: unknown[] }).records;
      // A record's line is its 1-based position; the answer gives 0-based indexes.
      const summary = await importValues(ctx.service, records, who(req));
      return {
        imported: summary.imported,
        already_present: summary.already_present,
        rejected: summary.rejected.map((r) => ({
          index: r.line - 1,
          code: r.code,
          reason: r.reason,
        })),
      };
    },
  );

  app.get("/v1/licenses/:key", { schema: { params: keyParams }, onRequest }, async (req) =>
    getLicense(ctx.service, (req.params as { key: string }).key),
  );

  app.get(
    "/v1/licenses/:key/blob",
    { schema: { params: keyParams }, onRequest },
    async (req, reply) => {
      const found = await getLicense(ctx.service, (req.params as { key: string }).key);
      return reply.type("text/plain; charset=utf-8").send(found.blob);
    },
  );

  app.get(
    "/v1/licenses/:key/events",
    { schema: { params: keyParams }, onRequest },
    async (req) => ({
      events: await getLicenseEvents(ctx.service, (req.params as { key: string }).key),
    }),
  );

  for (const action of ["revoke", "suspend", "reinstate"] as const) {
    app.post(`/v1/licenses/:key/${action}`, { schema: reasonSchema, onRequest }, async (req) => {
      const { key } = req.params as { key: string };
      const { reason } = req.body as { reason: string };
      return changeLicenseStatus(ctx.service, key, action, reason.trim() || reason, who(req));
    });
  }

  // Every field is optional, so no body (or an empty one) is the same as `{}`: one year.
  app.post(
    "/v1/licenses/:key/renew",
    { schema: renewSchema, onRequest, config: { emptyBodyIsObject: true } },
    async (req, reply) => {
      const { key } = req.params as { key: string };
      const { years } = req.body as { years?: number };
      return send(
        reply,
        await renewLicense(ctx.service, key, years ?? 1, who(req), idempotency(req)),
      );
    },
  );
}
