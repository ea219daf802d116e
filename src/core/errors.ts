/**
 * Every failure this package reports is a {@link LicenseError} with a stable
 * string `code`. Codes are part of the public API: scripts, the HTTP server and
 * tests branch on them, so a code is never renamed or reused for another meaning.
 *
 * The codes are grouped by where they arise, so each layer's types say which
 * failures it can meet: {@link CORE_ERROR_CODES} (the license, its keys and
 * files: anywhere), {@link BUYER_ERROR_CODES} (the license on the buyer's
 * machine: `src/client/`), {@link SERVICE_ERROR_CODES} (the license server's
 * workflows and database: `src/service/`, `src/store/`), {@link HTTP_ERROR_CODES}
 * (the HTTP layer) and {@link CLI_ERROR_CODES} (the command line). All of them
 * live here, in the pure core, because every layer (the store and service
 * included, which may import only core) raises them through the one class.
 */

/** The license, its keys and files: raised by core, config and the issuer, and reused above them. */
export const CORE_ERROR_CODES = {
  // Reading a DTLIC2 blob
  BLOB_EMPTY: "the blob is empty",
  BLOB_TOO_LARGE: "the blob is larger than any genuine license",
  BLOB_V1_UNSUPPORTED: "a DTLIC1 (HMAC) blob, which this version no longer accepts",
  BLOB_PREFIX_UNKNOWN: "the text does not start with DTLIC2:",
  BLOB_MALFORMED: "the blob is not of the form DTLIC2:<payload>.<signature>",
  BLOB_ENCODING: "a part of the blob is not valid base64url",
  PAYLOAD_NOT_JSON: "the payload is not valid UTF-8 JSON",
  PAYLOAD_NOT_OBJECT: "the payload is JSON but not an object",
  PAYLOAD_VERSION: "the payload's v is not 2",
  PAYLOAD_FIELD: "a payload field is missing or has the wrong type or form",
  KEY_UNKNOWN: "the blob names a signing key (kid) that is not trusted here",
  SIGNATURE_INVALID: "the signature does not match the payload",

  // Reading a signed server answer (src/core/answer.ts)
  ANSWER_UNSIGNED: "the server's answer carries no DTL-Signature header",
  ANSWER_SIGNATURE_INVALID: "the server's answer signature is malformed or does not match its body",
  ANSWER_KEY_UNKNOWN: "the server's answer is signed by a key this app does not trust",

  // Keys
  KEY_INVALID: "a key is not 64 hex characters",
  KEY_WEAK:
    "a public key is a small-order or non-canonical Ed25519 point, with which anyone could sign licenses",
  KEY_MISMATCH: "the public key does not belong to the private key",
  KEY_MISSING: "a needed key is not configured",
  DEV_KEY_IN_PRODUCTION: "the public development key is trusted by a production build",

  // Minting input
  NAME_INVALID:
    "the buyer's name is empty, too long, or holds a control, formatting or invisible character",
  EMAIL_INVALID:
    "the e-mail address is empty, implausible, or holds a control, formatting or invisible character",
  TIER_UNKNOWN: "the tier is not one of the catalogue's tiers",
  YEARS_INVALID: "years is not a positive whole number in range",
  LICENSE_KEY_INVALID: "the license key has characters outside the allowed set",
  LICENSE_KEY_TAKEN: "the license key already belongs to another buyer",

  // Catalogue and configuration
  CATALOGUE_INVALID: "the feature catalogue is not well formed",
  CONFIG_INVALID: "a configuration value is not valid",

  // Files
  FILE_EXISTS: "the output file exists and --force was not given",
  FILE_INSECURE: "a secret file is readable by group or others",
  FILE_UNREADABLE: "a file could not be read",
  FILE_UNWRITABLE: "a file could not be written",
  LOG_LOCKED: "the issuance log is locked by another process for too long",
  LOG_NOT_FOUND: "no issuance log exists yet",
  LEDGER_BROKEN:
    "a hash chain (the issuance log's lines or the audit events) is broken: an entry was changed, removed, reordered or inserted",
  NOT_FOUND: "nothing matched",
} as const;

/** The license on the buyer's machine: raised by `src/client/` (and the buyer commands built on it). */
export const BUYER_ERROR_CODES = {
  LICENSE_NONE: "no license is activated on this machine",
  LICENSE_EXPIRED: "the license has expired",
  LICENSE_TAMPERED: "the stored license file was changed by hand or is corrupt",
  LICENSE_CORRUPT: "the stored license file is not a readable license file (damaged or truncated)",
  LICENSE_EXISTS: "another license is already active on this machine and --force was not given",
  IDENTITY_MISMATCH: "the name or e-mail does not match the license",
  RENEW_DIFFERENT_BUYER: "the new license is for a different buyer",
  RENEW_EARLIER_EXPIRY: "the new license expires before the current one",
  CLOCK_ROLLBACK: "the system clock is behind the last time the license was seen valid",

  // The online check-in (checkIn, activateMachine, the revocation list)
  ANSWER_NONCE_MISMATCH:
    "the server's answer does not carry the nonce this request sent (replayed or swapped)",
  ANSWER_CLOCK_SKEW: "the server's answer is dated too far from this machine's clock",
  ANSWER_STALE: "the revocation list is older than one this machine has already seen",
  CHECK_IN_REQUIRED: "the license has not been checked in with its server within the grace period",
  CHECK_IN_UNAVAILABLE:
    "the license server gave no answer about the license (unreachable, timed out, a server error or an error body)",
  LICENSE_REVOKED:
    "the license was revoked by its vendor (a signed server answer or revocation list says so)",
  LICENSE_SUSPENDED:
    "the license is suspended by its vendor (a signed server answer or revocation list says so)",
} as const;

/**
 * The license server's workflows and database: raised by `src/service/` and
 * `src/store/`, so met both through the HTTP API and by the commands that open
 * the database themselves.
 */
export const SERVICE_ERROR_CODES = {
  REQUEST_INVALID: "the request body, query or headers are malformed or have unknown fields",
  AUTH_INVALID: "the bearer token is unknown, malformed or revoked",
  IDEMPOTENCY_KEY_REUSED: "the Idempotency-Key was already used with a different request",
  LICENSE_STATE_CONFLICT: "the license is not in a state that allows this change",
  RECORD_MISMATCH: "an imported line's fields differ from its blob's signed payload",
  DATABASE_UNAVAILABLE: "the database cannot be reached",
  SCHEMA_OUTDATED: "the database schema is not at this server's version; run dtlicense db migrate",
  DATA_DIR_LOCKED: "another server is already using this embedded database",
  SECRETS_LOCKED: "another key rotation is writing the secrets folder",
  SEATS_INVALID: "seats is not a whole number from 1 to 10,000",
  SEAT_LIMIT_REACHED: "every seat of the license is taken by another machine",
  NOT_ACTIVATED: "this machine (fingerprint) holds no seat of the license",
  WEBHOOK_EVENT_PROCESSED:
    "the store's webhook event already took effect; only ignored events are replayed",
} as const;

/**
 * The HTTP layer's own: raised by `src/server/` (the CLI's API client repeats
 * AUTH_MISSING when it has no token to send, and INTERNAL for an answer it
 * cannot read). HTTP statuses are in src/server/errors.ts.
 */
export const HTTP_ERROR_CODES = {
  REQUEST_TOO_LARGE: "the request body is larger than the server accepts",
  MEDIA_TYPE_UNSUPPORTED: "the request body is not application/json",
  ROUTE_NOT_FOUND: "no endpoint has this method and path",
  AUTH_MISSING: "the request has no Authorization: Bearer token",
  RATE_LIMITED: "too many requests from this client address; retry later",
  INTERNAL: "an unexpected server error",
  WEBHOOK_SIGNATURE_INVALID:
    "the store's webhook signature is missing, does not match the body under the configured secret, or is too old",
  WEBHOOK_PAYLOAD_INVALID: "the store's webhook body is not a JSON event of the expected shape",
  WEBHOOK_NOT_CONFIGURED: "no signing secret is configured for this store's webhooks",
} as const;

/** The command line's own: raised by `src/cli/` only; no HTTP response carries them. */
export const CLI_ERROR_CODES = {
  USAGE: "the command line is not valid",
  SERVER_UNREACHABLE: "the license server's API cannot be reached",
} as const;

/** All error codes, with the one-line meaning each stands for. */
export const ERROR_CODES = {
  ...CORE_ERROR_CODES,
  ...BUYER_ERROR_CODES,
  ...SERVICE_ERROR_CODES,
  ...HTTP_ERROR_CODES,
  ...CLI_ERROR_CODES,
} as const;

export type CoreErrorCode = keyof typeof CORE_ERROR_CODES;
export type BuyerErrorCode = keyof typeof BUYER_ERROR_CODES;
export type ServiceErrorCode = keyof typeof SERVICE_ERROR_CODES;
export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;
export type CliErrorCode = keyof typeof CLI_ERROR_CODES;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The codes an HTTP response of the license server can carry: every code but
 * the buyer's machine's and the command line's, which arise where no server runs.
 */
export type ApiErrorCode = CoreErrorCode | ServiceErrorCode | HttpErrorCode;

/**
 * A {@link LicenseError} whose code is one of `C`: how a layer's types say which
 * failures it hands on (e.g. the HTTP error boundary's `LicenseErrorOf<ApiErrorCode>`).
 */
export type LicenseErrorOf<C extends ErrorCode> = LicenseError & { readonly code: C };

/**
 * True when `code` can be the code of an HTTP response (see {@link ApiErrorCode}).
 *
 * @example
 * ```ts
 * isApiErrorCode("TIER_UNKNOWN"); // true
 * isApiErrorCode("USAGE"); // false
 * ```
 */
export function isApiErrorCode(code: string): code is ApiErrorCode {
  return (
    Object.hasOwn(CORE_ERROR_CODES, code) ||
    Object.hasOwn(SERVICE_ERROR_CODES, code) ||
    Object.hasOwn(HTTP_ERROR_CODES, code)
  );
}

const BRAND = Symbol.for("datatools-license.LicenseError");

/**
 * The one error class of this package. `code` is stable; `message` is for
 * people and says what was wrong and, where it can, what to do.
 *
 * @example
 * ```ts
 * try {
 *   verifyBlob(text, ring);
 * } catch (err) {
 *   if (err instanceof LicenseError && err.code === "SIGNATURE_INVALID") {
 *     // refuse the license
 *   }
 * }
 * ```
 */
export class LicenseError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  // A process can hold two copies of this class (the bundled CLI loads the server
  // modules from dist/, an app may bundle the client twice); `instanceof` answers
  // for every copy by a shared brand rather than by prototype identity.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && BRAND in value;
  }
}

/**
 * True when `err` is a {@link LicenseError}, optionally with the given code.
 *
 * @example
 * ```ts
 * if (isLicenseError(err, "LICENSE_EXPIRED")) showRenewDialog();
 * ```
 */
export function isLicenseError(err: unknown, code?: ErrorCode): err is LicenseError {
  return err instanceof LicenseError && (code === undefined || err.code === code);
}
