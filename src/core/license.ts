/**
 * The license record: its fields, the rules each must follow, license-key
 * generation, identity comparison and the time arithmetic of expiry.
 * Pure: the clock and randomness are passed in where they are needed.
 */
import { randomDraws } from "./random.js";
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

/**
 * The payload's fields after `v`, in the order a blob writes them: the one list
 * the writer, the reader, the issuance log and the server's records derive theirs from.
 */
export const PAYLOAD_FIELDS = [
  "kid",
  "license_key",
  "name",
  "email",
  "tier",
  "issued_at",
  "expires_at",
] as const satisfies readonly (keyof LicensePayload)[];

/** The signed fields as records keep them beside the blob (the payload without `v`). */
export type SignedFields = Pick<LicensePayload, (typeof PAYLOAD_FIELDS)[number]>;

/**
 * The signed fields an issuance-log line repeats beside its blob (all but `kid`,
 * which only the blob carries; docs/ADMIN.md's record format).
 */
export const RECORD_FIELDS = PAYLOAD_FIELDS.filter(
  (f): f is Exclude<(typeof PAYLOAD_FIELDS)[number], "kid"> => f !== "kid",
);

/** The signed fields of `payload`, without `v`. */
export function signedFields(payload: SignedFields): SignedFields {
  return Object.fromEntries(PAYLOAD_FIELDS.map((f) => [f, payload[f]])) as unknown as SignedFields;
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

// Characters refused in names and e-mail addresses when a license is issued: not text a
// buyer can see or type back, or text that changes how the characters around it display
// (a U+202E RIGHT-TO-LEFT OVERRIDE makes "Ada \u202eecalevoL" read "Ada Lovelace"). Controls
// (Cc), format characters (Cf: bidi controls, zero-width space, soft hyphen, BOM, invisible
// operators, tags), unpaired surrogates (Cs), private use (Co), unassigned code points (Cn, as
// of the Unicode version of the running Node.js), line and paragraph separators (Zl, Zp), the
// rest of Unicode's Default_Ignorable_Code_Point (Hangul fillers, variation selectors, the
// combining grapheme joiner) and the blank braille pattern U+2800. docs/FORMAT.md lists them.
// That class (`refused`) and the others with Unicode properties are in classes(), below.

// Tab, line feed, vertical tab, form feed and carriage return are whitespace: tidied to a space.
const TIDIED = /^[\t\n\v\f\r]$/;
// ZWNJ and ZWJ choose joining and conjunct forms in Persian, Urdu and Arabic and in the Indic
// scripts, always between two letters or after a virama (a combining mark) and before a letter.
const JOINER = /^[\u200c\u200d]$/;
// Variation selectors choose an ideographic variant of a Han character (a family name's
// exact glyph); Mongolian free variation selectors choose a Mongolian letter's form.
const VARIATION_SELECTOR = /^[\ufe00-\ufe0f\u{e0100}-\u{e01ef}]$/u;
const MONGOLIAN_FVS = /^[\u180b-\u180d\u180f]$/;

interface UnicodeClasses {
  readonly refused: RegExp;
  readonly letterOrMark: RegExp;
  readonly han: RegExp;
  readonly mongolian: RegExp;
}
let unicodeClasses: UnicodeClasses | undefined;

/**
 * The regular expressions with Unicode property classes, built when a name or e-mail address is
 * first checked: V8 builds such a class from ICU's tables when the expression is created, which
 * at module load cost every cold start of the command line (`dtlicense status` checks no name)
 * about 4% of the instructions of starting Node itself.
 */
function classes(): UnicodeClasses {
  unicodeClasses ??= {
    refused: /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/u,
    letterOrMark: /^[\p{L}\p{M}]$/u,
    han: /^\p{Script=Han}$/u,
    mongolian: /^\p{Script=Mongolian}$/u,
  };
  return unicodeClasses;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@.][^\s@]*\.[^\s@.]{2,}$/;

// Names for the message, so it can say which character without printing it.
const C0_NAMES = [
  "NULL",
  "START OF HEADING",
  "START OF TEXT",
  "END OF TEXT",
  "END OF TRANSMISSION",
  "ENQUIRY",
  "ACKNOWLEDGE",
  "BELL",
  "BACKSPACE",
  "CHARACTER TABULATION",
  "LINE FEED",
  "LINE TABULATION",
  "FORM FEED",
  "CARRIAGE RETURN",
  "SHIFT OUT",
  "SHIFT IN",
  "DATA LINK ESCAPE",
  "DEVICE CONTROL ONE",
  "DEVICE CONTROL TWO",
  "DEVICE CONTROL THREE",
  "DEVICE CONTROL FOUR",
  "NEGATIVE ACKNOWLEDGE",
  "SYNCHRONOUS IDLE",
  "END OF TRANSMISSION BLOCK",
  "CANCEL",
  "END OF MEDIUM",
  "SUBSTITUTE",
  "ESCAPE",
  "INFORMATION SEPARATOR FOUR",
  "INFORMATION SEPARATOR THREE",
  "INFORMATION SEPARATOR TWO",
  "INFORMATION SEPARATOR ONE",
];
const CHARACTER_NAMES: Readonly<Record<number, string>> = {
  0x7f: "DELETE",
  0x85: "NEXT LINE",
  0xa0: "NO-BREAK SPACE",
  0xad: "SOFT HYPHEN",
  0x34f: "COMBINING GRAPHEME JOINER",
  0x61c: "ARABIC LETTER MARK",
  0x115f: "HANGUL CHOSEONG FILLER",
  0x1160: "HANGUL JUNGSEONG FILLER",
  0x180e: "MONGOLIAN VOWEL SEPARATOR",
  0x200b: "ZERO WIDTH SPACE",
  0x200c: "ZERO WIDTH NON-JOINER",
  0x200d: "ZERO WIDTH JOINER",
  0x200e: "LEFT-TO-RIGHT MARK",
  0x200f: "RIGHT-TO-LEFT MARK",
  0x2028: "LINE SEPARATOR",
  0x2029: "PARAGRAPH SEPARATOR",
  0x202a: "LEFT-TO-RIGHT EMBEDDING",
  0x202b: "RIGHT-TO-LEFT EMBEDDING",
  0x202c: "POP DIRECTIONAL FORMATTING",
  0x202d: "LEFT-TO-RIGHT OVERRIDE",
  0x202e: "RIGHT-TO-LEFT OVERRIDE",
  0x2060: "WORD JOINER",
  0x2061: "FUNCTION APPLICATION",
  0x2062: "INVISIBLE TIMES",
  0x2063: "INVISIBLE SEPARATOR",
  0x2064: "INVISIBLE PLUS",
  0x2066: "LEFT-TO-RIGHT ISOLATE",
  0x2067: "RIGHT-TO-LEFT ISOLATE",
  0x2068: "FIRST STRONG ISOLATE",
  0x2069: "POP DIRECTIONAL ISOLATE",
  0x2800: "BRAILLE PATTERN BLANK",
  0x3164: "HANGUL FILLER",
  0xfeff: "ZERO WIDTH NO-BREAK SPACE",
  0xffa0: "HALFWIDTH HANGUL FILLER",
};

/** "U+202E RIGHT-TO-LEFT OVERRIDE", or "U+E000 (private use)" for characters without a listed name. */
function describeCodePoint(cp: number): string {
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  const name = cp < 0x20 ? C0_NAMES[cp] : CHARACTER_NAMES[cp];
  if (name !== undefined) return `${u} ${name}`;
  const c = String.fromCodePoint(cp);
  const kind = /\p{Cc}/u.test(c)
    ? "a control character"
    : /\p{Cs}/u.test(c)
      ? "an unpaired surrogate"
      : /\p{Co}/u.test(c)
        ? "private use"
        : /\p{Cn}/u.test(c)
          ? "unassigned"
          : /\p{Cf}/u.test(c)
            ? "a format character"
            : "an invisible character";
  return `${u} (${kind})`;
}

/**
 * The first character of `text` that {@link validateName} and {@link validateEmail} refuse, as
 * "U+202E RIGHT-TO-LEFT OVERRIDE at position 5" (positions count characters from 1), or
 * undefined when there is none.
 */
function refusedCharacter(text: string): string | undefined {
  // Code points, so a character beyond the BMP counts once and a lone surrogate stays itself.
  const chars = Array.from(text);
  const { refused, letterOrMark, han, mongolian } = classes();
  for (const [i, c] of chars.entries()) {
    if (!refused.test(c) || TIDIED.test(c)) continue;
    const before = chars[i - 1] ?? "";
    const after = chars[i + 1] ?? "";
    if (JOINER.test(c) && letterOrMark.test(before) && letterOrMark.test(after)) continue;
    if (VARIATION_SELECTOR.test(c) && han.test(before)) continue;
    if (MONGOLIAN_FVS.test(c) && mongolian.test(before)) continue;
    return `${describeCodePoint(c.codePointAt(0)!)} at position ${i + 1}`;
  }
  return undefined;
}

const REFUSED_WHY =
  "control, formatting and invisible characters (bidi overrides, zero-width spaces and the like) " +
  "are refused, since they make the text display as something else; remove it";

/**
 * Checks and tidies a buyer's name: trimmed, inner whitespace collapsed, NFC.
 * Refuses (`NAME_INVALID`, naming the character and its position) controls,
 * format characters such as bidi overrides and zero-width spaces, private-use
 * and unassigned code points, and other invisible characters, which could make
 * the name display as something else; ZWNJ and ZWJ are kept between two
 * letters or marks, where Persian and Indic names use them.
 *
 * @example
 * ```ts
 * validateName("  Ada   Lovelace "); // "Ada Lovelace"
 * validateName("Ada \u202eecalevoL"); // throws NAME_INVALID (U+202E RIGHT-TO-LEFT OVERRIDE at position 5)
 * ```
 */
export function validateName(value: string): string {
  const refused = refusedCharacter(value);
  if (refused !== undefined) {
    throw new LicenseError("NAME_INVALID", `the buyer's name contains ${refused}; ${REFUSED_WHY}`);
  }
  const name = value.normalize("NFC").trim().replace(/\s+/g, " ");
  if (name === "") throw new LicenseError("NAME_INVALID", "the buyer's name is empty");
  if (name.length > MAX_NAME_LENGTH) {
    throw new LicenseError(
      "NAME_INVALID",
      `the buyer's name must be at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return name;
}

/**
 * Checks an e-mail address for plausibility (one `@`, a dotted domain, no
 * spaces, sane length, none of the characters {@link validateName} refuses)
 * and returns it trimmed. It does not lower-case it: the
 * address is signed as the vendor typed it; comparisons use {@link sameIdentity}.
 *
 * @example
 * ```ts
 * validateEmail(" buyer@example.com "); // "buyer@example.com"
 * ```
 */
export function validateEmail(value: string): string {
  const refused = refusedCharacter(value);
  if (refused !== undefined) {
    throw new LicenseError(
      "EMAIL_INVALID",
      `the e-mail address contains ${refused}; ${REFUSED_WHY}`,
    );
  }
  const email = value.normalize("NFC").trim();
  if (email === "") throw new LicenseError("EMAIL_INVALID", "the e-mail address is empty");
  if (email.length > MAX_EMAIL_LENGTH || email.includes("..") || !EMAIL.test(email)) {
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

const keyBytes = randomDraws(8);

/**
 * A new license key: `DT1-<TIER>-<8 hex>-<8 hex>`, from node:crypto's CSPRNG.
 *
 * @example
 * ```ts
 * generateLicenseKey("core"); // "DT1-CORE-5dd8e1db-d90c4656"
 * ```
 */
export function generateLicenseKey(tier: Tier, random: Uint8Array = keyBytes()): string {
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
