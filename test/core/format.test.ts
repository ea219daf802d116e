import { describe, expect, it } from "vitest";
import {
  BLOB_PREFIX,
  DEV_PRIVATE_KEY_HEX,
  MAX_BLOB_LENGTH,
  MAX_INPUT_LENGTH,
  KeyRing,
  b64uDecode,
  b64uEncode,
  encodeBlob,
  importSigner,
  mintLicense,
  normalizeBlobText,
  verifyBlob,
  type LicensePayload,
} from "../../src/core/index.js";
import { ascii, bytes, codeOf, errorOf, loadVectors, noble, vectorRing } from "./support.js";

const file = loadVectors();
const ring = vectorRing(file);
const ed = noble();
const dev = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const devRing = new KeyRing([dev.publicKey]);
const NOW = new Date("2026-05-13T22:10:27Z");
const B64U_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const PAYLOAD: LicensePayload = {
  v: 2,
  kid: dev.kid,
  license_key: "DT1-CORE-5dd8e1db-d90c4656",
  name: "Ada Lovelace",
  email: "ada@example.com",
  tier: "core",
  issued_at: "2026-05-13T22:10:27Z",
  expires_at: "2027-05-13T22:10:27Z",
};

describe("b64uEncode and b64uDecode", () => {
  it("round-trip every length from 0 to 100 bytes without padding", () => {
    for (let n = 0; n <= 100; n++) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      const text = b64uEncode(data);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(text.length % 4).not.toBe(1);
      expect(b64uDecode(text, "payload").equals(data)).toBe(true);
    }
  });

  it("encodes a view into a larger buffer by its own bytes only", () => {
    const big = Buffer.from("xxhelloxx");
    expect(b64uEncode(big.subarray(2, 7))).toBe(Buffer.from("hello").toString("base64url"));
  });

  it("refuses padding, the standard alphabet, stray characters and impossible lengths", () => {
    for (const bad of ["AA==", "AA=", "A+A", "A/A", "AB CD", "AB\nC", "é", "A", "AAAAA", "AA.A"]) {
      const err = errorOf(() => b64uDecode(bad, "signature"));
      expect(err.code).toBe("BLOB_ENCODING");
      expect(err.message).toContain("signature");
    }
  });

  it("refuses a last character whose unused bits are not zero", () => {
    // "AA" is one zero byte; "AB".."AP" carry the same byte with unused bits set.
    expect(b64uDecode("AA", "payload")).toEqual(Buffer.from([0]));
    for (const ch of "BCDEFGHIJKLMNOP") {
      expect(codeOf(() => b64uDecode("A" + ch, "payload"))).toBe("BLOB_ENCODING");
    }
    expect(b64uDecode("AAA", "payload")).toEqual(Buffer.from([0, 0]));
    for (const ch of "BCD")
      expect(codeOf(() => b64uDecode("AA" + ch, "payload"))).toBe("BLOB_ENCODING");
  });

  it("accepts exactly one text for each byte string", () => {
    // Every 2- and 3-character text either decodes and re-encodes to itself, or is refused.
    for (const a of B64U_ALPHABET) {
      for (const b of B64U_ALPHABET) {
        const text = "Q" + a + b;
        const code = codeOf(() => b64uDecode(text, "payload"));
        if (code === "(accepted)") expect(b64uEncode(b64uDecode(text, "payload"))).toBe(text);
        else expect(code).toBe("BLOB_ENCODING");
      }
    }
  });
});

describe("normalizeBlobText", () => {
  const { blob } = mintLicense({ name: "Ada Lovelace", email: "ada@example.com" }, dev, NOW);

  it("removes spaces, tabs, line breaks and Unicode spaces anywhere", () => {
    const messy = `\uFEFF  ${blob.slice(0, 40)}\r\n${blob.slice(40, 100)}\u00A0\t${blob.slice(100)}\u2028\n`;
    expect(normalizeBlobText(messy)).toBe(blob);
  });

  it("refuses text over MAX_INPUT_LENGTH before looking at it, and accepts exactly that much", () => {
    const padded = " ".repeat(MAX_INPUT_LENGTH - blob.length) + blob;
    expect(padded.length).toBe(MAX_INPUT_LENGTH);
    expect(normalizeBlobText(padded)).toBe(blob);
    expect(codeOf(() => normalizeBlobText(" " + padded))).toBe("BLOB_TOO_LARGE");
    expect(codeOf(() => normalizeBlobText("x".repeat(MAX_INPUT_LENGTH + 1)))).toBe(
      "BLOB_TOO_LARGE",
    );
  });

  it("checks the blob cap after the prefix, so foreign text says what it is", () => {
    expect(codeOf(() => normalizeBlobText("x".repeat(MAX_BLOB_LENGTH + 1)))).toBe(
      "BLOB_PREFIX_UNKNOWN",
    );
    expect(codeOf(() => normalizeBlobText("DTLIC1:" + "x".repeat(MAX_BLOB_LENGTH)))).toBe(
      "BLOB_V1_UNSUPPORTED",
    );
    expect(codeOf(() => normalizeBlobText("DTLIC2:" + "x".repeat(MAX_BLOB_LENGTH)))).toBe(
      "BLOB_TOO_LARGE",
    );
  });

  it("tells the holder of a DTLIC1 blob to have it re-issued", () => {
    const err = errorOf(() => normalizeBlobText("DTLIC1:abc.def"));
    expect(err.code).toBe("BLOB_V1_UNSUPPORTED");
    expect(err.message).toMatch(/re-issue/);
  });
});

describe("encodeBlob", () => {
  it("writes the fields in a fixed order whatever the object's order", () => {
    const shuffled = Object.fromEntries(
      Object.entries(PAYLOAD).reverse(),
    ) as unknown as LicensePayload;
    expect(encodeBlob(shuffled, dev)).toBe(encodeBlob(PAYLOAD, dev));
    const json = Buffer.from(encodeBlob(PAYLOAD, dev).slice(7).split(".")[0]!, "base64url");
    expect(Object.keys(JSON.parse(json.toString("utf8")))).toEqual([
      "v",
      "kid",
      "license_key",
      "name",
      "email",
      "tier",
      "issued_at",
      "expires_at",
    ]);
  });

  it("refuses a payload whose kid is not the signer's", () => {
    const other = importSigner(new Uint8Array(32).fill(7));
    expect(codeOf(() => encodeBlob({ ...PAYLOAD, kid: other.kid }, dev))).toBe("KEY_MISMATCH");
  });

  it("does not carry extra properties of the payload object into the blob", () => {
    const extra = { ...PAYLOAD, secret: "x" } as LicensePayload;
    expect(encodeBlob(extra, dev)).toBe(encodeBlob(PAYLOAD, dev));
  });
});

describe("verifyBlob", () => {
  it("returns the compact blob and only the eight payload fields", () => {
    const extra = file.valid.find((v) => v.name === "unknown fields are ignored")!;
    const { payload } = verifyBlob(extra.input, ring);
    expect(Object.keys(payload).sort()).toEqual(
      ["v", "kid", "license_key", "name", "email", "tier", "issued_at", "expires_at"].sort(),
    );
  });

  it("refuses every blob when the ring is empty, naming the kid", () => {
    const { blob } = mintLicense({ name: "Ada Lovelace", email: "ada@example.com" }, dev, NOW);
    const err = errorOf(() => verifyBlob(blob, new KeyRing()));
    expect(err.code).toBe("KEY_UNKNOWN");
    expect(err.message).toContain(dev.kid);
  });

  it("accepts the largest blob the writer can produce", () => {
    const wide = "€"; // three bytes in UTF-8, the most per UTF-16 unit
    const { blob } = mintLicense(
      {
        name: wide.repeat(200),
        email: `${wide.repeat(64)}@${wide.repeat(185)}.${wide.repeat(3)}`,
        licenseKey: "K".repeat(64),
        tier: "lite",
        years: 100,
      },
      dev,
      NOW,
    );
    expect(blob.length).toBe(2197);
    expect(blob.length).toBeLessThan(MAX_BLOB_LENGTH);
    expect(verifyBlob(blob, devRing).payload.name).toBe(wide.repeat(200));
  });

  it("says what was wrong in one line, without a stack in the message", () => {
    for (const v of file.invalid) {
      const err = errorOf(() => verifyBlob(v.input, ring));
      expect(err.message).not.toContain("\n");
      expect(err.message.length).toBeLessThan(300);
      expect(err.name).toBe("LicenseError");
    }
  });
});

describe("DTLIC2 against an independent Ed25519 implementation (@noble/ed25519)", () => {
  const { blob } = mintLicense(
    { name: "Zoë Ångström", email: "zoe@example.com", tier: "pro", years: 2 },
    dev,
    NOW,
  );
  const dot = blob.indexOf(".");

  it("verifies a blob minted here under noble's strict RFC 8032 and default ZIP-215 rules", () => {
    const message = ascii(blob.slice(0, dot));
    const signature = new Uint8Array(Buffer.from(blob.slice(dot + 1), "base64url"));
    const pub = new Uint8Array(dev.publicKey.raw);
    expect(ed.verify(signature, message, pub, { zip215: false })).toBe(true);
    expect(ed.verify(signature, message, pub)).toBe(true);
  });

  it("derives the same public key from the seed as node:crypto", () => {
    expect(Buffer.from(ed.getPublicKey(bytes(DEV_PRIVATE_KEY_HEX))).toString("hex")).toBe(
      dev.publicKey.hex,
    );
  });

  it("accepts a blob that noble signed from scratch", async () => {
    const json = JSON.stringify({ ...PAYLOAD, tier: "lite", note: "signed by noble" });
    const signingInput = BLOB_PREFIX + Buffer.from(json, "utf8").toString("base64url");
    const signature = await ed.signAsync(ascii(signingInput), bytes(DEV_PRIVATE_KEY_HEX));
    const nobleBlob = `${signingInput}.${Buffer.from(signature).toString("base64url")}`;
    const { payload } = verifyBlob(nobleBlob, devRing);
    expect(payload.tier).toBe("lite");
    expect(payload.kid).toBe(dev.kid);
  });

  it("produces byte-identical signatures to noble for the same seed and message", () => {
    for (const message of ["", "DTLIC2:", blob.slice(0, dot), "x".repeat(5000)]) {
      expect(Buffer.from(ed.sign(ascii(message), bytes(DEV_PRIVATE_KEY_HEX)))).toEqual(
        dev.sign(ascii(message)),
      );
    }
  });

  it("refuses a blob noble signed with a different key under the dev kid", () => {
    const json = JSON.stringify(PAYLOAD);
    const signingInput = BLOB_PREFIX + Buffer.from(json, "utf8").toString("base64url");
    const signature = ed.sign(ascii(signingInput), new Uint8Array(32).fill(9));
    const forged = `${signingInput}.${Buffer.from(signature).toString("base64url")}`;
    expect(codeOf(() => verifyBlob(forged, devRing))).toBe("SIGNATURE_INVALID");
  });
});

/**
 * An independent reading of docs/FORMAT.md's "Reading a blob", used as the oracle for the
 * single-character mutations below. It does no cryptography: the mutated blob differs from
 * the genuine one, so once every earlier check passes, the signature cannot hold.
 */
function expectedCode(text: string, genuine: string): string {
  if (text.length > 65_536) return "BLOB_TOO_LARGE";
  const blob = text.replace(
    /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g,
    "",
  );
  if (blob === "") return "BLOB_EMPTY";
  if (!blob.startsWith("DTLIC2:")) {
    return blob.startsWith("DTLIC1:") ? "BLOB_V1_UNSUPPORTED" : "BLOB_PREFIX_UNKNOWN";
  }
  if (blob.length > 4096) return "BLOB_TOO_LARGE";
  const parts = blob.split(".");
  if (parts.length !== 2) return "BLOB_MALFORMED";
  const decode = (t: string) => {
    if (!/^[A-Za-z0-9_-]*$/.test(t) || t.length % 4 === 1) return undefined;
    const out = Buffer.from(t, "base64url");
    return out.toString("base64url") === t ? out : undefined;
  };
  const payloadBytes = decode(parts[0]!.slice(7));
  if (!payloadBytes) return "BLOB_ENCODING";
  const signature = decode(parts[1]!);
  if (!signature) return "BLOB_ENCODING";
  if (signature.length !== 64) return "BLOB_MALFORMED";
  let value: unknown;
  try {
    value = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(payloadBytes),
    );
  } catch {
    return "PAYLOAD_NOT_JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "PAYLOAD_NOT_OBJECT";
  }
  const p = value as Record<string, unknown>;
  if (p.v !== 2) return "PAYLOAD_VERSION";
  if (typeof p.kid !== "string" || !/^[0-9a-f]{16}$/.test(p.kid)) return "PAYLOAD_FIELD";
  if (!ring.has(p.kid)) return "KEY_UNKNOWN";
  return blob === genuine ? "(accepted)" : "SIGNATURE_INVALID";
}

describe("single-character changes to a genuine blob", () => {
  const detailed = file.valid.filter((v) => v.signature_hex !== undefined).slice(0, 2);

  for (const vector of detailed) {
    const genuine = vector.blob;
    const dot = genuine.indexOf(".");
    const sigStart = dot + 1;
    const last = genuine.length - 1;
    const mutate = (i: number, ch: string) => genuine.slice(0, i) + ch + genuine.slice(i + 1);

    it(`fails on every bit flip of every byte, with the code for where it is: ${vector.name}`, () => {
      let checked = 0;
      for (let i = 0; i < genuine.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const text = mutate(i, String.fromCharCode(genuine.charCodeAt(i) ^ (1 << bit)));
          const code = codeOf(() => verifyBlob(text, ring));
          expect(code, `position ${i} bit ${bit}`).not.toBe("(accepted)");
          expect(code, `position ${i} bit ${bit}`).toBe(expectedCode(text, genuine));
          if (i < BLOB_PREFIX.length) {
            expect(["BLOB_PREFIX_UNKNOWN", "BLOB_V1_UNSUPPORTED"]).toContain(code);
          } else if (i === dot) {
            expect(code).toBe("BLOB_MALFORMED");
          }
          checked++;
        }
      }
      expect(checked).toBe(genuine.length * 8);
    });

    it(`fails on every replacement of a character, with the code for where it is: ${vector.name}`, () => {
      const replacements = B64U_ALPHABET + ".=+/: ";
      for (let i = 0; i < genuine.length; i++) {
        for (const ch of replacements) {
          if (ch === genuine[i]) continue;
          const text = mutate(i, ch);
          const code = codeOf(() => verifyBlob(text, ring));
          const where = `position ${i} -> ${JSON.stringify(ch)}`;
          expect(code, where).toBe(expectedCode(text, genuine));
          if (i < BLOB_PREFIX.length) {
            const v1 = text.replace(/\s/g, "").startsWith("DTLIC1:");
            expect(code, where).toBe(v1 ? "BLOB_V1_UNSUPPORTED" : "BLOB_PREFIX_UNKNOWN");
          } else if (i === dot) {
            expect(code, where).toBe("BLOB_MALFORMED");
          } else if (ch === ".") {
            expect(code, where).toBe("BLOB_MALFORMED");
          } else if (ch === "=" || ch === "+" || ch === "/" || ch === ":") {
            expect(code, where).toBe("BLOB_ENCODING");
          } else if (i >= sigStart && ch === " ") {
            // One character fewer: 85 characters are 1 mod 4, which no base64 text is.
            expect(code, where).toBe("BLOB_ENCODING");
          } else if (i >= sigStart && i < last) {
            expect(code, where).toBe("SIGNATURE_INVALID");
          } else if (i === last) {
            // 86 characters carry 516 bits for 512: the last character's low 4 bits are unused.
            // Setting any of them is non-canonical; changing only the top 2 bits is a new signature.
            const unusedBitsSet = (B64U_ALPHABET.indexOf(ch) & 0xf) !== 0;
            expect(code, where).toBe(unusedBitsSet ? "BLOB_ENCODING" : "SIGNATURE_INVALID");
          } else {
            expect(
              [
                "BLOB_ENCODING",
                "PAYLOAD_NOT_JSON",
                "PAYLOAD_NOT_OBJECT",
                "PAYLOAD_VERSION",
                "PAYLOAD_FIELD",
                "KEY_UNKNOWN",
                "SIGNATURE_INVALID",
              ],
              where,
            ).toContain(code);
          }
        }
      }
    });
  }
});
