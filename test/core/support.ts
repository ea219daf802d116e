// Shared pieces of the core tests: the vector file, error-code capture and @noble/ed25519 set-up.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as ed from "@noble/ed25519";
import {
  KeyRing,
  LicenseError,
  importPublicKey,
  type LicensePayload,
} from "../../src/core/index.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const VECTORS_PATH = resolve(ROOT, "test/vectors/dtlic2-vectors.json");

export interface VectorKey {
  name: string;
  trusted: boolean;
  seed_text?: string;
  seed_hex: string;
  public_key_hex: string;
  kid: string;
}

export interface ValidVector {
  name: string;
  input: string;
  blob: string;
  payload: LicensePayload;
  key?: string;
  seed_hex?: string;
  public_key_hex?: string;
  kid?: string;
  payload_json?: string;
  payload_b64u?: string;
  signing_input?: string;
  signature_hex?: string;
  signature_b64u?: string;
}

export interface InvalidVector {
  name: string;
  input: string;
  error: string;
}

export interface VectorFile {
  format: string;
  max_blob_length: number;
  keys: VectorKey[];
  valid: ValidVector[];
  invalid: InvalidVector[];
}

export function loadVectors(): VectorFile {
  return JSON.parse(readFileSync(VECTORS_PATH, "utf8")) as VectorFile;
}

/** The ring of every key the vector file marks trusted. */
export function vectorRing(file: VectorFile): KeyRing {
  return new KeyRing(
    file.keys
      .filter((k) => k.trusted)
      .map((k) => importPublicKey(Buffer.from(k.public_key_hex, "hex"))),
  );
}

/** The vectors that carry every intermediate value (seed, signing input, signature). */
export function detailedVectors(file: VectorFile): Required<ValidVector>[] {
  return file.valid.filter((v): v is Required<ValidVector> => v.signature_hex !== undefined);
}

/** The LicenseError code `fn` throws, "(accepted)" when it returns, or the foreign error. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof LicenseError ? err.code : `(not a LicenseError: ${String(err)})`;
  }
  return "(accepted)";
}

/** The LicenseError `fn` throws; fails the test when it throws nothing or something else. */
export function errorOf(fn: () => unknown): LicenseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LicenseError) return err;
    throw err;
  }
  throw new Error("expected a LicenseError, but nothing was thrown");
}

/** @noble/ed25519 with node:crypto's SHA-512 plugged in, so its sync API works. */
export function noble(): typeof ed {
  ed.hashes.sha512 = (message) => new Uint8Array(createHash("sha512").update(message).digest());
  return ed;
}

export const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));
export const ascii = (text: string) => new Uint8Array(Buffer.from(text, "ascii"));
