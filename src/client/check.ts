/**
 * Deciding what a stored license file is worth: the one state (active,
 * expiring, expired, none, invalid), why, and which features it unlocks.
 * Only the re-verified blob is trusted; the file's other fields are not.
 */
import { featuresForTier, type Catalogue, type Feature, type Tier } from "../core/catalogue.js";
import { isLicenseError, type ErrorCode } from "../core/errors.js";
import { verifyBlob } from "../core/format.js";
import type { KeyRing } from "../core/keys.js";
import { daysLeft as wholeDaysLeft, parseTime, type LicensePayload } from "../core/license.js";
import { LICENSE_FILE_VERSION, type LicenseFileRecord, type RawLicenseFile } from "./store.js";

/**
 * The one state of the license on this machine.
 * - `active`: genuine, for this build's keys, more than {@link EXPIRING_DAYS} days left.
 * - `expiring`: as active, with {@link EXPIRING_DAYS} or fewer whole days left.
 * - `expired`: genuine, but its expiry has passed.
 * - `none`: no license is activated.
 * - `invalid`: the stored file cannot be trusted; see {@link InvalidReason}.
 *
 * Only with the online check-in (./online.ts), never for a license checked offline only:
 * - `revoked` / `suspended`: genuine, but a signed server answer or revocation list says
 *   the vendor revoked or suspended it.
 * - `check_in_required`: genuine, but the app uses online check-in and has had no good
 *   signed answer from its server within the grace period.
 */
export type LicenseState =
  | "active"
  | "expiring"
  | "expired"
  | "none"
  | "invalid"
  | "revoked"
  | "suspended"
  | "check_in_required";

/**
 * Why a stored license is `invalid`.
 * - `tampered`: the blob no longer verifies, or the file's fields were edited.
 * - `untrusted_key`: the blob is signed by a key this build does not trust.
 * - `corrupt`: the file is not a license file at all (damaged, truncated, not JSON).
 * - `unreadable`: the file exists but cannot be read (permissions).
 * - `clock_rollback`: the system clock is well behind a time the license was already seen.
 */
export type InvalidReason =
  "tampered" | "untrusted_key" | "corrupt" | "unreadable" | "clock_rollback";

/** A license with this many whole days left, or fewer, is `expiring`. */
export const EXPIRING_DAYS = 30;
/**
 * How far the clock may fall behind the latest time the license was seen
 * before the check reports `clock_rollback`: 24 hours, enough for a machine
 * whose hardware clock is kept in local time, a time-zone change or a
 * correction by NTP, and short of anything that helps keep an expired license.
 */
export const CLOCK_ROLLBACK_TOLERANCE_MS = 24 * 60 * 60 * 1000;
/**
 * How old the stored `last_seen_at` must be before a check writes a newer one:
 * one hour, so a product that checks at every start does not write every
 * time, at the cost of detecting a rollback up to an hour later.
 */
export const LAST_SEEN_REFRESH_MS = 60 * 60 * 1000;

/** The answer of a license check. */
export interface LicenseStatus {
  readonly state: LicenseState;
  /** True for `active` and `expiring`: the license unlocks its features now. */
  readonly usable: boolean;
  /**
   * The error code behind a state that is not usable: `LICENSE_NONE`,
   * `LICENSE_EXPIRED`, `LICENSE_TAMPERED`, `LICENSE_CORRUPT`, `FILE_UNREADABLE`,
   * `KEY_UNKNOWN` or `CLOCK_ROLLBACK`; undefined when usable.
   */
  readonly code: ErrorCode | undefined;
  /** Set when `state` is `invalid`. */
  readonly reason: InvalidReason | undefined;
  /** One line for people: what is wrong and what to do. Undefined when active. */
  readonly message: string | undefined;
  /** The verified payload; present for active, expiring, expired and clock_rollback. */
  readonly license: LicensePayload | undefined;
  readonly tier: Tier | undefined;
  /** The features enabled now: the tier's when usable, none otherwise. */
  readonly features: readonly Feature[];
  /** The features the license's tier unlocks while it is usable. */
  readonly tierFeatures: readonly Feature[];
  /** Whole days until expiry, 0 once expired; undefined without a license. */
  readonly daysLeft: number | undefined;
  /** The license file this answer is about. */
  readonly path: string;
  /** What the online check-in knows (./online.ts); undefined when it is not in use. */
  readonly online: OnlineSummary | undefined;
  /**
   * True when the license is usable and its tier unlocks the feature.
   *
   * @example
   * ```ts
   * if (license.hasFeature("deduplicator")) showDeduplicator();
   * ```
   */
  hasFeature(id: string): boolean;
  /** The `dtlicense status --json` shape (features as ids). */
  toJSON(): StatusJson;
}

/** What `dtlicense status --json` prints. */
export interface StatusJson {
  state: LicenseState;
  license_key: string | null;
  name: string | null;
  email: string | null;
  tier: Tier | null;
  features: string[];
  issued_at: string | null;
  expires_at: string | null;
  days_left: number | null;
  code: ErrorCode | null;
  reason: InvalidReason | null;
  /** Only when the online check-in is in use. */
  online?: OnlineSummary;
}

/** The online check-in's part of a status (all times RFC 3339 UTC). */
export interface OnlineSummary {
  /** The license server this machine checks in with, when known. */
  server: string | null;
  /** The server time of the last good signed answer (VALID, ACTIVATED, ALREADY_ACTIVE). */
  last_check_in: string | null;
  /** When the grace period after that answer ends (null without a good answer). */
  grace_ends_at: string | null;
  /** The serial of the verified revocation list held, when one is. */
  revocation_serial: number | null;
  /** Why the cached answers were set aside, when they were (tampered, another machine…). */
  problem: string | null;
}

/** The stored file, checked: its record and status, for the writers in ./client.ts. */
export interface CheckedFile {
  readonly status: LicenseStatus;
  /** The parsed record when the file parsed and its blob verified. */
  readonly record: LicenseFileRecord | undefined;
  /** The exact text read, so a refresh can tell whether the file changed meanwhile. */
  readonly text: string | undefined;
}

/** What makes a status; exported for the online check-in's verdicts (./online.ts). */
export interface StatusInput {
  state: LicenseState;
  path: string;
  catalogue: Catalogue;
  now: Date;
  license?: LicensePayload;
  code?: ErrorCode;
  reason?: InvalidReason;
  message?: string;
  online?: OnlineSummary;
}

/** Builds a status from its parts. */
export function makeStatus(input: StatusInput): LicenseStatus {
  const { state, license } = input;
  const usable = state === "active" || state === "expiring";
  const tierFeatures = license ? featuresForTier(license.tier, input.catalogue) : [];
  const features = usable ? tierFeatures : [];
  const enabled = new Set(features.map((f) => f.id));
  const expiry = license ? parseTime(license.expires_at) : undefined;
  const daysLeft = expiry ? Math.max(0, wholeDaysLeft(expiry, input.now)) : undefined;
  return {
    state,
    usable,
    code: input.code,
    reason: input.reason,
    message: input.message,
    license,
    tier: license?.tier,
    features,
    tierFeatures,
    daysLeft,
    path: input.path,
    online: input.online,
    hasFeature: (id) => enabled.has(id),
    toJSON: () => ({
      state,
      license_key: license?.license_key ?? null,
      name: license?.name ?? null,
      email: license?.email ?? null,
      tier: license?.tier ?? null,
      features: features.map((f) => f.id),
      issued_at: license?.issued_at ?? null,
      expires_at: license?.expires_at ?? null,
      days_left: daysLeft ?? null,
      code: input.code ?? null,
      reason: input.reason ?? null,
      ...(input.online ? { online: input.online } : {}),
    }),
  };
}

const REACTIVATE =
  "activate your license again with: dtlicense activate BLOB --name NAME --email EMAIL";

/** Parses the file's JSON into a record, or says why it is corrupt or tampered. */
function parseRecord(
  text: string,
): { record: Record<string, unknown> } | { reason: "corrupt" | "tampered"; why: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: "corrupt", why: "is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { reason: "corrupt", why: "is not a JSON object" };
  }
  const record = value as Record<string, unknown>;
  if (typeof record.blob !== "string") {
    return { reason: "corrupt", why: "holds no license blob" };
  }
  if (record.version !== LICENSE_FILE_VERSION) {
    return { reason: "tampered", why: "has an unknown version field" };
  }
  return { record };
}

/**
 * Checks the stored license at `now`. Pure apart from its inputs: the caller
 * reads the file and passes what it found.
 */
export function checkLicenseFile(
  raw: RawLicenseFile,
  ring: KeyRing,
  catalogue: Catalogue,
  now: Date,
  path: string,
): CheckedFile {
  const base = { path, catalogue, now };
  if (raw.kind === "missing") {
    const status = makeStatus({
      ...base,
      state: "none",
      code: "LICENSE_NONE",
      message: `no license is activated on this machine; activate one with: dtlicense activate BLOB --name NAME --email EMAIL`,
    });
    return { status, record: undefined, text: undefined };
  }
  if (raw.kind === "unreadable") {
    const status = makeStatus({
      ...base,
      state: "invalid",
      reason: "unreadable",
      code: "FILE_UNREADABLE",
      message: `cannot read ${path} (${raw.error}); make sure it belongs to you and has mode 600 (chmod 600 ${path})`,
    });
    return { status, record: undefined, text: undefined };
  }
  const invalid = (
    reason: InvalidReason,
    code: ErrorCode,
    message: string,
    license?: LicensePayload,
  ) =>
    makeStatus({
      ...base,
      state: "invalid",
      reason,
      code,
      message,
      ...(license ? { license } : {}),
    });

  const parsed = parseRecord(raw.text);
  if ("reason" in parsed) {
    const status =
      parsed.reason === "corrupt"
        ? invalid(
            "corrupt",
            "LICENSE_CORRUPT",
            `${path} ${parsed.why}: the file is damaged; run dtlicense deactivate --yes, then ${REACTIVATE}`,
          )
        : invalid(
            "tampered",
            "LICENSE_TAMPERED",
            `${path} ${parsed.why}: the file was changed by hand; run dtlicense deactivate --yes, then ${REACTIVATE}`,
          );
    return { status, record: undefined, text: raw.text };
  }
  const fields = parsed.record;

  let license: LicensePayload;
  try {
    ({ payload: license } = verifyBlob(fields.blob as string, ring));
  } catch (err) {
    if (isLicenseError(err, "KEY_UNKNOWN")) {
      const status = invalid(
        "untrusted_key",
        "KEY_UNKNOWN",
        `the stored license is signed by a key this version does not trust (${err.message}); ` +
          "ask the vendor for a license signed with the current key, then run dtlicense activate with it",
      );
      return { status, record: undefined, text: raw.text };
    }
    const why = isLicenseError(err) ? `${err.message} [${err.code}]` : String(err);
    const status = invalid(
      "tampered",
      "LICENSE_TAMPERED",
      `the stored license does not verify (${why}): the file was changed by hand or damaged; ` +
        `run dtlicense deactivate --yes, then ${REACTIVATE}`,
    );
    return { status, record: undefined, text: raw.text };
  }

  // The bookkeeping times are written by this code only; a malformed one means a hand edit.
  const lastSeen =
    typeof fields.last_seen_at === "string" ? parseTime(fields.last_seen_at) : undefined;
  const activatedOk = typeof fields.activated_at === "string" && parseTime(fields.activated_at);
  const renewedOk =
    fields.renewed_at === undefined ||
    (typeof fields.renewed_at === "string" && parseTime(fields.renewed_at));
  if (!lastSeen || !activatedOk || !renewedOk) {
    const status = invalid(
      "tampered",
      "LICENSE_TAMPERED",
      `${path} has malformed activated_at, renewed_at or last_seen_at times: the file was changed by hand; ` +
        `run dtlicense deactivate --yes, then ${REACTIVATE}`,
    );
    return { status, record: undefined, text: raw.text };
  }
  const record: LicenseFileRecord = {
    version: LICENSE_FILE_VERSION,
    blob: fields.blob as string,
    activated_at: fields.activated_at as string,
    ...(fields.renewed_at !== undefined ? { renewed_at: fields.renewed_at as string } : {}),
    last_seen_at: fields.last_seen_at as string,
  };

  const rollback = clockRollback(license, lastSeen, now);
  if (rollback) {
    const status = invalid("clock_rollback", "CLOCK_ROLLBACK", rollback, license);
    return { status, record, text: raw.text };
  }
  const expires = parseTime(license.expires_at)!;
  if (now.getTime() >= expires.getTime()) {
    const status = makeStatus({
      ...base,
      state: "expired",
      code: "LICENSE_EXPIRED",
      license,
      message: `the license expired on ${license.expires_at}; ask the vendor for a renewal, then run dtlicense renew BLOB`,
    });
    return { status, record, text: raw.text };
  }
  const left = wholeDaysLeft(expires, now);
  if (left <= EXPIRING_DAYS) {
    const status = makeStatus({
      ...base,
      state: "expiring",
      license,
      message: `the license expires in ${left} day${left === 1 ? "" : "s"} (${license.expires_at}); ask the vendor for a renewal, then run dtlicense renew BLOB`,
    });
    return { status, record, text: raw.text };
  }
  return { status: makeStatus({ ...base, state: "active", license }), record, text: raw.text };
}

/**
 * The message for a clock set back, or undefined. The clock must not be
 * further than the tolerance behind the latest of: the last time this machine
 * saw the license, and the license's own issue time (which needs no trust in
 * the file).
 */
function clockRollback(
  license: LicensePayload,
  lastSeen: Date | undefined,
  now: Date,
): string | undefined {
  const issued = parseTime(license.issued_at)!;
  const floor = lastSeen && lastSeen > issued ? lastSeen : issued;
  if (now.getTime() >= floor.getTime() - CLOCK_ROLLBACK_TOLERANCE_MS) return undefined;
  const seen = floor === issued ? "the license was issued" : "the license was last checked";
  return (
    `the system clock (${now.toISOString().slice(0, 19)}Z) is behind the time ${seen} ` +
    `(${floor.toISOString().slice(0, 19)}Z); set the date and time correctly and check again ` +
    "(if the clock is right and was wrong before, run dtlicense deactivate --yes and activate again)"
  );
}
