/**
 * Ed25519 keys as the project writes them (64 hex characters each), key ids,
 * signers and key rings. Built on node:crypto's Ed25519; KeyObjects are built
 * once per key, because importing a raw key costs ten signatures.
 */
import * as nodeCrypto from "node:crypto";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from "node:crypto";
import { LicenseError } from "./errors.js";

// crypto.hash (Node >= 20.12): one call, without the Hash stream object createHash builds (a
// cold start of the command line compiles and sets up less of node:crypto).
const oneShotHash: typeof nodeCrypto.hash | undefined =
  typeof nodeCrypto.hash === "function" ? nodeCrypto.hash : undefined;

// DER prefixes that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Parses a 32-byte key written as 64 hex characters. `label` names where the
 * value came from (an environment variable, a file) so the error can say so.
 *
 * @example
 * ```ts
 * const seed = parseHexKey(process.env.DATATOOLS_LICENSE_PRIVKEY!, "DATATOOLS_LICENSE_PRIVKEY");
 * ```
 */
export function parseHexKey(value: string, label: string): Buffer {
  const text = value.trim();
  if (!HEX64.test(text)) {
    const why =
      text.length !== 64
        ? `is ${text.length} characters long`
        : "contains characters other than 0-9 and a-f";
    throw new LicenseError(
      "KEY_INVALID",
      `${label} ${why}; it must be exactly 64 hex characters (32 bytes)`,
    );
  }
  return Buffer.from(text, "hex");
}

/**
 * The key id of a public key: lower-case hex of the first 8 bytes of the
 * SHA-256 of the raw 32-byte key.
 *
 * @example
 * ```ts
 * keyId(Buffer.from(DEV_PUBLIC_KEY_HEX, "hex")); // "…16 hex chars…"
 * ```
 */
export function keyId(rawPublicKey: Uint8Array): string {
  const digest =
    oneShotHash !== undefined
      ? oneShotHash("sha256", rawPublicKey, "buffer")
      : createHash("sha256").update(rawPublicKey).digest();
  return digest.subarray(0, 8).toString("hex");
}

/** A public key ready to verify with. */
export interface PublicKey {
  readonly kid: string;
  readonly raw: Buffer;
  readonly hex: string;
  readonly keyObject: KeyObject;
}

/** A private key ready to sign with, with its public half. */
export interface Signer {
  readonly kid: string;
  readonly publicKey: PublicKey;
  /** Signs `message` with Ed25519 and returns the 64-byte signature. */
  sign(message: Uint8Array): Buffer;
}

// The field prime 2^255 - 19: an encoded point's y (its low 255 bits, little-endian) is
// canonical only below it.
const FIELD_PRIME = 2n ** 255n - 19n;

// The y coordinates, as 32 little-endian bytes with the sign bit clear, of the eight points of
// small order (the torsion subgroup): 1 (the identity), 2^255-20 (order 2), 0 (the two points
// of order 4) and the two y values of the four points of order 8. With either sign bit, these
// are the 8 canonical encodings of small-order points and 2 non-canonical ones (the x = 0
// points with the sign bit set); every other encoding of a small-order point has y >= p.
// test/core/weak-keys.test.ts derives the list with @noble/ed25519.
const SMALL_ORDER_Y = new Set([
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
]);

/**
 * Why a 32-byte public key is unusable, or undefined when it is fine. node:crypto (OpenSSL)
 * verifies against any encoding, and for a point of small order a signature R || S with R a
 * small-order point and S = 0 verifies one message in eight: anyone can sign licenses for such
 * a key. No private key has a small-order public key, and no key this project writes is
 * non-canonical, so refusing both costs nothing.
 */
function weakness(bytes: Buffer): string | undefined {
  const y = Buffer.from(bytes);
  y[31]! &= 0x7f;
  const hex = y.toString("hex");
  if (BigInt(`0x${Buffer.from(y).reverse().toString("hex")}`) >= FIELD_PRIME) {
    return "is not a canonical Ed25519 public key (its y coordinate is 2^255-19 or more)";
  }
  if (SMALL_ORDER_Y.has(hex)) {
    return "is a point of small order (such as 64 zeros), not a real Ed25519 public key";
  }
  return undefined;
}

/**
 * Builds a {@link PublicKey} from its raw 32 bytes. Refuses, with `KEY_WEAK`, a
 * small-order or non-canonical encoding (a placeholder such as 64 zeros), with
 * which anyone could sign a license that key verifies; `label` names where the
 * key came from, for the message.
 *
 * @example
 * ```ts
 * const key = importPublicKey(parseHexKey(hex, "DATATOOLS_LICENSE_PUBKEY"), "DATATOOLS_LICENSE_PUBKEY");
 * ```
 */
export function importPublicKey(raw: Uint8Array, label = "the public key"): PublicKey {
  const bytes = Buffer.from(raw);
  if (bytes.length !== 32) {
    throw new LicenseError("KEY_INVALID", `a public key must be 32 bytes, not ${bytes.length}`);
  }
  assertStrongKey(bytes, label);
  // As a JWK rather than DER (SPKI_PREFIX + the key): the same key, which OpenSSL takes as raw
  // bytes instead of running its DER decoders (half the cost, at every cold start).
  const keyObject = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: bytes.toString("base64url") },
    format: "jwk",
  });
  return { kid: keyId(bytes), raw: bytes, hex: bytes.toString("hex"), keyObject };
}

function assertStrongKey(bytes: Buffer, label: string): void {
  const why = weakness(bytes);
  if (why !== undefined) {
    throw new LicenseError(
      "KEY_WEAK",
      `${label} ${why}: anyone can sign a license that it verifies. ` +
        "Use the public key of a real keypair (dtlicense keypair makes one)",
    );
  }
}

/**
 * Builds a {@link Signer} from a 32-byte Ed25519 seed (the private key as this
 * project stores it).
 *
 * @example
 * ```ts
 * const signer = importSigner(parseHexKey(privHex, "DATATOOLS_LICENSE_PRIVKEY"));
 * signer.kid; // the kid every blob it signs will carry
 * ```
 */
export function importSigner(seed: Uint8Array): Signer {
  const bytes = Buffer.from(seed);
  if (bytes.length !== 32) {
    throw new LicenseError("KEY_INVALID", `a private key must be 32 bytes, not ${bytes.length}`);
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, bytes]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicKey = importPublicKey(spki.subarray(SPKI_PREFIX.length));
  return {
    kid: publicKey.kid,
    publicKey,
    sign: (message) => cryptoSign(null, message, privateKey),
  };
}

/**
 * The set of public keys a verifier trusts, looked up by kid. Holding more than
 * one key is how a vendor rotates: apps ship old and new keys together, so
 * licenses signed by either keep working.
 *
 * @example
 * ```ts
 * const ring = new KeyRing([importPublicKey(oldRaw), importPublicKey(newRaw)]);
 * ring.get(payload.kid);
 * ```
 */
export class KeyRing {
  readonly #keys = new Map<string, PublicKey>();

  constructor(keys: Iterable<PublicKey> = []) {
    for (const key of keys) {
      // A PublicKey can be built by hand, bypassing importPublicKey's check.
      assertStrongKey(Buffer.from(key.raw), `the key ${key.kid} in the key ring`);
      this.#keys.set(key.kid, key);
    }
  }

  /** The key with this kid, or undefined. */
  get(kid: string): PublicKey | undefined {
    return this.#keys.get(kid);
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** The trusted keys, in the order they were added. */
  keys(): PublicKey[] {
    return [...this.#keys.values()];
  }

  get size(): number {
    return this.#keys.size;
  }
}

/**
 * Verifies a raw Ed25519 signature (what {@link verifyBlob} does after its
 * format checks; use that for blobs).
 *
 * @example
 * ```ts
 * verifySignature(signer.publicKey, message, signer.sign(message)); // true
 * ```
 */
export function verifySignature(key: PublicKey, message: Uint8Array, signature: Uint8Array) {
  return cryptoVerify(null, message, key.keyObject, signature);
}

/**
 * Generates a new random keypair (node:crypto's CSPRNG) and returns both halves
 * as 64 hex characters.
 *
 * @example
 * ```ts
 * const { privateKeyHex, publicKeyHex } = generateKeypair();
 * ```
 */
export function generateKeypair(seed: Uint8Array = randomBytes(32)): {
  privateKeyHex: string;
  publicKeyHex: string;
  kid: string;
} {
  const signer = importSigner(seed);
  return {
    privateKeyHex: Buffer.from(seed).toString("hex"),
    publicKeyHex: signer.publicKey.hex,
    kid: signer.kid,
  };
}

/**
 * The development keypair's seed text. The seed is SHA-256 of these ASCII
 * bytes. It is public on purpose: anyone can mint licenses that this key
 * verifies, which is why production builds refuse to trust it.
 */
export const DEV_SEED_TEXT =
  "datatools-license development keypair v1 (public; never for production)";
/** The development private key (hex), SHA-256 of {@link DEV_SEED_TEXT}. */
export const DEV_PRIVATE_KEY_HEX =
  "2018d5a1cdde8f682d8f463150c720dc171090809c924019eb6c2464a23a9cd8";
/** The development public key (hex). */
export const DEV_PUBLIC_KEY_HEX =
  "4b980efa55b60582cc545897b48a1f0574ecb9d754c55c17383ac1eab6ba232c";
/** The development key's kid. */
export const DEV_KID = "59af6f1f1d004b94";

/**
 * True when `key` (a public key or a kid) is the public development key.
 *
 * @example
 * ```ts
 * if (ring.keys().some(isDevKey)) console.warn("this build trusts the development key");
 * ```
 */
export function isDevKey(key: PublicKey | string): boolean {
  return (typeof key === "string" ? key : key.kid) === DEV_KID;
}
