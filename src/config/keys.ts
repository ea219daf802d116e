/**
 * Turns the key variables of an environment into a signer and a key ring.
 * Entry points pass `process.env` in; nothing here reads it on its own.
 *
 * - `DATATOOLS_LICENSE_PRIVKEY` (or `DATATOOLS_LICENSE_PRIVKEY_FILE`): the
 *   32-byte Ed25519 seed as 64 hex characters.
 * - `DATATOOLS_LICENSE_PUBKEY` (or `DATATOOLS_LICENSE_PUBKEY_FILE`, a ring
 *   file with `#` comments): one or more public keys, 64 hex characters each,
 *   separated by commas or whitespace; the first is the current one.
 * - Neither set: the in-tree development keypair.
 */
import {
  DEV_KID,
  DEV_PRIVATE_KEY_HEX,
  KeyRing,
  importPublicKey,
  importSigner,
  parseHexKey,
  type PublicKey,
  type Signer,
} from "../core/keys.js";
import { LicenseError } from "../core/errors.js";
import { readFileSync } from "node:fs";
import { readSecretFile } from "./secret-file.js";

export type Env = Readonly<Record<string, string | undefined>>;

export const PRIVKEY_VAR = "DATATOOLS_LICENSE_PRIVKEY";
export const PUBKEY_VAR = "DATATOOLS_LICENSE_PUBKEY";

/** The keys an environment configures. */
export interface ResolvedKeys {
  /** Signs new licenses; undefined when only public keys are configured. */
  readonly signer: Signer | undefined;
  /** The keys licenses are verified against. */
  readonly ring: KeyRing;
  /** True when the development keypair signs or is trusted. */
  readonly usingDevKey: boolean;
  /** False when neither key variable is set and the development keypair is the fallback. */
  readonly configured: boolean;
}

/**
 * Parses a list of public keys separated by commas or whitespace. A key that is
 * not 64 hex characters is `KEY_INVALID`; a small-order or non-canonical one
 * (a placeholder such as 64 zeros) is `KEY_WEAK`. Both name `label` and the
 * key's position.
 */
export function parsePublicKeyList(value: string, label: string): PublicKey[] {
  const parts = value.split(/[\s,]+/).filter((s) => s !== "");
  if (parts.length === 0) {
    throw new LicenseError("KEY_INVALID", `${label} is set but empty`);
  }
  return parts.map((hex, i) => {
    const where = parts.length > 1 ? `${label} (key ${i + 1})` : label;
    return importPublicKey(parseHexKey(hex, where), where);
  });
}

/**
 * Reads a file of public keys (a key ring file): 64-hex keys separated by
 * commas or whitespace, `#` starting a comment. Public keys are not secret, so
 * the file's mode is not checked.
 */
export function readPublicKeyFile(path: string, label: string): string {
  try {
    return readFileSync(path, "utf8").replace(/#[^\n]*/g, " ");
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `${label}: cannot read ${path}`, { cause: err });
  }
}

/**
 * The text of a key variable: `NAME` itself, or the file `NAME_FILE` names
 * (read with `readFile`), never both. Undefined when neither is set.
 */
function readKeyVariable(
  env: Env,
  name: string,
  readFile: (path: string, label: string) => string,
): { text: string; label: string } | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && direct !== "" && file) {
    throw new LicenseError("CONFIG_INVALID", `set only one of ${name} and ${name}_FILE, not both`);
  }
  if (file) {
    const label = `${name}_FILE (${file})`;
    return { text: readFile(file, label), label };
  }
  if (direct !== undefined && direct !== "") return { text: direct, label: name };
  return undefined;
}

/**
 * Resolves the signer and key ring an environment configures. A public key
 * list that does not contain the private key's public half is refused, since
 * licenses signed with it would not verify.
 *
 * @example
 * ```ts
 * const { signer, ring, usingDevKey } = resolveKeys(process.env);
 * if (usingDevKey) console.error("using the development key");
 * ```
 */
export function resolveKeys(env: Env): ResolvedKeys {
  const priv = readKeyVariable(env, PRIVKEY_VAR, readSecretFile);
  const pub = readKeyVariable(env, PUBKEY_VAR, readPublicKeyFile);
  const publicKeys = pub ? parsePublicKeyList(pub.text, pub.label) : undefined;

  if (!priv && !publicKeys) {
    const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
    return {
      signer,
      ring: new KeyRing([signer.publicKey]),
      usingDevKey: true,
      configured: false,
    };
  }
  const signer = priv ? importSigner(parseHexKey(priv.text, priv.label)) : undefined;
  if (signer && publicKeys && !publicKeys.some((k) => k.kid === signer.kid)) {
    throw new LicenseError(
      "KEY_MISMATCH",
      `${pub!.label} does not contain the public key of ${priv!.label} (expected ${signer.publicKey.hex})`,
    );
  }
  const ring = new KeyRing(publicKeys ?? [signer!.publicKey]);
  // Configuring the public development key by hand is still using it.
  return {
    signer,
    ring,
    usingDevKey: ring.has(DEV_KID) || signer?.kid === DEV_KID,
    configured: true,
  };
}

/** The warning printed whenever a command falls back to the development key. */
export const DEV_KEY_WARNING =
  `warning: using the public development keypair (${PRIVKEY_VAR} and ${PUBKEY_VAR} are not set, ` +
  "or name the development key). Licenses it signs are for development only and production builds refuse them.";
