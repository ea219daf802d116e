import { describe, expect, it } from "vitest";
import {
  ANSWER_PREFIX,
  KeyRing,
  answerMessage,
  generateKeypair,
  importSigner,
  parseAnswerSignature,
  signAnswer,
  verifyAnswer,
} from "../../src/core/index.js";
import { codeOf, noble } from "./support.js";

const ed = noble();
const signer = importSigner(Buffer.from(generateKeypair().privateKeyHex, "hex"));
const ring = new KeyRing([signer.publicKey]);
const body =
  '{"code":"VALID","nonce":"n0nce-n0nce-n0nce","server_time":"2026-11-30T12:00:00.000Z"}';

describe("a signed server answer", () => {
  it("is an Ed25519 signature over DTLRESP1: and the body's exact bytes, which an independent implementation accepts", () => {
    const header = signAnswer(signer, body);
    expect(header).toMatch(/^kid=[0-9a-f]{16};sig=[A-Za-z0-9_-]{86}$/);
    const { kid, sig } = parseAnswerSignature(header);
    expect(kid).toBe(signer.kid);
    const message = new TextEncoder().encode(ANSWER_PREFIX + body);
    expect(ed.verify(new Uint8Array(sig), message, new Uint8Array(signer.publicKey.raw))).toBe(
      true,
    );
    expect(answerMessage(body)).toEqual(Buffer.from(message));
  });

  it("verifies against a ring holding the signing key and names the kid", () => {
    expect(verifyAnswer(ring, signAnswer(signer, body), Buffer.from(body))).toBe(signer.kid);
  });

  it("is refused with ANSWER_SIGNATURE_INVALID when one byte of the body changes", () => {
    const header = signAnswer(signer, body);
    expect(codeOf(() => verifyAnswer(ring, header, body.replace("VALID", "VALIE")))).toBe(
      "ANSWER_SIGNATURE_INVALID",
    );
  });

  it("is refused with ANSWER_KEY_UNKNOWN when another key signed it", () => {
    const other = importSigner(Buffer.from(generateKeypair().privateKeyHex, "hex"));
    expect(codeOf(() => verifyAnswer(ring, signAnswer(other, body), body))).toBe(
      "ANSWER_KEY_UNKNOWN",
    );
  });

  it("is refused with ANSWER_UNSIGNED without a header and ANSWER_SIGNATURE_INVALID with a malformed one", () => {
    expect(codeOf(() => verifyAnswer(ring, undefined, body))).toBe("ANSWER_UNSIGNED");
    expect(codeOf(() => verifyAnswer(ring, "", body))).toBe("ANSWER_UNSIGNED");
    for (const bad of ["kid=zz;sig=abc", `kid=${signer.kid}`, `sig=${"A".repeat(86)}`]) {
      expect(codeOf(() => verifyAnswer(ring, bad, body))).toBe("ANSWER_SIGNATURE_INVALID");
    }
  });

  it("cannot be mistaken for a license: the same signature does not verify the bare body", () => {
    const { sig } = parseAnswerSignature(signAnswer(signer, body));
    expect(
      ed.verify(
        new Uint8Array(sig),
        new TextEncoder().encode(body),
        new Uint8Array(signer.publicKey.raw),
      ),
    ).toBe(false);
  });
});
