/**
 * The API's request and response schemas, defined once: each gives a route its
 * validation, its TypeScript types (through the type provider), its response
 * serialization and its part of the OpenAPI document (`GET /openapi.json`).
 * The response schemas are checked at compile time against the service's
 * types (the assertions at the end), so the two cannot drift apart.
 */
import Type, { type Static, type TSchema } from "typebox";
import { ERROR_CODES, isApiErrorCode, type ErrorCode } from "../core/errors.js";
import { TIERS } from "../core/catalogue.js";
import type * as activations from "../service/activations.js";
import type * as health from "../service/health.js";
import type * as imports from "../service/imports.js";
import type * as licenses from "../service/licenses.js";
import * as sales from "../service/sales.js";
import type * as tokens from "../service/tokens.js";
import {
  EVENT_ACTIONS,
  LICENSE_SOURCES,
  LICENSE_STATES,
  LICENSE_STATUSES,
} from "../service/licenses.js";

/** Most records one import request may carry. */
export const IMPORT_BATCH_MAX = 1000;

// ---------------------------------------------------------------- building blocks

const text = (maxLength: number, description?: string) =>
  Type.String({ maxLength, ...(description ? { description } : {}) });

/** A string or null, as one JSON Schema type list (OpenAPI 3.1; serialized without a branch test). */
const NullableString = (description?: string) =>
  Type.Unsafe<string | null>({ type: ["string", "null"], ...(description ? { description } : {}) });

/** A string enum; `type` first, so a value of another type is refused as a wrong type. */
const StringEnum = <const V extends string[]>(values: readonly [...V], description?: string) =>
  Type.Enum(values, { type: "string", ...(description ? { description } : {}) });

const Tier = StringEnum(TIERS, "the license's tier");
/** A seat limit as sent: any JSON value reaches the service, which refuses all but 1-10,000 and null with SEATS_INVALID. */
const Seats = (otherwise: string) =>
  Type.Unsafe<unknown>({
    description: `the seat limit: whole number 1-10,000, or null for no limit; ${otherwise}`,
  });
const Time = (description: string) => Type.String({ description });
/** A fresh random value the client sends and the signed answer echoes. */
const Nonce = () =>
  Type.String({
    pattern: "^[A-Za-z0-9_-]{16,64}$",
    description: "16-64 of A-Z a-z 0-9 _ -, fresh per request; the signed answer echoes it",
  });
/**
 * What a verify answer ends with. The serializer writes required fields first, so
 * server_time is declared optional to stay last; the route always sends it.
 */
const answerTail = {
  nonce: Type.Optional(Type.String({ description: "the request's nonce, when it sent one" })),
  server_time: Type.Optional(
    Time("always present: the server's clock, ISO 8601 UTC with milliseconds"),
  ),
};

// ---------------------------------------------------------------- errors

/** The codes an HTTP response can carry, for the error body's documented enum. */
const API_ERROR_CODES = Object.keys(ERROR_CODES).filter(isApiErrorCode);

/** Every error response: `{ "error": { "code", "message", "request_id" } }`. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: StringEnum(API_ERROR_CODES, "a stable code (docs/API.md says what each means)"),
        message: Type.String({ description: "for people: what was wrong and what to do" }),
        request_id: Type.String({ description: "the response's X-Request-Id" }),
      },
      { additionalProperties: false },
    ),
  },
  { $id: "Error", additionalProperties: false, description: "an error" },
);

/**
 * A reference to a shared schema (one the app adds with `addSchema`, so it is
 * defined once in the document's components), typed as the schema itself.
 */
function ref<T extends TSchema>(schema: T, description?: string) {
  if (!("$id" in schema) || typeof schema.$id !== "string") {
    throw new Error("a shared schema needs an $id");
  }
  return Type.Unsafe<Static<T>>({
    $ref: `${schema.$id}#`,
    ...(description ? { description } : {}),
  });
}

const errorBody = (description: string) => ref(ErrorBody, description);

const ERROR_RESPONSES = {
  400: errorBody("bad input: REQUEST_INVALID, or the code of the field's own check"),
  401: errorBody("AUTH_MISSING or AUTH_INVALID: no valid admin token"),
  404: errorBody("NOT_FOUND: nothing with that key, id or name"),
  409: errorBody("the request conflicts with what is stored (the code says how)"),
  413: errorBody("REQUEST_TOO_LARGE: the body is over the limit"),
  415: errorBody("MEDIA_TYPE_UNSUPPORTED: the body is not application/json"),
  429: errorBody("RATE_LIMITED: retry after the Retry-After header's seconds"),
  503: errorBody("KEY_MISSING, DATABASE_UNAVAILABLE or SCHEMA_OUTDATED: retry later"),
  "5xx": errorBody("INTERNAL: a server fault, logged under the request_id"),
} as const;

/**
 * The error responses of a route, by status (every route may also answer 5xx).
 *
 * @example
 * ```ts
 * response: { 200: licenseResponse("the license"), ...errorResponses(401, 404) }
 * ```
 */
export function errorResponses<const S extends keyof typeof ERROR_RESPONSES>(
  ...statuses: S[]
): Pick<typeof ERROR_RESPONSES, S | "5xx"> {
  const picked: Partial<Record<keyof typeof ERROR_RESPONSES, unknown>> = {
    "5xx": ERROR_RESPONSES["5xx"],
  };
  for (const s of statuses) picked[s] = ERROR_RESPONSES[s];
  return picked as Pick<typeof ERROR_RESPONSES, S | "5xx">;
}

// ---------------------------------------------------------------- licenses

/** A stored license, as every license endpoint returns it (shared: `$ref` License). */
export const License = Type.Object(
  {
    license_key: Type.String(),
    name: Type.String({ description: "the buyer's name" }),
    email: Type.String({ description: "the buyer's e-mail address" }),
    tier: Tier,
    issued_at: Time("RFC 3339 UTC to the second, as signed"),
    expires_at: Time("RFC 3339 UTC to the second, as signed"),
    kid: Type.String({ description: "the id of the key that signed the blob" }),
    blob: Type.String({ description: "the signed DTLIC2 license, exactly as issued" }),
    status: StringEnum(LICENSE_STATUSES, "what is stored; expired is active past expires_at"),
    status_reason: NullableString("the reason given for the last status change"),
    supersedes: NullableString("the license key this one renewed"),
    superseded_by: NullableString("the license key that renewed this one"),
    source: StringEnum(LICENSE_SOURCES),
    created_at: Time("ISO 8601 UTC with milliseconds"),
    updated_at: Time("ISO 8601 UTC with milliseconds"),
    seats: Type.Unsafe<number | null>({
      type: ["integer", "null"],
      description: "how many machines may hold a seat at once; null: no limit",
    }),
  },
  { $id: "License", additionalProperties: false, description: "a license" },
);

/** A license as a response, described. */
export const licenseResponse = (description: string) => ref(License, description);

/** `POST /v1/licenses`. */
export const IssueBody = Type.Object(
  {
    name: text(1000, "the buyer's name"),
    email: text(1000, "the buyer's e-mail address"),
    tier: Tier,
    years: Type.Optional(Type.Integer({ description: "whole number 1-100; default 1" })),
    license_key: Type.Optional(
      text(1000, "3-64 of A-Z a-z 0-9 - _; default a new DT1-<TIER>-xxxxxxxx-xxxxxxxx"),
    ),
    seats: Type.Optional(Seats("default: no limit")),
  },
  { additionalProperties: false },
);

/** The list endpoint's query. Numbers stay text: nothing is coerced, and the route parses them. */
export const ListQuery = Type.Object(
  {
    email: Type.Optional(text(1000, "the buyer's e-mail, compared ignoring case")),
    tier: Type.Optional(Tier),
    state: Type.Optional(StringEnum(LICENSE_STATES, "the state now (expired is derived)")),
    expiring_within_days: Type.Optional(
      text(20, "active licenses that expire within this many days, 0-36500"),
    ),
    q: Type.Optional(text(200, "text that name, e-mail or license key contains")),
    limit: Type.Optional(text(20, "page size, 1-200; default 50")),
    cursor: Type.Optional(text(100, "the next_cursor of the previous page")),
  },
  { additionalProperties: false },
);

export const LicensePage = Type.Object(
  {
    licenses: Type.Array(ref(License)),
    next_cursor: NullableString("pass as cursor for the next page; null on the last page"),
  },
  { additionalProperties: false, description: "one page of licenses, newest first" },
);

export const KeyParams = Type.Object({ key: text(4096, "the license key") });

/** Suspend, reinstate and revoke. */
export const ReasonBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500, description: "recorded in the event" }) },
  { additionalProperties: false },
);

/** Renew; every field optional, so no body at all is `{}`. */
export const RenewBody = Type.Object(
  {
    years: Type.Optional(Type.Integer({ description: "whole number 1-100; default 1" })),
    seats: Type.Optional(Seats("default: the renewed license's")),
  },
  { additionalProperties: false },
);

/** The Idempotency-Key header (its form is checked by the route, which names it in the error). */
export const IdempotencyHeaders = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      description:
        "1-200 printable ASCII characters without spaces; a repeat with the same body gets the first answer",
    }),
  ),
});

const Snapshot = Type.Object(
  {
    status: StringEnum(LICENSE_STATUSES),
    status_reason: NullableString(),
    tier: Tier,
    expires_at: Type.String(),
    supersedes: NullableString(),
    superseded_by: NullableString(),
  },
  { additionalProperties: false },
);

const LicenseEvent = Type.Object(
  {
    id: Type.Integer(),
    license_key: Type.String(),
    action: StringEnum(EVENT_ACTIONS),
    actor: Type.String({ description: "the admin token's name, or the command that acted" }),
    reason: NullableString(),
    request_id: NullableString(),
    before: Type.Union([Snapshot, Type.Null()]),
    after: Type.Union([Snapshot, Type.Null()]),
    at: Time("ISO 8601 UTC with milliseconds"),
  },
  { additionalProperties: false },
);

export const LicenseEvents = Type.Object(
  { events: Type.Array(LicenseEvent) },
  { additionalProperties: false, description: "the audit trail, oldest first" },
);

export const LicenseCounts = Type.Object(
  {
    total: Type.Integer(),
    by_tier: Type.Record(Tier, Type.Integer()),
    by_state: Type.Record(StringEnum(LICENSE_STATES), Type.Integer()),
  },
  { additionalProperties: false, description: "licenses by tier and by state, now" },
);

export const ImportBody = Type.Object(
  {
    records: Type.Array(
      Type.Unsafe<Record<string, unknown>>({
        type: "object",
        description: "an issuance-log record (docs/ADMIN.md)",
      }),
      { maxItems: IMPORT_BATCH_MAX },
    ),
  },
  { additionalProperties: false },
);

export const ImportSummary = Type.Object(
  {
    imported: Type.Integer(),
    already_present: Type.Integer(),
    rejected: Type.Array(
      Type.Object(
        {
          index: Type.Integer({ description: "0-based, into records" }),
          code: Type.Unsafe<ErrorCode>({ type: "string", description: "why, as a stable code" }),
          reason: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: "what the import did" },
);

// ---------------------------------------------------------------- verify

export const VerifyBody = Type.Object(
  {
    blob: Type.String({ maxLength: 65_536, description: "a DTLIC2:… blob" }),
    nonce: Type.Optional(Nonce()),
  },
  { additionalProperties: false },
);

const VERIFY_STATES = ["active", "expired", "suspended", "revoked", "unknown"] as const;

export const VerifyAnswer = Type.Union(
  [
    Type.Object(
      {
        genuine: Type.Literal(false),
        state: Type.Literal("unknown"),
        code: Type.String({ description: "why the blob is not genuine (a blob-reading code)" }),
        message: Type.String(),
        ...answerTail,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        genuine: Type.Literal(true),
        license_key: Type.String(),
        expires_at: Time("the blob's own expiry"),
        current: Type.Optional(
          Type.Boolean({ description: "the key's current blob (false: an earlier one)" }),
        ),
        superseded_by: Type.Optional(NullableString()),
        state: StringEnum(VERIFY_STATES),
        code: StringEnum(["VALID", "EXPIRED", "SUSPENDED", "REVOKED", "UNKNOWN"] as const),
        message: Type.String(),
        ...answerTail,
      },
      { additionalProperties: false },
    ),
  ],
  { description: "every outcome of a well-formed request" },
);

// ---------------------------------------------------------------- tokens

export const TokenBody = Type.Object(
  { name: Type.String({ maxLength: 200, description: "1-64 letters, digits, spaces or ._@-" }) },
  { additionalProperties: false },
);

export const TokenParams = Type.Object({ id: text(200, "the token's id or name") });

const tokenFields = {
  id: Type.Integer(),
  name: Type.String(),
  created_by: Type.String(),
  created_at: Time("ISO 8601 UTC with milliseconds"),
  last_used_at: NullableString("updated at most once a minute"),
  revoked_at: NullableString(),
};

export const AdminToken = Type.Object(tokenFields, {
  additionalProperties: false,
  description: "an admin token's record (never the token)",
});

export const CreatedToken = Type.Object(
  { ...tokenFields, token: Type.String({ description: "the token, shown in this response only" }) },
  { additionalProperties: false, description: "the new token's record and the token" },
);

export const TokenList = Type.Object(
  { tokens: Type.Array(AdminToken) },
  { additionalProperties: false },
);

// ---------------------------------------------------------------- health

export const Health = Type.Object(
  { status: Type.Literal("ok") },
  { additionalProperties: false, description: "the process runs" },
);

export const Readiness = Type.Object(
  {
    status: Type.Literal("ready"),
    schema_version: Type.Integer(),
    database: StringEnum(["postgres", "pglite"] as const),
    delivery: Type.Optional(
      StringEnum(["on", "off"] as const, "license e-mails: off when no SMTP_URL is configured"),
    ),
  },
  { additionalProperties: false, description: "the database answers and is migrated" },
);

/** Plain-text responses (the blob, the metrics), documented by content type. */
export const plainText = (description: string) => ({
  description,
  content: { "text/plain": { schema: Type.String() } },
});

// ---------------------------------------------------------------- online check-in

const Fingerprint = Type.String({
  pattern: "^[A-Za-z0-9._:-]{8,128}$",
  description: "the machine's fingerprint: 8-128 of A-Z a-z 0-9 . _ : -",
});

/** `POST /v1/activations`. */
export const ActivateBody = Type.Object(
  {
    blob: Type.String({ maxLength: 65_536, description: "a DTLIC2:… blob" }),
    fingerprint: Fingerprint,
    nonce: Nonce(),
    hostname: Type.Optional(
      Type.String({
        pattern: "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,255}$",
        description:
          "the machine's name for admins, 1-255 characters, no control characters (C0, DEL, C1)",
      }),
    ),
  },
  { additionalProperties: false },
);

/** `POST /v1/activations/release` and `POST /v1/check-in`. */
export const MachineBody = Type.Object(
  {
    blob: Type.String({ maxLength: 65_536, description: "a DTLIC2:… blob" }),
    fingerprint: Fingerprint,
    nonce: Nonce(),
  },
  { additionalProperties: false },
);

const SeatView = Type.Object(
  {
    id: Type.Integer(),
    fingerprint: Type.String(),
    hostname: NullableString(),
    first_seen_at: Time("ISO 8601 UTC with milliseconds"),
    last_seen_at: Time("ISO 8601 UTC with milliseconds"),
  },
  { additionalProperties: false },
);

const SeatCount = Type.Object(
  {
    limit: Type.Unsafe<number | null>({ type: ["integer", "null"], description: "null: no limit" }),
    used: Type.Integer({ description: "seats held now" }),
  },
  { additionalProperties: false },
);

/** The signed answer of activate, release and check-in (shared: `$ref` MachineAnswer). */
export const MachineAnswer = Type.Object(
  {
    code: Type.String({
      description:
        "ACTIVATED, ALREADY_ACTIVE, SEAT_LIMIT_REACHED, RELEASED, NOT_ACTIVATED, VALID, EXPIRED, " +
        "SUSPENDED, REVOKED, UNKNOWN, or why the blob is not genuine (a blob-reading code)",
    }),
    message: Type.String(),
    license_key: NullableString("null when the blob is not genuine"),
    state: StringEnum(VERIFY_STATES),
    expires_at: NullableString("the blob's signed expiry; null when not genuine"),
    seats: Type.Union([SeatCount, Type.Null()], {
      description: "null when the blob is not genuine or not on this server",
    }),
    activation: Type.Union([SeatView, Type.Null()], {
      description: "the seat this machine holds (or just released)",
    }),
    nonce: Type.String({ description: "the request's nonce" }),
    server_time: Time("the server's clock, ISO 8601 UTC with milliseconds"),
  },
  { $id: "MachineAnswer", additionalProperties: false, description: "a signed answer" },
);

export const machineAnswer = (description: string) => ref(MachineAnswer, description);

/** `GET /v1/revocations`. */
export const RevocationList = Type.Object(
  {
    serial: Type.Integer({
      description: "only grows; changes with every revoke, suspend, reinstate",
    }),
    issued_at: Time("when this list was made, ISO 8601 UTC with milliseconds"),
    next_update: Time("issued_at plus the list's max age"),
    server_time: Time("the server's clock, ISO 8601 UTC with milliseconds"),
    revoked: Type.Array(
      Type.Object(
        {
          license_key: Type.String(),
          state: StringEnum(["revoked", "suspended"] as const),
          since: Time("when the license got this status"),
        },
        { additionalProperties: false },
      ),
      { description: "sorted by license_key" },
    ),
  },
  { additionalProperties: false, description: "the signed list of revoked and suspended licenses" },
);

const ActivationRecord = Type.Object(
  {
    id: Type.Integer(),
    license_key: Type.String(),
    fingerprint: Type.String(),
    hostname: NullableString(),
    first_seen_at: Time("ISO 8601 UTC with milliseconds"),
    last_seen_at: Time("ISO 8601 UTC with milliseconds"),
    released_at: NullableString("null while the seat is held"),
    released_by: NullableString("machine, reclaim, or the admin token's name"),
  },
  { additionalProperties: false, description: "a seat a machine took" },
);

export const ActivationResponse = ActivationRecord;

export const SeatList = Type.Object(
  {
    license_key: Type.String(),
    seats: SeatCount,
    activations: Type.Array(ActivationRecord, {
      description: "held seats first, then released ones; newest first",
    }),
  },
  { additionalProperties: false, description: "a license's seats" },
);

export const ActivationParams = Type.Object({ id: text(30, "the activation's id") });

/** `POST /v1/licenses/{key}/seats`. */
export const SeatsBody = Type.Object(
  { seats: Seats("required: the new limit") },
  { additionalProperties: false },
);

/** The schemas the app adds once (`addSchema`) and the others refer to by `$id`. */
export const SHARED_SCHEMAS = [ErrorBody, License, MachineAnswer];

// ---------------------------------------------------------------- compile-time checks

/** True when A and B are assignable to each other (readonly aside). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

// Each response schema says exactly what the service returns: a field added to,
// removed from or retyped in either one fails to compile here.
export type SchemaChecks = [
  Assert<Same<Static<typeof License>, licenses.LicenseRecord>>,
  Assert<Same<Static<typeof LicenseEvent>, licenses.LicenseEvent>>,
  Assert<Same<Static<typeof LicenseCounts>, licenses.LicenseCounts>>,
  Assert<
    Same<
      Static<typeof VerifyAnswer>,
      licenses.VerifyAnswer & { nonce?: string | undefined; server_time?: string | undefined }
    >
  >,
  Assert<Same<Static<typeof AdminToken>, tokens.AdminToken>>,
  Assert<Same<Static<typeof CreatedToken>, tokens.CreatedToken>>,
  Assert<Same<Static<typeof Readiness>, health.Readiness>>,
  Assert<Same<Static<typeof MachineAnswer>, activations.MachineAnswer>>,
  Assert<Same<Static<typeof SeatList>, activations.SeatList>>,
  Assert<Same<Static<typeof RevocationList>, activations.RevocationList>>,
  // The import answer is the service's summary with each rejection's line as a 0-based index.
  Assert<
    Same<
      Static<typeof ImportSummary>,
      Omit<imports.ImportSummary, "rejected"> & {
        rejected: (Omit<imports.Rejection, "line"> & { index: number })[];
      }
    >
  >,
];

// ---------------------------------------------------------------- store sales

/** The sale a store license came from. */
export const SaleRecord = Type.Object(
  {
    provider: StringEnum(sales.PROVIDERS),
    reference: Type.String({
      description: "the order or payment reference (Stripe payment_intent, Lemon Squeezy order id)",
    }),
    event_id: Type.String({ description: "the provider's event that issued the license" }),
    product: Type.String({ description: "the product reference of the products file" }),
  },
  { additionalProperties: false, description: "the store sale behind the license" },
);

/** Where the license's latest e-mail is. */
export const DeliveryRecord = Type.Object(
  {
    id: Type.Integer(),
    status: StringEnum(sales.DELIVERY_STATUSES, "queued, sent, or failing (retried)"),
    attempts: Type.Integer(),
    last_error: NullableString("why the last attempt failed"),
    next_attempt_at: NullableString("when it is tried (again); null once sent"),
    sent_at: NullableString("when the SMTP server accepted it"),
    created_at: Time("ISO 8601 UTC with milliseconds"),
  },
  { additionalProperties: false, description: "the license e-mail's delivery state" },
);

/** `GET /v1/licenses/{key}`: the license, its sale and its e-mail's delivery state. */
export const LicenseDetail = Type.Object(
  {
    ...License.properties,
    sale: Type.Union([SaleRecord, Type.Null()]),
    delivery: Type.Union([DeliveryRecord, Type.Null()]),
  },
  { additionalProperties: false, description: "a license with its sale and delivery state" },
);

export const WebhookEventRecord = Type.Object(
  {
    id: Type.Integer({ description: "the server's id (for replay)" }),
    provider: StringEnum(sales.PROVIDERS),
    event_id: Type.String({ description: "the provider's event id" }),
    type: Type.String(),
    status: StringEnum(sales.WEBHOOK_STATUSES),
    reason: NullableString("why it was ignored, or the status change it made"),
    license_key: NullableString("the license it issued or changed"),
    received_at: Time("ISO 8601 UTC with milliseconds"),
    processed_at: Time("ISO 8601 UTC with milliseconds"),
  },
  { additionalProperties: false, description: "a store's webhook event and what it did" },
);

export const WebhookEventList = Type.Object(
  { events: Type.Array(WebhookEventRecord) },
  { additionalProperties: false },
);

export const WebhookEventsQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(sales.WEBHOOK_STATUSES)),
    limit: Type.Optional(text(10, "page size, 1-500 (default 100)")),
  },
  { additionalProperties: false },
);

export const WebhookEventParams = Type.Object({ id: text(20, "the event's id in this server") });

/** What a store's webhook is answered (2xx) once its effects are committed. */
export const WebhookAnswer = Type.Object(
  {
    received: Type.Literal(true),
    duplicate: Type.Boolean({ description: "the event was already stored; nothing was done now" }),
    status: StringEnum(sales.WEBHOOK_STATUSES),
    reason: NullableString(),
    license_key: NullableString(),
  },
  { additionalProperties: false },
);

export type SalesSchemaChecks = [
  Assert<Same<Static<typeof SaleRecord>, sales.Sale>>,
  Assert<Same<Static<typeof DeliveryRecord>, sales.Delivery>>,
  Assert<Same<Static<typeof WebhookEventRecord>, sales.WebhookEvent>>,
];
