// Weak Ed25519 public keys (small-order points, non-canonical encodings) are refused wherever a
// public key is built, since with one anyone can sign any license that key verifies.
import { randomBytes, verify as cryptoVerify } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PUBKEY_VAR, resolveKeys } from "../../src/config/keys.js";
import { loadServerConfig } from "../../src/config/server.js";
import {
  BLOB_PREFIX,
  ERROR_CODES,
  KeyRing,
  generateKeypair,
  importPublicKey,
  keyId,
  verifyBlob,
  type PublicKey,
} from "../../src/core/index.js";
import {
  P,
  encodeY,
  forgeBlob,
  nonCanonicalEncodings,
  rawKeyObject,
  smallOrderEncodings,
  smallOrderPoints,
  yOf,
} from "../helpers/small-order.js";
import { ROOT, codeOf, errorOf, noble } from "./support.js";

const ed = noble();
const SMALL_ORDER = smallOrderEncodings();
const NON_CANONICAL = nonCanonicalEncodings();
const ALL_WEAK = [...new Set([...SMALL_ORDER.map((e) => e.hex), ...NON_CANONICAL])];
const GOOD = generateKeypair(new Uint8Array(32).fill(7));
const raw = (hex: string) => Buffer.from(hex, "hex");

describe("the weak keys, as @noble/ed25519 derives them", () => {
  it("are the 8 points of small order, in 8 canonical and 6 non-canonical encodings", () => {
    const points = smallOrderPoints();
    expect(points).toHaveLength(8);
    for (const p of points) expect(p.isSmallOrder()).toBe(true);
    for (const [i, p] of points.entries()) {
      for (const q of points.slice(i + 1)) expect(p.equals(q)).toBe(false);
    }
    expect(SMALL_ORDER.filter((e) => e.canonical)).toHaveLength(8);
    expect(SMALL_ORDER.filter((e) => !e.canonical).map((e) => e.why)).toEqual(
      expect.arrayContaining(["x = 0, sign bit set", "y >= p"]),
    );
    expect(SMALL_ORDER).toHaveLength(14);
    // 64 zeros, the placeholder a config file might hold, is one of them (order 4).
    expect(SMALL_ORDER.map((e) => e.hex)).toContain("0".repeat(64));
    expect(NON_CANONICAL).toHaveLength(38);
    for (const hex of NON_CANONICAL) expect(yOf(raw(hex)) >= P).toBe(true);
  });

  it("are refused by a strict RFC 8032 verifier, but node:crypto verifies a forgery for every one", () => {
    for (const { hex } of SMALL_ORDER) {
      const blob = forgeBlob(hex);
      const dot = blob.indexOf(".");
      const message = Buffer.from(blob.slice(0, dot), "ascii");
      const signature = Buffer.from(blob.slice(dot + 1), "base64url");
      // S = 0 and R is a small-order point: no private key was involved.
      expect(signature.subarray(32).equals(Buffer.alloc(32))).toBe(true);
      expect(cryptoVerify(null, message, rawKeyObject(hex), signature), hex).toBe(true);
      expect(ed.verify(signature, message, raw(hex), { zip215: false }), hex).toBe(false);
    }
  });
});

describe("docs/FORMAT.md's rule for other implementations", () => {
  it("lists exactly the y values of the small-order points, sign bit clear", () => {
    const section = readFileSync(join(ROOT, "docs/FORMAT.md"), "utf8").split(
      "### Weak public keys",
    )[1]!;
    const listed = section
      .split("### Key ids")[0]!
      .match(/`[0-9a-f]{64}`/g)!
      .map((h) => h.slice(1, -1));
    const derived = smallOrderPoints().map((p) => {
      const bytes = p.toBytes();
      bytes[31]! &= 0x7f;
      return Buffer.from(bytes).toString("hex");
    });
    expect(new Set(listed)).toEqual(new Set(derived));
    expect(listed).toHaveLength(5);
  });
});

describe("importPublicKey", () => {
  it("refuses every small-order key, canonical or not, with KEY_WEAK naming where it came from", () => {
    for (const { hex } of SMALL_ORDER) {
      const err = errorOf(() => importPublicKey(raw(hex), "DATATOOLS_LICENSE_PUBKEY (key 2)"));
      expect(err.code, hex).toBe("KEY_WEAK");
      expect(err.message).toMatch(/^DATATOOLS_LICENSE_PUBKEY \(key 2\) /);
      expect(err.message).toMatch(/anyone can sign/);
      expect(err.message).toMatch(/dtlicense keypair/);
    }
  });

  it("refuses every encoding whose y is 2^255-19 or more with KEY_WEAK, as not canonical", () => {
    for (const hex of NON_CANONICAL) {
      const err = errorOf(() => importPublicKey(raw(hex)));
      expect(err.code, hex).toBe("KEY_WEAK");
      expect(err.message).toMatch(/is not a canonical Ed25519 public key/);
    }
  });

  it("accepts genuine keys: generated ones, and encodings next to the refused ones", () => {
    for (let i = 0; i < 200; i++) {
      const { publicKeyHex } = generateKeypair();
      expect(importPublicKey(raw(publicKeyHex)).hex).toBe(publicKeyHex);
    }
    // The largest canonical y, and small y values that are not a small-order point's.
    for (const y of [P - 2n, 2n, 3n, 4n, 9n]) {
      for (const sign of [false, true]) {
        expect(codeOf(() => importPublicKey(encodeY(y, sign)))).toBe("(accepted)");
      }
    }
  });

  it("refuses nothing noble decodes to a point of large order", () => {
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(randomBytes(32));
      let smallOrder = yOf(bytes) >= P;
      try {
        smallOrder ||= ed.Point.fromBytes(bytes, true).isSmallOrder();
      } catch {
        // not a curve point: node:crypto imports it, and nothing verifies against it
      }
      const expected = smallOrder ? "KEY_WEAK" : "(accepted)";
      expect(codeOf(() => importPublicKey(bytes))).toBe(expected);
    }
  });

  it("has a code for it", () => {
    expect(ERROR_CODES).toHaveProperty("KEY_WEAK");
  });
});

describe("a forged license for a weak key", () => {
  it("would verify if the key were in the ring; the ring now refuses the key instead", () => {
    for (const { hex } of SMALL_ORDER) {
      const blob = forgeBlob(hex);
      // What verifyBlob did with such a key: a hand-built key object, as importPublicKey made it.
      const key: PublicKey = {
        kid: keyId(raw(hex)),
        raw: raw(hex),
        hex,
        keyObject: rawKeyObject(hex),
      };
      const dot = blob.indexOf(".");
      expect(
        cryptoVerify(
          null,
          Buffer.from(blob.slice(0, dot), "ascii"),
          key.keyObject,
          Buffer.from(blob.slice(dot + 1), "base64url"),
        ),
      ).toBe(true);
      expect(blob.startsWith(BLOB_PREFIX)).toBe(true);
      expect(codeOf(() => new KeyRing([key]))).toBe("KEY_WEAK");
      expect(codeOf(() => verifyBlob(blob, new KeyRing([importPublicKey(raw(hex))])))).toBe(
        "KEY_WEAK",
      );
    }
  });
});

function ringFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dtl-ring-"));
  const path = join(dir, "license-public-keys");
  writeFileSync(path, content);
  chmodSync(path, 0o400);
  return path;
}

describe("the key variables", () => {
  it("refuse a weak key in DATATOOLS_LICENSE_PUBKEY, alone or in a list, naming the variable and position", () => {
    for (const hex of ALL_WEAK) {
      const alone = errorOf(() => resolveKeys({ [PUBKEY_VAR]: hex }));
      expect(alone.code).toBe("KEY_WEAK");
      expect(alone.message).toMatch(/^DATATOOLS_LICENSE_PUBKEY /);
      const listed = errorOf(() => resolveKeys({ [PUBKEY_VAR]: `${GOOD.publicKeyHex},${hex}` }));
      expect(listed.code).toBe("KEY_WEAK");
      expect(listed.message).toMatch(/^DATATOOLS_LICENSE_PUBKEY \(key 2\) /);
    }
  });

  it("refuse a weak key in the DATATOOLS_LICENSE_PUBKEY_FILE ring file, naming the file", () => {
    for (const hex of ALL_WEAK) {
      const path = ringFile(
        `# current\n${GOOD.publicKeyHex}\n# placeholder\n${hex.toUpperCase()}\n`,
      );
      const err = errorOf(() =>
        resolveKeys({
          DATATOOLS_LICENSE_PRIVKEY: GOOD.privateKeyHex,
          [`${PUBKEY_VAR}_FILE`]: path,
        }),
      );
      expect(err.code).toBe("KEY_WEAK");
      expect(err.message).toContain(`DATATOOLS_LICENSE_PUBKEY_FILE (${path}) (key 2)`);
    }
  });

  it("stop the license server from starting (loadServerConfig)", () => {
    const home = mkdtempSync(join(tmpdir(), "dtl-srv-"));
    for (const { hex } of SMALL_ORDER) {
      for (const env of [
        { [PUBKEY_VAR]: hex },
        { [`${PUBKEY_VAR}_FILE`]: ringFile(hex), NODE_ENV: "production" },
      ]) {
        expect(codeOf(() => loadServerConfig(env, {}, home))).toBe("KEY_WEAK");
      }
    }
    expect(codeOf(() => loadServerConfig({ [PUBKEY_VAR]: GOOD.publicKeyHex }, {}, home))).toBe(
      "(accepted)",
    );
  });
});
