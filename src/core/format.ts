/**
 * The DTLIC2 blob: `DTLIC2:` + b64u(payload) + `.` + b64u(signature), the
 * Ed25519 signature taken over the ASCII bytes before the dot. The payload is
 * verified as the exact bytes that were signed and never re-serialised.
 * The full specification, with test vectors, is docs/FORMAT.md.
 */
import { LicenseError, type ErrorCode } from "./errors.js";
import { isTier } from "./catalogue.js";
import { parseTime, signedFields, type LicensePayload, type SignedFields } from "./license.js";
import { verifySignature, type KeyRing, type Signer } from "./keys.js";

/** The prefix of every version-2 blob; it is part of the signed bytes. */
export const BLOB_PREFIX = "DTLIC2:";
/** The prefix of the retired HMAC format. */
export const V1_PREFIX = "DTLIC1:";
/**
 * The longest blob accepted, in characters, after whitespace is removed. A
 * genuine blob with the longest allowed name, e-mail and license key is at most
 * 2 197 characters (docs/FORMAT.md).
 */
export const MAX_BLOB_LENGTH = 4096;
/** The longest text accepted before whitespace is removed (pasted e-mail text). */
export const MAX_INPUT_LENGTH = 65_536;

const B64U = /^[A-Za-z0-9_-]*$/;
const KID = /^[0-9a-f]{16}$/;
const WHITESPACE = /\s+/g;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A blob that passed every check, with its payload. */
export interface VerifiedLicense {
  /** The blob as verified, with whitespace removed. */
  readonly blob: string;
  readonly payload: LicensePayload;
}

/**
 * Encodes bytes as base64url without padding.
 *
 * @example
 * ```ts
 * b64uEncode(new Uint8Array([0xfb, 0xff])); // "-_8"
 * ```
 */
export function b64uEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/**
 * Decodes strict base64url: only the URL-safe alphabet, no padding, and the
 * canonical encoding (unused low bits zero), so one byte string has exactly
 * one text form and no character can change without the bytes changing.
 * `what` names the part in the BLOB_ENCODING error.
 *
 * @example
 * ```ts
 * b64uDecode("-_8", "signature"); // <Buffer fb ff>
 * b64uDecode("-_9", "signature"); // throws BLOB_ENCODING (not canonical)
 * ```
 */
export function b64uDecode(text: string, what: string): Buffer {
  if (!B64U.test(text) || text.length % 4 === 1) {
    throw new LicenseError("BLOB_ENCODING", `the ${what} is not valid base64url`);
  }
  const bytes = Buffer.from(text, "base64url");
  if (bytes.toString("base64url") !== text) {
    throw new LicenseError("BLOB_ENCODING", `the ${what} is not canonical base64url`);
  }
  return bytes;
}

/**
 * Signs a payload and returns the blob. The payload's `kid` must be the
 * signer's; fields are written in a fixed order.
 *
 * @example
 * ```ts
 * const blob = encodeBlob({ v: 2, kid: signer.kid, license_key, name, email, tier, issued_at, expires_at }, signer);
 * ```
 */
export function encodeBlob(payload: LicensePayload, signer: Signer): string {
  if (payload.kid !== signer.kid) {
    throw new LicenseError("KEY_MISMATCH", "the payload's kid is not the signer's key id");
  }
  const json = JSON.stringify({ v: payload.v, ...signedFields(payload) });
  const signingInput = BLOB_PREFIX + b64uEncode(Buffer.from(json, "utf8"));
  const signature = signer.sign(Buffer.from(signingInput, "ascii"));
  return `${signingInput}.${b64uEncode(signature)}`;
}

/**
 * Removes whitespace and line breaks (blobs are pasted from e-mail) and checks
 * the prefix and size. Returns the compact blob text.
 *
 * @example
 * ```ts
 * normalizeBlobText("  DTLIC2:eyJ2Ijoy\n  fQ.abc  "); // "DTLIC2:eyJ2IjoyfQ.abc"
 * ```
 */
export function normalizeBlobText(text: string): string {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new LicenseError(
      "BLOB_TOO_LARGE",
      `the text is ${text.length} characters; a license blob is under ${MAX_BLOB_LENGTH}`,
    );
  }
  const blob = text.replace(WHITESPACE, "");
  if (blob === "") throw new LicenseError("BLOB_EMPTY", "no license blob was given");
  if (!blob.startsWith(BLOB_PREFIX)) {
    if (blob.startsWith(V1_PREFIX)) {
      throw new LicenseError(
        "BLOB_V1_UNSUPPORTED",
        "this is a DTLIC1 license from the retired HMAC format; ask the vendor to re-issue it as DTLIC2",
      );
    }
    throw new LicenseError(
      "BLOB_PREFIX_UNKNOWN",
      "this is not a DataTools license: a license starts with DTLIC2:",
    );
  }
  if (blob.length > MAX_BLOB_LENGTH) {
    throw new LicenseError(
      "BLOB_TOO_LARGE",
      `the blob is ${blob.length} characters; a license blob is at most ${MAX_BLOB_LENGTH}`,
    );
  }
  return blob;
}

/**
 * A refusal before the signature is checked. A character changed, added or lost while copying
 * gives one of these, and cannot be told apart from a deliberate change until the signature is
 * checked, so the message says what a buyer can do about it: copy the whole blob again.
 */
function damaged(code: ErrorCode, detail: string, cause?: unknown): LicenseError {
  return new LicenseError(
    code,
    `the license text is damaged or incomplete (${detail}); copy it again, whole, from the ` +
      "purchase e-mail: from DTLIC2: to the end",
    cause === undefined ? undefined : { cause },
  );
}

function decodePart(text: string, what: string): Buffer {
  try {
    return b64uDecode(text, what);
  } catch (err) {
    throw damaged("BLOB_ENCODING", (err as LicenseError).message, err);
  }
}

/**
 * Verifies a blob against a key ring and returns its payload. Checks, in
 * order: size and prefix, shape, base64url, JSON object, `v`, `kid` in the
 * ring, the Ed25519 signature, then every other field. Each failure has its
 * own code (see {@link ERROR_CODES}).
 *
 * @example
 * ```ts
 * const { payload } = verifyBlob(pastedText, ring);
 * console.log(payload.tier, payload.expires_at);
 * ```
 */
export function verifyBlob(text: string, ring: KeyRing): VerifiedLicense {
  const { blob, signingInput, signature, fields: p } = decodeBlob(text);
  const kid = p.kid as string;
  const key = ring.get(kid);
  if (!key) {
    throw new LicenseError(
      "KEY_UNKNOWN",
      `the license was signed by key ${kid}, which this build does not trust`,
    );
  }
  if (!verifySignature(key, Buffer.from(signingInput, "ascii"), signature)) {
    throw new LicenseError(
      "SIGNATURE_INVALID",
      "the signature does not match: the license was altered or not issued by the vendor",
    );
  }
  return { blob, payload: checkFields(p) };
}

/**
 * The key id a blob names, read without checking its signature (the key may be
 * gone, as after a key loss), or undefined when the text is not a well-formed
 * blob. Never trust anything else of an unverified blob.
 *
 * @example
 * ```ts
 * unverifiedKid(record.blob) === signer.kid; // already signed by the current key?
 * ```
 */
export function unverifiedKid(text: string): string | undefined {
  try {
    return decodeBlob(text).fields.kid as string;
  } catch (err) {
    if (err instanceof LicenseError) return undefined;
    throw err;
  }
}

interface DecodedBlob {
  readonly blob: string;
  readonly signingInput: string;
  readonly signature: Buffer;
  /** The payload's JSON object, with `v` 2 and a well-formed `kid` checked; nothing else yet. */
  readonly fields: Record<string, unknown>;
}

/** Every check before the signature, in the order {@link verifyBlob} documents. */
function decodeBlob(text: string): DecodedBlob {
  const blob = normalizeBlobText(text);
  const dot = blob.indexOf(".");
  if (dot < 0 || dot !== blob.lastIndexOf(".")) {
    throw damaged("BLOB_MALFORMED", "it must have exactly one '.' between payload and signature");
  }
  const signingInput = blob.slice(0, dot);
  const payloadBytes = decodePart(signingInput.slice(BLOB_PREFIX.length), "payload");
  const signature = decodePart(blob.slice(dot + 1), "signature");
  if (signature.length !== 64) {
    throw damaged(
      "BLOB_MALFORMED",
      `the signature is ${signature.length} bytes; Ed25519 signatures are 64`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(payloadBytes));
  } catch (err) {
    throw damaged("PAYLOAD_NOT_JSON", "the payload is not valid UTF-8 JSON", err);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw damaged("PAYLOAD_NOT_OBJECT", "the payload is JSON but not an object");
  }
  const p = parsed as Record<string, unknown>;
  if (p.v !== 2) {
    // A later format, or a damaged "v": the buyer cannot tell, so the message gives both.
    throw new LicenseError(
      "PAYLOAD_VERSION",
      `payload version ${JSON.stringify(p.v) ?? "(missing)"} is not supported (this reader handles v 2); ` +
        "copy it again, whole, from the purchase e-mail (from DTLIC2: to the end), and if it " +
        "still fails, the license needs a newer DataTools",
    );
  }
  if (typeof p.kid !== "string" || !KID.test(p.kid)) {
    throw damaged("PAYLOAD_FIELD", "kid must be 16 lower-case hex characters");
  }
  return { blob, signingInput, signature, fields: p };
}

function checkFields(p: Record<string, unknown>): LicensePayload {
  // After the signature: a genuine license the vendor's writer got wrong, not a damaged copy.
  const field = (name: string, why: string): never => {
    throw new LicenseError(
      "PAYLOAD_FIELD",
      `payload field ${name} ${why}; the license is signed but malformed: ask the vendor to issue it again`,
    );
  };
  for (const name of ["license_key", "name", "email"]) {
    const value = p[name];
    if (typeof value !== "string" || value === "") field(name, "must be non-empty text");
  }
  if (!isTier(p.tier)) field("tier", "must be lite, core or pro");
  for (const name of ["issued_at", "expires_at"]) {
    const value = p[name];
    if (typeof value !== "string" || !parseTime(value)) {
      field(name, "must be an RFC 3339 UTC time to the second, like 2026-05-13T22:10:27Z");
    }
  }
  return { v: 2, ...signedFields(p as unknown as SignedFields) };
}
