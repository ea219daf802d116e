/**
 * What ships inside the product: check the license on this machine, answer
 * which features it unlocks, and activate, renew or remove it; optionally take
 * a seat on the vendor's license server, check in and apply its signed
 * revocation list (LicenseClient.activateMachine, checkIn, releaseMachine,
 * fetchRevocations). Depends on Node's built-ins (global fetch included) and
 * the pure core only; no command-line or server code.
 *
 * @example
 * ```ts
 * import { assertProductionSafe, loadLicense } from "datatools-license/client";
 *
 * const VENDOR_KEYS = ["<the vendor's 64-hex public key>"];
 * assertProductionSafe(VENDOR_KEYS);
 * const license = loadLicense({ publicKeys: VENDOR_KEYS });
 * if (license.hasFeature("deduplicator")) enableDeduplicator();
 * ```
 */
export { LicenseClient, loadLicense } from "./client.js";
export { toKeyRing } from "./keys.js";
export type {
  ChangeResult,
  ClientOptions,
  Identity,
  OnlineCallOptions,
  OnlineOptions,
  OnlineResult,
  RemoveResult,
} from "./client.js";
export { CLOCK_ROLLBACK_TOLERANCE_MS, EXPIRING_DAYS, LAST_SEEN_REFRESH_MS } from "./check.js";
export type {
  InvalidReason,
  LicenseState,
  LicenseStatus,
  OnlineSummary,
  StatusJson,
} from "./check.js";
export { FINGERPRINT_PREFIX, machineFingerprint } from "./fingerprint.js";
export type { FingerprintOptions } from "./fingerprint.js";
export { DEFAULT_MAX_SKEW_MS, DEFAULT_TIMEOUT_MS } from "./answers.js";
export type {
  RawAnswer,
  RevocationList,
  RevokedEntry,
  SeatAnswer,
  ServerLicenseState,
} from "./answers.js";
export { DEFAULT_GRACE_MS, ONLINE_FILE, ONLINE_FILE_VERSION } from "./online.js";
export type { OnlineRecord } from "./online.js";
export { assertProductionSafe, isPackagedBuild } from "./production.js";
export type { ProductionOptions } from "./production.js";
export { LICENSE_DIR, LICENSE_FILE, licensePath } from "./store.js";
export type { LicenseFileRecord } from "./store.js";
export { LicenseError, isLicenseError } from "../core/errors.js";
export type { ErrorCode } from "../core/errors.js";
