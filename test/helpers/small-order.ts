// The weak Ed25519 public keys, derived with @noble/ed25519 rather than copied from a list, and a
// forger that signs any payload for one of them without a private key (R = a small-order point, S = 0).
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import * as ed from "@noble/ed25519";
import { BLOB_PREFIX, keyId, type LicensePayload } from "../../src/core/index.js";

type Point = InstanceType<typeof ed.Point>;
const { Point } = ed;
const CURVE = Point.CURVE();
/** 2^255 - 19, the field prime: a canonical encoding's y is below it. */
export const P = CURVE.p;
const SIGN_BIT = 0x80;

/** The 32-byte little-endian encoding of y with the sign bit (bit 255) set or clear. */
export function encodeY(y: bigint, sign: boolean): Uint8Array {
  const out = new Uint8Array(32);
  let v = y;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (sign) out[31]! |= SIGN_BIT;
  return out;
}

/** y of an encoding: its low 255 bits, little-endian. */
export function yOf(bytes: Uint8Array): bigint {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i]! & 0x7f : bytes[i]!);
  return y;
}

/**
 * The eight points of small order (the torsion subgroup, order = the cofactor 8): the
 * multiples of [L]Q for a curve point Q outside the prime-order subgroup, L the group order.
 */
export function smallOrderPoints(): Point[] {
  for (let y = 2n; y < 1000n; y++) {
    let q: Point;
    try {
      q = Point.fromBytes(encodeY(y, false));
    } catch {
      continue; // not the y of a curve point
    }
    const t = q.multiplyUnsafe(CURVE.n - 1n).add(q); // [L]Q, in the torsion subgroup
    if (t.double().double().is0()) continue; // order below 8: try another Q
    const points = [Point.ZERO];
    for (let i = 1; i < 8; i++) points.push(points[i - 1]!.add(t));
    if (!points[7]!.add(t).is0()) throw new Error("[8]T is not the identity");
    return points;
  }
  throw new Error("no point of order 8 found");
}

export interface WeakEncoding {
  readonly hex: string;
  readonly canonical: boolean;
  readonly why: string;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * Every 32-byte string that decodes (leniently, as ZIP-215 and OpenSSL do) to a point of small
 * order: the 8 canonical encodings, the identity and (0, -1) with the sign bit set (x = 0 has no
 * sign), and y + p for the points whose y is 0 or 1. noble decides which candidates decode.
 */
export function smallOrderEncodings(): WeakEncoding[] {
  const points = smallOrderPoints();
  const found = new Map<string, WeakEncoding>();
  for (const [i, point] of points.entries()) {
    const bytes = point.toBytes();
    found.set(hexOf(bytes), { hex: hexOf(bytes), canonical: true, why: `[${i}]T` });
  }
  for (const point of points) {
    const y = yOf(point.toBytes());
    const candidates = [y, y + P].filter((v) => v < 2n ** 255n);
    for (const v of candidates) {
      for (const sign of [false, true]) {
        const bytes = encodeY(v, sign);
        const hex = hexOf(bytes);
        if (found.has(hex)) continue;
        let decoded: Point;
        try {
          decoded = Point.fromBytes(bytes, true);
        } catch {
          continue;
        }
        if (!decoded.isSmallOrder()) continue;
        found.set(hex, { hex, canonical: false, why: v >= P ? "y >= p" : "x = 0, sign bit set" });
      }
    }
  }
  return [...found.values()];
}

/** Every encoding whose y is p or more (19 values of y, each with either sign bit): none canonical. */
export function nonCanonicalEncodings(): string[] {
  const out: string[] = [];
  for (let y = P; y < 2n ** 255n; y++) {
    for (const sign of [false, true]) out.push(hexOf(encodeY(y, sign)));
  }
  return out;
}

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** node:crypto's key for raw bytes, built without any of this project's checks. */
export function rawKeyObject(hex: string) {
  return createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, Buffer.from(hex, "hex")]),
    format: "der",
    type: "spki",
  });
}

/**
 * A blob for `fields` that node:crypto verifies against the weak key `hex` without any private
 * key: the signature is R || S with R one of the small-order points and S = 0, so the check
 * [S]B = R + [k]A becomes 0 = R + [k]A, which holds for one R in eight. The license key is
 * varied until some R fits.
 */
export function forgeBlob(hex: string, fields: Partial<LicensePayload> = {}): string {
  const key = rawKeyObject(hex);
  const rs = smallOrderPoints().map((p) => Buffer.from(p.toBytes()));
  for (let n = 0; n < 256; n++) {
    const json = JSON.stringify({
      v: 2,
      kid: keyId(Buffer.from(hex, "hex")),
      license_key: `DT1-PRO-F0F0F0F0-${n.toString(16).padStart(8, "0")}`,
      name: "Forged Buyer",
      email: "forged@example.com",
      tier: "pro",
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2126-05-13T22:10:27Z",
      ...fields,
    });
    const signingInput = BLOB_PREFIX + Buffer.from(json, "utf8").toString("base64url");
    for (const r of rs) {
      const signature = Buffer.concat([r, Buffer.alloc(32)]);
      if (cryptoVerify(null, Buffer.from(signingInput, "ascii"), key, signature)) {
        return `${signingInput}.${signature.toString("base64url")}`;
      }
    }
  }
  throw new Error(`no forgery found for ${hex}`);
}
