/**
 * Signed answers of the license server's online endpoints (activations,
 * check-in, verify, the revocation list). The server signs the exact bytes of
 * each response body with its current Ed25519 signing key and sends
 *
 *     DTL-Signature: kid=<16 hex>;sig=<base64url, no padding>
 *
 * over the ASCII prefix `DTLRESP1:` followed by the body bytes. The prefix
 * separates the two things this project signs: no answer can ever be read as a
 * license (whose signed message is a DTLIC2 payload) or the other way round.
 * An app checks the signature against the same key ring it checks licenses
 * with, then the nonce it sent and the server time in the body (the client's
 * job, not this module's). See docs/FORMAT.md, "Signed server answers".
 */
import { LicenseError } from "./errors.js";
import { b64uDecode, b64uEncode } from "./format.js";
import { verifySignature, type KeyRing, type Signer } from "./keys.js";

/** The header that carries an answer's signature (HTTP headers are case-insensitive). */
export const ANSWER_SIGNATURE_HEADER = "DTL-Signature";

/** What is prepended to the body before signing. */
export const ANSWER_PREFIX = "DTLRESP1:";

const PREFIX_BYTES = Buffer.from(ANSWER_PREFIX, "ascii");
const HEADER_RE = /^kid=([0-9a-f]{16});sig=([A-Za-z0-9_-]{86})$/;

/** The message an answer's signature covers: `DTLRESP1:` and the body's exact bytes. */
export function answerMessage(body: Uint8Array | string): Buffer {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  return Buffer.concat([PREFIX_BYTES, bytes]);
}

/**
 * The `DTL-Signature` header value for a response body.
 *
 * @example
 * ```ts
 * reply.header("DTL-Signature", signAnswer(signer, payload));
 * ```
 */
export function signAnswer(signer: Signer, body: Uint8Array | string): string {
  return `kid=${signer.kid};sig=${b64uEncode(signer.sign(answerMessage(body)))}`;
}

/** The parts of a `DTL-Signature` header, or a LicenseError `ANSWER_SIGNATURE_INVALID`. */
export function parseAnswerSignature(header: string): { kid: string; sig: Buffer } {
  const m = HEADER_RE.exec(header.trim());
  if (!m) {
    throw new LicenseError(
      "ANSWER_SIGNATURE_INVALID",
      "the server's DTL-Signature header is not of the form kid=<16 hex>;sig=<86 base64url characters>",
    );
  }
  const sig = b64uDecode(m[2]!, "the answer's signature");
  if (sig.length !== 64) {
    throw new LicenseError("ANSWER_SIGNATURE_INVALID", "the answer's signature is not 64 bytes");
  }
  return { kid: m[1]!, sig };
}

/**
 * Checks that `body` was signed by a key in `ring`; returns the signing kid.
 * Throws `ANSWER_UNSIGNED` (no header), `ANSWER_SIGNATURE_INVALID` (malformed or
 * not matching) or `ANSWER_KEY_UNKNOWN` (a kid the ring does not trust).
 *
 * @example
 * ```ts
 * const kid = verifyAnswer(ring, res.headers.get("dtl-signature"), new Uint8Array(await res.arrayBuffer()));
 * ```
 */
export function verifyAnswer(
  ring: KeyRing,
  header: string | null | undefined,
  body: Uint8Array | string,
): string {
  if (header === null || header === undefined || header === "") {
    throw new LicenseError("ANSWER_UNSIGNED");
  }
  const { kid, sig } = parseAnswerSignature(header);
  const key = ring.get(kid);
  if (!key) {
    throw new LicenseError(
      "ANSWER_KEY_UNKNOWN",
      `the answer is signed by key ${kid}, which this app does not trust`,
    );
  }
  if (!verifySignature(key, answerMessage(body), sig)) {
    throw new LicenseError("ANSWER_SIGNATURE_INVALID");
  }
  return kid;
}
