/**
 * The server's one error boundary: every failure, ours or the framework's,
 * becomes `{ "error": { "code", "message", "request_id" } }` with a status
 * chosen by its code. Bad input is never a 500 and no response carries a stack.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ERROR_CODES,
  LicenseError,
  isApiErrorCode,
  type ApiErrorCode,
  type ErrorCode,
} from "../core/errors.js";
import { validateTier } from "../core/license.js";
import { isConnectionError } from "../service/context.js";

/**
 * An error an HTTP response can carry: a {@link LicenseError} whose code is an
 * {@link ApiErrorCode} (never the command line's or the buyer's machine's).
 * The service and store throw plain LicenseErrors; `instanceof ApiError` is
 * true for any LicenseError with such a code, whichever class made it.
 */
export class ApiError extends LicenseError {
  declare readonly code: ApiErrorCode;

  constructor(code: ApiErrorCode, message?: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof LicenseError && isApiErrorCode(value.code);
  }
}

/**
 * The HTTP status of every code a response can carry. Typed over every
 * {@link ApiErrorCode}, so a code added to core, the service or HTTP does not
 * compile until it has a status here. What a client sent wrong is a 4xx; the
 * server's own keys, files and configuration failing is a 500, never a 400.
 */
export const STATUS: Readonly<Record<ApiErrorCode, number>> = {
  // The client's input: a field, a blob, a request.
  REQUEST_INVALID: 400,
  NAME_INVALID: 400,
  EMAIL_INVALID: 400,
  TIER_UNKNOWN: 400,
  YEARS_INVALID: 400,
  LICENSE_KEY_INVALID: 400,
  RECORD_MISMATCH: 400,
  BLOB_EMPTY: 400,
  BLOB_TOO_LARGE: 400,
  BLOB_V1_UNSUPPORTED: 400,
  BLOB_PREFIX_UNKNOWN: 400,
  BLOB_MALFORMED: 400,
  BLOB_ENCODING: 400,
  PAYLOAD_NOT_JSON: 400,
  PAYLOAD_NOT_OBJECT: 400,
  PAYLOAD_VERSION: 400,
  PAYLOAD_FIELD: 400,
  KEY_UNKNOWN: 400,
  SIGNATURE_INVALID: 400,
  // Raised only where an answer is read (the client); the server never sends them.
  ANSWER_UNSIGNED: 502,
  ANSWER_SIGNATURE_INVALID: 502,
  ANSWER_KEY_UNKNOWN: 502,
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
  // The server's own faults: its keys, files and configuration.
  INTERNAL: 500,
  KEY_INVALID: 500,
  KEY_WEAK: 500,
  KEY_MISMATCH: 500,
  DEV_KEY_IN_PRODUCTION: 500,
  CATALOGUE_INVALID: 500,
  CONFIG_INVALID: 500,
  FILE_EXISTS: 500,
  FILE_INSECURE: 500,
  FILE_UNREADABLE: 500,
  FILE_UNWRITABLE: 500,
  LOG_LOCKED: 500,
  LOG_NOT_FOUND: 500,
  LEDGER_BROKEN: 500,

  // Unavailable for now: retry later.
  KEY_MISSING: 503,
  DATABASE_UNAVAILABLE: 503,
  SCHEMA_OUTDATED: 503,
  DATA_DIR_LOCKED: 503,
  SECRETS_LOCKED: 503,
  SEATS_INVALID: 400,
  SEAT_LIMIT_REACHED: 409,
  NOT_ACTIVATED: 404,
  WEBHOOK_EVENT_PROCESSED: 409,
  WEBHOOK_SIGNATURE_INVALID: 400,
  WEBHOOK_PAYLOAD_INVALID: 400,
  WEBHOOK_NOT_CONFIGURED: 503,
};

/** The status for a code; a code no response can carry (the CLI's, the buyer's) is a server fault. */
export function statusOf(code: ErrorCode): number {
  return isApiErrorCode(code) ? STATUS[code] : 500;
}

/** The JSON body of an error response. */
export function errorBody(code: ApiErrorCode, message: string, requestId: string) {
  return { error: { code, message, request_id: requestId } };
}

/** Sends an error response (also used by hooks that answer before a handler runs). */
export function sendError(
  reply: FastifyReply,
  err: ApiError,
  headers: Record<string, string> = {},
): FastifyReply {
  const status = STATUS[err.code];
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

/** The request part a validation error is about, by fastify's validation context. */
function requestPart(req: FastifyRequest | undefined, context: string | undefined): unknown {
  switch (req && context) {
    case "body":
      return req?.body;
    case "querystring":
      return req?.query;
    case "params":
      return req?.params;
    case "headers":
      return req?.headers;
    default:
      return undefined;
  }
}

/** The value at a JSON pointer (`/a/0/b`) inside `root`, or undefined. */
function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = Reflect.get(value, key);
  }
  return value;
}

/**
 * The error for a schema validation failure: REQUEST_INVALID with one readable
 * line, except an unknown tier, which gets the same TIER_UNKNOWN (and message)
 * as core's own check, wherever the tier was given.
 */
function validationError(err: FastifyError, req: FastifyRequest | undefined): ApiError {
  const issue: AjvIssue = err.validation?.[0] ?? {};
  const path = issue.instancePath ?? "";
  const where = `${err.validationContext ?? "request"}${path.replace(/\//g, ".")}`;
  if (issue.keyword === "enum" && path.endsWith("/tier")) {
    const value = valueAt(requestPart(req, err.validationContext), path);
    try {
      validateTier(String(value));
    } catch (tierError) {
      if (tierError instanceof ApiError) return tierError;
    }
  }
  let message: string;
  if (issue.keyword === "additionalProperties") {
    message = `${where} has an unknown field "${String(issue.params?.additionalProperty)}"`;
  } else if (issue.keyword === "required") {
    message = `${where} is missing the field "${String(issue.params?.missingProperty)}"`;
  } else if (issue.keyword === "enum" && Array.isArray(issue.params?.allowedValues)) {
    message = `${where} must be one of: ${issue.params.allowedValues.join(", ")}`;
  } else {
    message = `${where} ${issue.message ?? "is not valid"}`;
  }
  return new ApiError("REQUEST_INVALID", message);
}

/**
 * Translates anything thrown into an error fit to show a client; `req` is the
 * request it was thrown for (a validation error's message may quote it).
 */
export function toClientError(err: unknown, req?: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof LicenseError) return internal(); // a code no response may carry
  const e = err as FastifyError | undefined;
  if (e?.validation) return validationError(e, req);
  switch (e?.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("REQUEST_TOO_LARGE", "the request body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(
        "MEDIA_TYPE_UNSUPPORTED",
        "send the body as JSON with Content-Type: application/json",
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ApiError("REQUEST_INVALID", "the body is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new ApiError("REQUEST_INVALID", "the body is not valid JSON");
  }
  if (isConnectionError(err)) {
    return new ApiError("DATABASE_UNAVAILABLE", "the database cannot be reached; retry later");
  }
  const status = e?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    if (status === 413) return new ApiError("REQUEST_TOO_LARGE", "the request body is too large");
    if (status === 415)
      return new ApiError("MEDIA_TYPE_UNSUPPORTED", ERROR_CODES.MEDIA_TYPE_UNSUPPORTED);
    if (status === 404) return new ApiError("ROUTE_NOT_FOUND", ERROR_CODES.ROUTE_NOT_FOUND);
    // The framework's client-error messages describe the request, not the server.
    return new ApiError(
      "REQUEST_INVALID",
      String(e?.message ?? ERROR_CODES.REQUEST_INVALID).slice(0, 200),
    );
  }
  return internal();
}

const internal = () =>
  new ApiError("INTERNAL", "an unexpected error; it has been logged with this request_id");

/** Installs the error and not-found handlers on an app. */
export function installErrorBoundary(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const clientError = toClientError(err, req);
    // Server faults are logged with what was thrown, which the response never shows.
    if (STATUS[clientError.code] === 500 || clientError.code === "DATABASE_UNAVAILABLE") {
      req.log.error({ err }, "request failed");
    }
    return sendError(reply, clientError);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      new ApiError("ROUTE_NOT_FOUND", `no endpoint ${req.method} ${req.url.split("?")[0]}`),
    ),
  );
}
