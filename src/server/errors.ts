/**
 * The server's one error boundary: every failure, ours or the framework's,
 * becomes `{ "error": { "code", "message", "request_id" } }` with a status
 * chosen by its code. Bad input is never a 500 and no response carries a stack.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CODES, LicenseError, type ErrorCode } from "../core/errors.js";
import { isConnectionError } from "../service/context.js";

/** The HTTP status of each code the server answers with; any other LicenseError is a 400. */
export const STATUS: Partial<Record<ErrorCode, number>> = {
  REQUEST_INVALID: 400,
  AUTH_MISSING: 401,
  AUTH_INVALID: 401,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  LICENSE_KEY_TAKEN: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  LICENSE_STATE_CONFLICT: 409,
  REQUEST_TOO_LARGE: 413,
  MEDIA_TYPE_UNSUPPORTED: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  KEY_MISSING: 503,
  DATABASE_UNAVAILABLE: 503,
  SCHEMA_OUTDATED: 503,
};

/** The status for a code. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

/** The JSON body of an error response. */
export function errorBody(code: ErrorCode, message: string, requestId: string) {
  return { error: { code, message, request_id: requestId } };
}

/** Sends an error response (also used by hooks that answer before a handler runs). */
export function sendError(
  reply: FastifyReply,
  err: LicenseError,
  headers: Record<string, string> = {},
): FastifyReply {
  const status = statusOf(err.code);
  if (status === 401) reply.header("www-authenticate", 'Bearer realm="datatools-license"');
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).send(errorBody(err.code, err.message, String(reply.request.id)));
}

interface AjvIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** One readable line from a schema validation failure. */
function validationMessage(err: FastifyError): string {
  const issue = (err.validation?.[0] ?? {}) as AjvIssue;
  const where = `${err.validationContext ?? "request"}${(issue.instancePath ?? "").replace(/\//g, ".")}`;
  if (issue.keyword === "additionalProperties") {
    return `${where} has an unknown field "${String(issue.params?.additionalProperty)}"`;
  }
  if (issue.keyword === "required") {
    return `${where} is missing the field "${String(issue.params?.missingProperty)}"`;
  }
  return `${where} ${issue.message ?? "is not valid"}`;
}

/** Translates anything thrown into a LicenseError fit to show a client. */
export function toClientError(err: unknown): LicenseError {
  if (err instanceof LicenseError) return err;
  const e = err as FastifyError;
  if (e?.validation) return new LicenseError("REQUEST_INVALID", validationMessage(e));
  switch (e?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new LicenseError("REQUEST_TOO_LARGE", "the request body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new LicenseError(
        "MEDIA_TYPE_UNSUPPORTED",
        "send the body as JSON with Content-Type: application/json",
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new LicenseError("REQUEST_INVALID", "the body is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new LicenseError("REQUEST_INVALID", "the body is not valid JSON");
  }
  if (isConnectionError(err)) {
    return new LicenseError("DATABASE_UNAVAILABLE", "the database cannot be reached; retry later");
  }
  const status = e?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    if (status === 413)
      return new LicenseError("REQUEST_TOO_LARGE", "the request body is too large");
    if (status === 415)
      return new LicenseError("MEDIA_TYPE_UNSUPPORTED", ERROR_CODES.MEDIA_TYPE_UNSUPPORTED);
    if (status === 404) return new LicenseError("ROUTE_NOT_FOUND", ERROR_CODES.ROUTE_NOT_FOUND);
    // The framework's client-error messages describe the request, not the server.
    return new LicenseError(
      "REQUEST_INVALID",
      String(e.message ?? ERROR_CODES.REQUEST_INVALID).slice(0, 200),
    );
  }
  return new LicenseError(
    "INTERNAL",
    "an unexpected error; it has been logged with this request_id",
  );
}

/** Installs the error and not-found handlers on an app. */
export function installErrorBoundary(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const clientError = toClientError(err);
    if (clientError.code === "INTERNAL" || clientError.code === "DATABASE_UNAVAILABLE") {
      req.log.error({ err }, "request failed");
    }
    return sendError(reply, clientError);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      new LicenseError("ROUTE_NOT_FOUND", `no endpoint ${req.method} ${req.url.split("?")[0]}`),
    ),
  );
}
