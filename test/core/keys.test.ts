import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DEV_KID,
  DEV_PRIVATE_KEY_HEX,
  DEV_PUBLIC_KEY_HEX,
  DEV_SEED_TEXT,
  KeyRing,
  generateKeypair,
  importPublicKey,
  importSigner,
  isDevKey,
  keyId,
  parseHexKey,
  verifySignature,
} from "../../src/core/index.js";
import { bytes, codeOf, errorOf, noble } from "./support.js";

const ed = noble();
const RFC_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

describe("the development keypair", () => {
  it("is SHA-256 of DEV_SEED_TEXT, with the public key and kid that seed derives", () => {
    const seed = createHash("sha256").update(Buffer.from(DEV_SEED_TEXT, "ascii")).digest();
    expect(seed.toString("hex")).toBe(DEV_PRIVATE_KEY_HEX);
    expect(Buffer.from(ed.getPublicKey(new Uint8Array(seed))).toString("hex")).toBe(
      DEV_PUBLIC_KEY_HEX,
    );
    const kid = createHash("sha256").update(Buffer.from(DEV_PUBLIC_KEY_HEX, "hex")).digest();
    expect(kid.subarray(0, 8).toString("hex")).toBe(DEV_KID);
    const signer = importSigner(seed);
    expect([signer.publicKey.hex, signer.kid]).toEqual([DEV_PUBLIC_KEY_HEX, DEV_KID]);
  });

  it("says plainly in its seed text that it is public", () => {
    expect(DEV_SEED_TEXT).toMatch(/public/);
    expect(DEV_SEED_TEXT).toMatch(/^[\x20-\x7e]+$/);
  });

  it("is recognised by isDevKey, by kid or by key, and no other key is", () => {
    expect(isDevKey(DEV_KID)).toBe(true);
    expect(isDevKey(importPublicKey(bytes(DEV_PUBLIC_KEY_HEX)))).toBe(true);
    expect(isDevKey(importPublicKey(bytes(RFC_PUBLIC)))).toBe(false);
    expect(isDevKey(DEV_KID.toUpperCase())).toBe(false);
  });
});

describe("keyId", () => {
  it("is lower-case hex of the first 8 bytes of SHA-256 of the raw public key", () => {
    const expected = createHash("sha256").update(bytes(RFC_PUBLIC)).digest("hex").slice(0, 16);
    expect(keyId(bytes(RFC_PUBLIC))).toBe(expected);
    expect(keyId(bytes(RFC_PUBLIC))).toBe("21fe31dfa154a261");
  });

  it("gives distinct 16-character ids to distinct keys", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const kid = generateKeypair(new Uint8Array(32).fill(i)).kid;
      expect(kid).toMatch(/^[0-9a-f]{16}$/);
      ids.add(kid);
    }
    expect(ids.size).toBe(50);
  });
});

describe("parseHexKey", () => {
  it("accepts 64 hex characters in either case, around whitespace", () => {
    expect(parseHexKey(RFC_SEED, "X").toString("hex")).toBe(RFC_SEED);
    expect(parseHexKey(RFC_SEED.toUpperCase(), "X").toString("hex")).toBe(RFC_SEED);
    expect(parseHexKey(`  ${RFC_SEED}\n`, "X").toString("hex")).toBe(RFC_SEED);
  });

  it("refuses malformed hex and wrong lengths with KEY_INVALID naming the label, not the value", () => {
    const bad = [
      "",
      RFC_SEED.slice(0, 63),
      RFC_SEED + "0",
      RFC_SEED.slice(0, 62),
      RFC_SEED + RFC_SEED,
      "g" + RFC_SEED.slice(1),
      "0x" + RFC_SEED.slice(2),
      RFC_SEED.slice(0, 32) + " " + RFC_SEED.slice(33),
      RFC_SEED.slice(0, 63) + "é",
      Buffer.from(RFC_SEED, "hex").toString("base64"),
    ];
    for (const value of bad) {
      const err = errorOf(() => parseHexKey(value, "DATATOOLS_LICENSE_PRIVKEY"));
      expect(err.code).toBe("KEY_INVALID");
      expect(err.message).toContain("DATATOOLS_LICENSE_PRIVKEY");
      expect(err.message).toContain("64 hex characters");
      if (value.length > 8) expect(err.message).not.toContain(value.trim().slice(4, 20));
    }
  });

  it("says whether the length or the characters were wrong", () => {
    expect(errorOf(() => parseHexKey("abc", "K")).message).toMatch(/is 3 characters long/);
    expect(errorOf(() => parseHexKey("z".repeat(64), "K")).message).toMatch(/characters other/);
  });
});

describe("importPublicKey and importSigner", () => {
  it("derive RFC 8032 TEST 1's public key from its secret key", () => {
    const signer = importSigner(bytes(RFC_SEED));
    expect(signer.publicKey.hex).toBe(RFC_PUBLIC);
    expect(signer.publicKey.raw).toEqual(Buffer.from(RFC_PUBLIC, "hex"));
    expect(signer.kid).toBe(keyId(bytes(RFC_PUBLIC)));
  });

  it("sign RFC 8032 TEST 1's empty message to the RFC's signature", () => {
    const signature = importSigner(bytes(RFC_SEED)).sign(new Uint8Array(0));
    expect(signature.toString("hex")).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });

  it("refuse keys that are not 32 bytes with KEY_INVALID", () => {
    for (const n of [0, 31, 33, 64]) {
      expect(codeOf(() => importPublicKey(new Uint8Array(n)))).toBe("KEY_INVALID");
      expect(codeOf(() => importSigner(new Uint8Array(n)))).toBe("KEY_INVALID");
    }
  });

  it("copy the key bytes, so later changes to the caller's buffer do not matter", () => {
    const raw = new Uint8Array(bytes(RFC_PUBLIC));
    const key = importPublicKey(raw);
    raw.fill(0);
    expect(key.hex).toBe(RFC_PUBLIC);
  });

  it("hold the Ed25519 key of those 32 bytes, whose SPKI form is the standard prefix and the bytes", () => {
    // Imported from a JWK (the raw bytes); the DER SPKI form names the same key.
    for (const hex of [RFC_PUBLIC, DEV_PUBLIC_KEY_HEX]) {
      const key = importPublicKey(bytes(hex));
      expect(key.keyObject.asymmetricKeyType).toBe("ed25519");
      expect(key.keyObject.export({ format: "der", type: "spki" }).toString("hex")).toBe(
        `302a300506032b6570032100${hex}`,
      );
    }
  });

  it("verify with verifySignature what the signer signed, and nothing else", () => {
    const signer = importSigner(bytes(RFC_SEED));
    const message = Buffer.from("DTLIC2:abc");
    const signature = signer.sign(message);
    expect(signature).toHaveLength(64);
    expect(verifySignature(signer.publicKey, message, signature)).toBe(true);
    expect(verifySignature(signer.publicKey, Buffer.from("DTLIC2:abd"), signature)).toBe(false);
    const other = importPublicKey(bytes(DEV_PUBLIC_KEY_HEX));
    expect(verifySignature(other, message, signature)).toBe(false);
  });
});

describe("KeyRing", () => {
  const a = importPublicKey(bytes(RFC_PUBLIC));
  const b = importPublicKey(bytes(DEV_PUBLIC_KEY_HEX));

  it("looks keys up by kid and keeps them in the order added", () => {
    const ring = new KeyRing([a, b]);
    expect(ring.size).toBe(2);
    expect(ring.get(a.kid)).toBe(a);
    expect(ring.get(b.kid)).toBe(b);
    expect(ring.has(b.kid)).toBe(true);
    expect(ring.get("0000000000000000")).toBeUndefined();
    expect(ring.has("__proto__")).toBe(false);
    expect(ring.keys()).toEqual([a, b]);
  });

  it("holds a key listed twice once", () => {
    const ring = new KeyRing([a, importPublicKey(bytes(RFC_PUBLIC)), b]);
    expect(ring.size).toBe(2);
  });

  it("can be empty", () => {
    expect(new KeyRing().size).toBe(0);
  });
});

describe("generateKeypair", () => {
  it("returns a private and public key that belong together, as 64 lower-case hex characters", () => {
    const { privateKeyHex, publicKeyHex, kid } = generateKeypair();
    expect(privateKeyHex).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyHex).toMatch(/^[0-9a-f]{64}$/);
    const signer = importSigner(parseHexKey(privateKeyHex, "private"));
    expect(signer.publicKey.hex).toBe(publicKeyHex);
    expect(signer.kid).toBe(kid);
  });

  it("draws a new key every time", () => {
    const seen = new Set(Array.from({ length: 20 }, () => generateKeypair().privateKeyHex));
    expect(seen.size).toBe(20);
  });

  it("is deterministic for a given seed", () => {
    expect(generateKeypair(bytes(RFC_SEED))).toEqual({
      privateKeyHex: RFC_SEED,
      publicKeyHex: RFC_PUBLIC,
      kid: keyId(bytes(RFC_PUBLIC)),
    });
  });
});
