/**
 * The online check-in on the wire: the requests the app sends, and the checks
 * an answer must pass before it is believed (docs/FORMAT.md "Signed server
 * answers"): the DTL-Signature by a key of the app's ring, the nonce it sent
 * (or, for the revocation list, a serial that never goes backwards) and a
 * server time close to the local clock. Global fetch only.
 */
import { randomBytes } from "node:crypto";
import { ANSWER_SIGNATURE_HEADER, verifyAnswer } from "../core/answer.js";
import { LicenseError, isLicenseError } from "../core/errors.js";
import type { KeyRing } from "../core/keys.js";

/** How far the server's clock may be from this machine's by default: 10 minutes. */
export const DEFAULT_MAX_SKEW_MS = 10 * 60 * 1000;
/** How long a request may take by default: 10 seconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The largest answer read (a revocation list of some 20,000 licenses). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** The license's state as the server sees it. */
export type ServerLicenseState = "active" | "expired" | "suspended" | "revoked" | "unknown";

/** The answer of `POST /v1/activations`, `/v1/activations/release` and `/v1/check-in`. */
export interface SeatAnswer {
  /** ACTIVATED, ALREADY_ACTIVE, SEAT_LIMIT_REACHED, RELEASED, NOT_ACTIVATED, VALID, EXPIRED,
   *  SUSPENDED, REVOKED, UNKNOWN, or a blob-reading code such as SIGNATURE_INVALID. */
  readonly code: string;
  readonly message: string;
  readonly license_key: string | null;
  readonly state: ServerLicenseState;
  readonly expires_at: string | null;
  readonly seats: { readonly limit: number | null; readonly used: number } | null;
  readonly activation: {
    readonly id: number;
    readonly fingerprint: string;
    readonly hostname: string | null;
    readonly first_seen_at: string;
    readonly last_seen_at: string;
  } | null;
  readonly nonce: string;
  readonly server_time: string;
}

/** One entry of the revocation list. */
export interface RevokedEntry {
  readonly license_key: string;
  readonly state: "revoked" | "suspended";
  readonly since: string;
}

/** The answer of `GET /v1/revocations`. */
export interface RevocationList {
  /** Only grows. */
  readonly serial: number;
  readonly issued_at: string;
  readonly next_update: string;
  readonly server_time: string;
  /** Sorted by license key. */
  readonly revoked: readonly RevokedEntry[];
}

/** An answer as received: the exact body text and its signature header, kept to re-verify. */
export interface RawAnswer {
  /** The `DTL-Signature` header value. */
  readonly signature: string;
  /** The exact body, as UTF-8 text. */
  readonly body: string;
}

/** What a request got: an HTTP status and the body, or why there was none. */
interface Received {
  readonly status: number;
  readonly signature: string | null;
  readonly bytes: Uint8Array;
}

/** A fresh random nonce: 32 base64url characters (24 random bytes). */
export function newNonce(): string {
  return randomBytes(24).toString("base64url");
}

const FINGERPRINT_RE = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Refuses a fingerprint the server would refuse (400): 8-128 of A-Z a-z 0-9 . _ : -.
 * A mistake in the app's options, said at once rather than taken for a server that
 * cannot be reached.
 */
export function checkFingerprint(fingerprint: string): string {
  if (!FINGERPRINT_RE.test(fingerprint)) {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the machine fingerprint ${JSON.stringify(fingerprint.slice(0, 140))} is not one the license ` +
        "server accepts: give 8-128 of A-Z a-z 0-9 . _ : - (or leave it out for machineFingerprint())",
    );
  }
  return fingerprint;
}

/**
 * The host name as the server accepts it (1-255 characters, no C0, DEL or C1
 * control characters), or undefined: it is only a label for the vendor, so
 * one the server would refuse is left out rather than failing the activation.
 */
export function sendableHostname(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  // UTF-16 units: never more than the server's count of characters.
  // eslint-disable-next-line no-control-regex
  return name.length >= 1 && name.length <= 255 && !/[\u0000-\u001f\u007f-\u009f]/.test(name)
    ? name
    : undefined;
}

/** Checks a server URL (http or https, no query); returns it without a trailing slash. */
export function serverBase(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server address ${JSON.stringify(server)} is not a URL; give one like https://licenses.example.com`,
    );
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server address ${JSON.stringify(server)} must be an http or https URL without ?query or #fragment`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * Sends one request. Network failures, time-outs and oversized answers are
 * `CHECK_IN_UNAVAILABLE`; any HTTP status is returned for the caller to judge.
 */
async function send(
  base: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<Received> {
  const url = `${base}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      // Never followed: a signed answer is about the address asked (see the 3xx check below).
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = (err as Error)?.name === "TimeoutError";
    const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
    const why = timedOut
      ? `no answer within ${timeoutMs} ms`
      : (cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err));
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `cannot reach the license server at ${base} (${why}); check the network and try again later`,
      { cause: err },
    );
  }
  if (res.status >= 300 && res.status < 400) {
    const to = res.headers.get("location");
    void res.body?.cancel().catch(() => undefined);
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server at ${base} answered ${res.status}, a redirect${to ? ` to ${to}` : ""}; ` +
        "redirects are not followed: give the server's own address (https://…, as the vendor names it)",
    );
  }
  let bytes: Uint8Array;
  try {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > MAX_ANSWER_BYTES) throw new Error("answer too large");
    bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > MAX_ANSWER_BYTES) throw new Error("answer too large");
  } catch (err) {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server at ${base} sent an unreadable answer (${(err as Error)?.message ?? err})`,
      { cause: err },
    );
  }
  return { status: res.status, signature: res.headers.get(ANSWER_SIGNATURE_HEADER), bytes };
}

/** The standard error body `{"error":{"code","message"}}`, or undefined when the body is not one. */
function errorBody(text: string): { code: string; message: string } | undefined {
  try {
    const value = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const e = value?.error;
    if (e && typeof e.code === "string" && typeof e.message === "string") {
      return { code: e.code, message: e.message };
    }
  } catch {
    // Not JSON.
  }
  return undefined;
}

/** What a successful exchange gives: the HTTP status, the parsed answer and its raw form. */
export interface Verified<A> {
  readonly httpStatus: number;
  readonly answer: A;
  readonly raw: RawAnswer;
}

/** Thrown by the exchanges with the HTTP status, when there was one. */
export class AnswerRefused extends Error {
  constructor(
    readonly error: LicenseError,
    readonly httpStatus: number | undefined,
  ) {
    super(error.message);
  }
}

/**
 * Checks a received body: not an error body, signed by the ring, of the
 * expected shape. Error bodies (signed or not: they carry no nonce) are
 * `CHECK_IN_UNAVAILABLE` with the server's code and message quoted.
 */
function verifiedBody<A>(
  received: Received,
  ring: KeyRing,
  base: string,
  parse: (value: unknown) => A | undefined,
): { answer: A; raw: RawAnswer } {
  const text = Buffer.from(received.bytes).toString("utf8");
  const failure = errorBody(text);
  if (failure) {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server answered ${received.status} ${failure.code}: ${failure.message}`,
    );
  }
  if (received.status >= 500 && !received.signature) {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server at ${base} answered ${received.status}; try again later`,
    );
  }
  verifyAnswer(ring, received.signature, received.bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const answer = parse(value);
  if (!answer) {
    throw new LicenseError(
      "CHECK_IN_UNAVAILABLE",
      `the license server's answer (${received.status}) is signed but not of the expected form; ` +
        "the server and this app may be of incompatible versions",
    );
  }
  return { answer, raw: { signature: received.signature!, body: text } };
}

const SERVER_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** An RFC 3339 UTC time, with or without milliseconds, or undefined. */
export function parseServerTime(text: string): Date | undefined {
  if (!SERVER_TIME_RE.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Refuses a server time further than `maxSkewMs` from `now`. */
export function checkSkew(serverTime: string, now: Date, maxSkewMs: number): void {
  const t = parseServerTime(serverTime) ?? new Date(Number.NaN);
  const off = t.getTime() - now.getTime();
  if (!(Math.abs(off) <= maxSkewMs)) {
    throw new LicenseError(
      "ANSWER_CLOCK_SKEW",
      `the server's answer is dated ${serverTime}, ${Math.round(Math.abs(off) / 60_000)} minutes ` +
        `${off > 0 ? "ahead of" : "behind"} this machine's clock (${now.toISOString()}); ` +
        "set the date and time correctly and try again",
    );
  }
}

/** Sends a seat request and checks the answer: signature, shape, nonce, server time. */
export async function exchangeSeat(
  base: string,
  path: "/v1/activations" | "/v1/activations/release" | "/v1/check-in",
  request: { blob: string; fingerprint: string; nonce: string; hostname?: string },
  check: { ring: KeyRing; now: () => Date; maxSkewMs: number; timeoutMs: number },
): Promise<Verified<SeatAnswer>> {
  let status: number | undefined;
  try {
    const received = await send(base, path, request, check.timeoutMs);
    status = received.status;
    const { answer, raw } = verifiedBody(received, check.ring, base, parseSeatAnswer);
    if (answer.nonce !== request.nonce) {
      throw new LicenseError(
        "ANSWER_NONCE_MISMATCH",
        "the server's answer does not carry the nonce this request sent: it is a replayed or " +
          "swapped answer, not one to this request; nothing was changed",
      );
    }
    checkSkew(answer.server_time, check.now(), check.maxSkewMs);
    return { httpStatus: status, answer, raw };
  } catch (err) {
    if (isLicenseError(err)) throw new AnswerRefused(err, status);
    throw err;
  }
}

/** Fetches the revocation list and checks it: signature, shape, serial, server time. */
export async function exchangeRevocations(
  base: string,
  minSerial: number,
  check: { ring: KeyRing; now: () => Date; maxSkewMs: number; timeoutMs: number },
): Promise<Verified<RevocationList>> {
  let status: number | undefined;
  try {
    const received = await send(base, "/v1/revocations", undefined, check.timeoutMs);
    status = received.status;
    const { answer, raw } = verifiedBody(received, check.ring, base, parseRevocationList);
    if (answer.serial < minSerial) {
      throw new LicenseError(
        "ANSWER_STALE",
        `the server sent revocation list ${answer.serial}, older than list ${minSerial} already held; ` +
          "it was not used (a cache or proxy may be serving an old copy)",
      );
    }
    checkSkew(answer.server_time, check.now(), check.maxSkewMs);
    return { httpStatus: status, answer, raw };
  } catch (err) {
    if (isLicenseError(err)) throw new AnswerRefused(err, status);
    throw err;
  }
}

const STATES = new Set(["active", "expired", "suspended", "revoked", "unknown"]);
const isStr = (v: unknown): v is string => typeof v === "string";
const isTime = (v: unknown): v is string => isStr(v) && parseServerTime(v) !== undefined;

/** A seat answer of the wire format's shape, or undefined. */
export function parseSeatAnswer(value: unknown): SeatAnswer | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (!isStr(v.code) || !isStr(v.message) || !isStr(v.nonce) || !isTime(v.server_time)) {
    return undefined;
  }
  if (!(v.license_key === null || isStr(v.license_key))) return undefined;
  if (!isStr(v.state) || !STATES.has(v.state)) return undefined;
  if (!(v.expires_at === null || isStr(v.expires_at))) return undefined;
  if (v.seats !== null) {
    const s = v.seats as Record<string, unknown> | undefined;
    if (typeof s !== "object" || !s || typeof s.used !== "number") return undefined;
    if (!(s.limit === null || typeof s.limit === "number")) return undefined;
  }
  if (v.activation !== null) {
    const a = v.activation as Record<string, unknown> | undefined;
    if (typeof a !== "object" || !a || typeof a.id !== "number" || !isStr(a.fingerprint)) {
      return undefined;
    }
  }
  return value as SeatAnswer;
}

/** A revocation list of the wire format's shape, or undefined. */
export function parseRevocationList(value: unknown): RevocationList | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.serial !== "number" || !Number.isSafeInteger(v.serial) || v.serial < 0) {
    return undefined;
  }
  if (!isTime(v.issued_at) || !isStr(v.next_update) || !isTime(v.server_time)) return undefined;
  if (!Array.isArray(v.revoked)) return undefined;
  for (const e of v.revoked as unknown[]) {
    const r = e as Record<string, unknown> | null;
    if (typeof r !== "object" || !r || !isStr(r.license_key)) return undefined;
    if (r.state !== "revoked" && r.state !== "suspended") return undefined;
  }
  return value as RevocationList;
}
