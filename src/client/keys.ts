/** The trusted keys a client is given, as a key ring. */
import { LicenseError } from "../core/errors.js";
import { KeyRing, importPublicKey, parseHexKey } from "../core/keys.js";

/**
 * Turns a list of 64-hex public keys into a {@link KeyRing}; a ring is returned as is.
 * A key that is not 64 hex characters is `KEY_INVALID`; a small-order or
 * non-canonical one (such as 64 zeros) is `KEY_WEAK`, since anyone could sign
 * licenses it verifies.
 *
 * @example
 * ```ts
 * const ring = toKeyRing(["4b980efa55b60582cc545897b48a1f0574ecb9d754c55c17383ac1eab6ba232c"]);
 * ring.has("59af6f1f1d004b94"); // true
 * ```
 */
export function toKeyRing(publicKeys: readonly string[] | KeyRing): KeyRing {
  if (publicKeys instanceof KeyRing) return publicKeys;
  if (publicKeys.length === 0) {
    throw new LicenseError("KEY_MISSING", "no public key was given to verify licenses with");
  }
  return new KeyRing(
    publicKeys.map((hex, i) => {
      const label = `public key ${i + 1}`;
      return importPublicKey(parseHexKey(hex, label), label);
    }),
  );
}
