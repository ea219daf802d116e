/**
 * Building and signing a new license from a vendor's input. Pure: the clock
 * and the random key bytes are passed in.
 */
import { encodeBlob } from "./format.js";
import type { Signer } from "./keys.js";
import {
  addYears,
  formatTime,
  generateLicenseKey,
  validateEmail,
  validateLicenseKey,
  validateName,
  validateTier,
  validateYears,
  type LicensePayload,
} from "./license.js";

/** What a vendor gives to mint a license. Strings are validated here. */
export interface MintInput {
  name: string;
  email: string;
  /** Default `core`. */
  tier?: string;
  /** Whole years, default 1. */
  years?: number | string;
  /** Default: a generated `DT1-<TIER>-xxxxxxxx-xxxxxxxx`. */
  licenseKey?: string;
}

/** A signed license: the payload and its blob. */
export interface MintedLicense {
  readonly payload: LicensePayload;
  readonly blob: string;
}

/**
 * Validates the input (throwing NAME_INVALID, EMAIL_INVALID, TIER_UNKNOWN,
 * YEARS_INVALID or LICENSE_KEY_INVALID) and signs a license issued at `now`.
 *
 * @example
 * ```ts
 * const { blob, payload } = mintLicense(
 *   { name: "Ada Lovelace", email: "ada@example.com", tier: "pro", years: 1 },
 *   signer,
 *   new Date(),
 * );
 * ```
 */
export function mintLicense(input: MintInput, signer: Signer, now: Date): MintedLicense {
  const name = validateName(input.name);
  const email = validateEmail(input.email);
  const tier = validateTier(input.tier ?? "core");
  const years = validateYears(input.years ?? 1);
  const licenseKey =
    input.licenseKey === undefined
      ? generateLicenseKey(tier)
      : validateLicenseKey(input.licenseKey);
  const issued = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const payload: LicensePayload = {
    v: 2,
    kid: signer.kid,
    license_key: licenseKey,
    name,
    email,
    tier,
    issued_at: formatTime(issued),
    expires_at: formatTime(addYears(issued, years)),
  };
  return { payload, blob: encodeBlob(payload, signer) };
}
