/**
 * The license record: its fields, the rules each must follow, license-key
 * generation, identity comparison and the time arithmetic of expiry.
 * Pure: the clock and randomness are passed in where they are needed.
 */
import { randomBytes } from "node:crypto";
import { LicenseError } from "./errors.js";
import { isTier, TIERS, type Tier } from "./catalogue.js";

/** The signed fields of a DTLIC2 license (payload version 2). */
export interface LicensePayload {
  readonly v: 2;
  readonly kid: string;
  readonly license_key: string;
  readonly name: string;
  readonly email: string;
  readonly tier: Tier;
  readonly issued_at: string;
  readonly expires_at: string;
}

/** Longest accepted buyer name, in characters. */
export const MAX_NAME_LENGTH = 200;
/** Longest accepted e-mail address (RFC 5321's path limit). */
export const MAX_EMAIL_LENGTH = 254;
/** Most years one license may run. */
export const MAX_YEARS = 100;

/**
 * License keys: 3 to 64 characters of `A-Z a-z 0-9 - _`, starting with a
 * letter or digit. Generated keys look like `DT1-CORE-5dd8e1db-d90c4656`.
 */
export const LICENSE_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;

// Control characters (C0, DEL, C1), the Unicode line/paragraph separators, and
// unpaired UTF-16 surrogates: not text, so no buyer could ever type the value back.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cs}]/u;
const EMAIL = /^[^\s@]{1,64}@[^\s@.][^\s@]*\.[^\s@.]{2,}$/;

/**
 * Checks and tidies a buyer's name: trimmed, inner whitespace collapsed, NFC.
 *
 * @example
 * ```ts
 * validateName("  Ada   Lovelace "); // "Ada Lovelace"
 * ```
 */
export function validateName(value: string): string {
  const name = value.normalize("NFC").trim().replace(/\s+/g, " ");
  if (name === "") throw new LicenseError("NAME_INVALID", "the buyer's name is empty");
  if (name.length > MAX_NAME_LENGTH || CONTROL.test(name)) {
    throw new LicenseError(
      "NAME_INVALID",
      `the buyer's name must be at most ${MAX_NAME_LENGTH} printable characters`,
    );
  }
  return name;
}

/**
 * Checks an e-mail address for plausibility (one `@`, a dotted domain, no
 * spaces, sane length) and returns it trimmed. It does not lower-case it: the
 * address is signed as the vendor typed it; comparisons use {@link sameIdentity}.
 *
 * @example
 * ```ts
 * validateEmail(" buyer@example.com "); // "buyer@example.com"
 * ```
 */
export function validateEmail(value: string): string {
  const email = value.normalize("NFC").trim();
  if (email === "") throw new LicenseError("EMAIL_INVALID", "the e-mail address is empty");
  if (
    email.length > MAX_EMAIL_LENGTH ||
    CONTROL.test(email) ||
    email.includes("..") ||
    !EMAIL.test(email)
  ) {
    throw new LicenseError(
      "EMAIL_INVALID",
      `"${email.slice(0, 80)}" does not look like an e-mail address (expected name@domain.tld)`,
    );
  }
  return email;
}

/**
 * Checks a tier name.
 *
 * @example
 * ```ts
 * validateTier("pro"); // "pro"
 * ```
 */
export function validateTier(value: string): Tier {
  if (!isTier(value)) {
    throw new LicenseError(
      "TIER_UNKNOWN",
      `unknown tier "${value.slice(0, 40)}"; use one of: ${TIERS.join(", ")}`,
    );
  }
  return value;
}

/**
 * Checks a licence lifetime in years: a whole number from 1 to {@link MAX_YEARS}.
 * Accepts the string a command line passes.
 *
 * @example
 * ```ts
 * validateYears("2"); // 2
 * ```
 */
export function validateYears(value: string | number): number {
  const text = String(value).trim();
  const years = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(years) || years < 1 || years > MAX_YEARS) {
    throw new LicenseError(
      "YEARS_INVALID",
      `years must be a whole number from 1 to ${MAX_YEARS}, not "${text.slice(0, 20)}"`,
    );
  }
  return years;
}

/**
 * Checks a license key against {@link LICENSE_KEY_PATTERN}.
 *
 * @example
 * ```ts
 * validateLicenseKey("DT1-PRO-ACME-2026");
 * ```
 */
export function validateLicenseKey(value: string): string {
  const key = value.trim();
  if (!LICENSE_KEY_PATTERN.test(key)) {
    throw new LicenseError(
      "LICENSE_KEY_INVALID",
      `license key "${key.slice(0, 70)}" must be 3-64 characters of A-Z, a-z, 0-9, "-" and "_", starting with a letter or digit`,
    );
  }
  return key;
}

/**
 * A new license key: `DT1-<TIER>-<8 hex>-<8 hex>`, from node:crypto's CSPRNG.
 *
 * @example
 * ```ts
 * generateLicenseKey("core"); // "DT1-CORE-5dd8e1db-d90c4656"
 * ```
 */
export function generateLicenseKey(tier: Tier, random: Uint8Array = randomBytes(8)): string {
  const hex = Buffer.from(random).toString("hex");
  return `DT1-${tier.toUpperCase()}-${hex.slice(0, 8)}-${hex.slice(8, 16)}`;
}

/**
 * The form in which names and e-mails are compared: Unicode NFC, trimmed,
 * inner whitespace collapsed, case-folded. Lower-casing alone is not
 * case-folding ("Straße" would differ from "STRASSE"); upper-casing first
 * applies the full mappings (ß → SS, ﬁ → FI) before lower-casing.
 *
 * @example
 * ```ts
 * normalizeIdentity("  Jürgen   STRASSE "); // "jürgen strasse"
 * normalizeIdentity("Jürgen Straße"); // "jürgen strasse"
 * ```
 */
export function normalizeIdentity(value: string): string {
  return value
    .normalize("NFC")
    .trim()
    .replace(/\s+/g, " ")
    .toUpperCase()
    .toLowerCase()
    .normalize("NFC");
}

/**
 * True when two names or two e-mails are the same after {@link normalizeIdentity}.
 *
 * @example
 * ```ts
 * sameIdentity("ADA@Example.com", " ada@example.com"); // true
 * ```
 */
export function sameIdentity(a: string, b: string): boolean {
  return normalizeIdentity(a) === normalizeIdentity(b);
}

const RFC3339_SECONDS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/**
 * Formats an instant as RFC 3339 UTC to the second, e.g. `2026-05-13T22:10:27Z`.
 *
 * @example
 * ```ts
 * formatTime(new Date("2026-05-13T22:10:27.512Z")); // "2026-05-13T22:10:27Z"
 * ```
 */
export function formatTime(date: Date): string {
  return date.toISOString().slice(0, 19) + "Z";
}

/**
 * Parses an RFC 3339 UTC timestamp to the second; returns undefined for
 * anything else (other offsets, fractions, impossible dates).
 *
 * @example
 * ```ts
 * parseTime("2026-05-13T22:10:27Z"); // a Date
 * parseTime("2026-02-30T00:00:00Z"); // undefined
 * ```
 */
export function parseTime(text: string): Date | undefined {
  const m = RFC3339_SECONDS.exec(text);
  if (!m) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()) || formatTime(date) !== text) return undefined;
  return date;
}

/**
 * `date` plus whole calendar years, in UTC. 29 February plus one year is
 * 1 March.
 *
 * @example
 * ```ts
 * formatTime(addYears(new Date("2028-02-29T12:00:00Z"), 1)); // "2029-03-01T12:00:00Z"
 * ```
 */
export function addYears(date: Date, years: number): Date {
  const out = new Date(date.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

/**
 * Whole days from `now` until `expiresAt`, rounded down; negative once expired.
 *
 * @example
 * ```ts
 * daysLeft(parseTime(payload.expires_at)!, new Date()); // e.g. 364
 * ```
 */
export function daysLeft(expiresAt: Date, now: Date): number {
  return Math.floor((expiresAt.getTime() - now.getTime()) / 86_400_000);
}
