/** The admin license endpoints: issue, list, read, count, change, renew, re-deliver, events, import. */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Static } from "typebox";
import { importValues, type ImportSummary as Summary } from "../service/imports.js";
import {
  changeLicenseStatus,
  countLicenses,
  getLicense,
  getLicenseEvents,
  issueLicense,
  listLicenses,
  renewLicense,
  type Idempotency,
  type Outcome,
} from "../service/licenses.js";
import { saleState } from "../service/sales.js";
import { requireAdmin } from "./auth.js";
import type { ServerContext } from "./context.js";
import { ApiError } from "./errors.js";
import { ADMIN, TAGS } from "./openapi.js";
import {
  IdempotencyHeaders,
  ImportBody,
  ImportSummary,
  IssueBody,
  KeyParams,
  LicenseCounts,
  LicenseDetail,
  LicenseEvents,
  LicensePage,
  ListQuery,
  ReasonBody,
  RenewBody,
  errorResponses,
  licenseResponse,
  plainText,
} from "./schemas.js";

export { IMPORT_BATCH_MAX } from "./schemas.js";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The request's Idempotency-Key (the header's value, typed by the route's schema), checked. */
function idempotency(req: FastifyRequest, key: string | undefined): Idempotency | undefined {
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError(
      "REQUEST_INVALID",
      "the Idempotency-Key header must be 1-200 printable ASCII characters without spaces",
    );
  }
  return { key, method: req.method, path: req.url.split("?")[0]!, body: req.body };
}

function wholeNumber(value: string, name: string, min: number, max: number): number {
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ApiError("REQUEST_INVALID", `${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function decodeCursor(cursor: string): number {
  const n = /^[A-Za-z0-9_-]{1,40}$/.test(cursor)
    ? Number(Buffer.from(cursor, "base64url").toString("utf8"))
    : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ApiError("REQUEST_INVALID", "cursor is not one this server returned");
  }
  return n;
}

const encodeCursor = (id: number) => Buffer.from(String(id), "utf8").toString("base64url");

/** The import answer: the summary with each rejection's 1-based position as a 0-based index. */
function importAnswer(summary: Summary): Static<typeof ImportSummary> {
  return {
    imported: summary.imported,
    already_present: summary.already_present,
    rejected: summary.rejected.map((r) => ({ index: r.line - 1, code: r.code, reason: r.reason })),
  };
}

export function registerLicenseRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = requireAdmin(ctx);
  const who = (req: FastifyRequest) => ({ actor: req.actor, requestId: String(req.id) });
  /** Marks an answer that is the replay of a stored one. */
  const replayed = (reply: FastifyReply, o: Outcome) => {
    if (o.replayed) reply.header("idempotent-replayed", "true");
  };

  r.post(
    "/v1/licenses",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Issue a license",
        description:
          "Signs a license with the server's key and stores it with an `issue` event. Honours Idempotency-Key.",
        security: ADMIN,
        headers: IdempotencyHeaders,
        body: IssueBody,
        response: {
          201: licenseResponse("the new license"),
          ...errorResponses(400, 401, 409, 413, 415, 503),
        },
      },
      onRequest,
    },
    async (req, reply) => {
      const o = await issueLicense(
        ctx.service,
        req.body,
        who(req),
        idempotency(req, req.headers["idempotency-key"]),
      );
      replayed(reply, o);
      return reply.code(o.status).send(o.body);
    },
  );

  r.get(
    "/v1/licenses",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "List and search licenses",
        description:
          "Newest first, keyset-paginated: a cursor stays valid while licenses are added.",
        security: ADMIN,
        querystring: ListQuery,
        response: { 200: LicensePage, ...errorResponses(400, 401) },
      },
      onRequest,
    },
    async (req) => {
      const q = req.query;
      const page = await listLicenses(ctx.service, {
        limit: q.limit === undefined ? 50 : wholeNumber(q.limit, "limit", 1, 200),
        ...(q.email !== undefined ? { email: q.email } : {}),
        ...(q.tier !== undefined ? { tier: q.tier } : {}),
        ...(q.state !== undefined ? { state: q.state } : {}),
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
    },
  );

  r.get(
    "/v1/counts",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Count licenses by tier and by state",
        security: ADMIN,
        response: { 200: LicenseCounts, ...errorResponses(401) },
      },
      onRequest,
    },
    async () => countLicenses(ctx.service),
  );

  r.post(
    "/v1/licenses/import",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Import issuance-log records",
        description:
          "Verifies each record's blob and fields; records already stored count as already present.",
        security: ADMIN,
        body: ImportBody,
        response: { 200: ImportSummary, ...errorResponses(400, 401, 413, 415) },
      },
      onRequest,
      bodyLimit: 8 * 1024 * 1024,
    },
    async (req) => importAnswer(await importValues(ctx.service, req.body.records, who(req))),
  );

  r.get(
    "/v1/licenses/:key",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Read one license",
        description:
          "With the store sale it came from and its e-mail's delivery state (both null for a license issued otherwise).",
        security: ADMIN,
        params: KeyParams,
        response: { 200: LicenseDetail, ...errorResponses(401, 404) },
      },
      onRequest,
    },
    async (req) => {
      const license = await getLicense(ctx.service, req.params.key);
      return { ...license, ...(await saleState(ctx.service, req.params.key)) };
    },
  );

  r.get(
    "/v1/licenses/:key/blob",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Re-deliver a license's blob",
        description: "The stored blob exactly as issued (never re-signed).",
        security: ADMIN,
        params: KeyParams,
        response: { 200: plainText("the DTLIC2 blob"), ...errorResponses(401, 404) },
      },
      onRequest,
    },
    async (req, reply) => {
      const found = await getLicense(ctx.service, req.params.key);
      return reply.type("text/plain; charset=utf-8").send(found.blob);
    },
  );

  r.get(
    "/v1/licenses/:key/events",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "A license's audit trail",
        security: ADMIN,
        params: KeyParams,
        response: { 200: LicenseEvents, ...errorResponses(401, 404) },
      },
      onRequest,
    },
    async (req) => ({ events: await getLicenseEvents(ctx.service, req.params.key) }),
  );

  const CHANGES = {
    revoke: "Revoke a license (final)",
    suspend: "Suspend a license",
    reinstate: "Reinstate a suspended license",
  } as const;
  for (const action of ["revoke", "suspend", "reinstate"] as const) {
    r.post(
      `/v1/licenses/:key/${action}`,
      {
        schema: {
          tags: [TAGS.licenses],
          summary: CHANGES[action],
          security: ADMIN,
          params: KeyParams,
          body: ReasonBody,
          response: {
            200: licenseResponse("the changed license"),
            ...errorResponses(400, 401, 404, 409, 413, 415),
          },
        },
        onRequest,
      },
      async (req) => {
        const { reason } = req.body;
        return changeLicenseStatus(
          ctx.service,
          req.params.key,
          action,
          reason.trim() || reason,
          who(req),
        );
      },
    );
  }

  // Every field is optional, so no body (or an empty one) is the same as `{}`: one year.
  r.post(
    "/v1/licenses/:key/renew",
    {
      schema: {
        tags: [TAGS.licenses],
        summary: "Renew a license",
        description:
          "A new license for the same buyer and tier, running from the later of now and the old expiry; the old one is marked superseded. Honours Idempotency-Key.",
        security: ADMIN,
        headers: IdempotencyHeaders,
        params: KeyParams,
        body: RenewBody,
        response: {
          201: licenseResponse("the new license; the old one now has superseded_by"),
          ...errorResponses(400, 401, 404, 409, 413, 415, 503),
        },
      },
      onRequest,
      config: { emptyBodyIsObject: true },
    },
    async (req, reply) => {
      const o = await renewLicense(
        ctx.service,
        req.params.key,
        req.body.years ?? 1,
        who(req),
        idempotency(req, req.headers["idempotency-key"]),
        req.body.seats,
      );
      replayed(reply, o);
      return reply.code(o.status).send(o.body);
    },
  );
}
