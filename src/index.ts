/**
 * The package's main entry: the pure core (format, keys, license rules,
 * catalogue, errors) and the in-app client. Command-line, issuer and server
 * code have their own entries and are not loaded from here.
 *
 * @example
 * ```ts
 * import { loadLicense, verifyBlob, KeyRing } from "datatools-license";
 * ```
 */
export { ERROR_CODES, LicenseError, isLicenseError } from "./core/index.js";
export type { ErrorCode } from "./core/index.js";
export { DEFAULT_CATALOGUE, TIERS, featuresForTier, isTier, parseCatalogue } from "./core/index.js";
export type { Catalogue, Feature, Tier } from "./core/index.js";
export {
  DEV_KID,
  DEV_PRIVATE_KEY_HEX,
  DEV_PUBLIC_KEY_HEX,
  DEV_SEED_TEXT,
  KeyRing,
  generateKeypair,
  importPublicKey,
  importSigner,
  isDevKey,
  keyId,
  parseHexKey,
  verifySignature,
} from "./core/index.js";
export type { PublicKey, Signer } from "./core/index.js";
export {
  LICENSE_KEY_PATTERN,
  MAX_EMAIL_LENGTH,
  MAX_NAME_LENGTH,
  MAX_YEARS,
  PAYLOAD_FIELDS,
  RECORD_FIELDS,
  addYears,
  daysLeft,
  formatTime,
  generateLicenseKey,
  normalizeIdentity,
  parseTime,
  sameIdentity,
  signedFields,
  validateEmail,
  validateLicenseKey,
  validateName,
  validateTier,
  validateYears,
} from "./core/index.js";
export type { LicensePayload, SignedFields } from "./core/index.js";
export {
  BLOB_PREFIX,
  MAX_BLOB_LENGTH,
  MAX_INPUT_LENGTH,
  V1_PREFIX,
  b64uDecode,
  b64uEncode,
  encodeBlob,
  normalizeBlobText,
  unverifiedKid,
  verifyBlob,
} from "./core/index.js";
export type { VerifiedLicense } from "./core/index.js";
export { DEVELOPMENT_NODE_ENVS, devKeyRefusal, isLoopbackHost, runtimeMode } from "./core/index.js";
export type { RuntimeMode } from "./core/index.js";
export { mintLicense } from "./core/index.js";
export type { MintInput, MintedLicense } from "./core/index.js";
export {
  ANSWER_PREFIX,
  ANSWER_SIGNATURE_HEADER,
  answerMessage,
  parseAnswerSignature,
  signAnswer,
  verifyAnswer,
} from "./core/index.js";

export {
  CLOCK_ROLLBACK_TOLERANCE_MS,
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_TIMEOUT_MS,
  EXPIRING_DAYS,
  FINGERPRINT_PREFIX,
  ONLINE_FILE,
  ONLINE_FILE_VERSION,
  machineFingerprint,
  LAST_SEEN_REFRESH_MS,
  LICENSE_DIR,
  LICENSE_FILE,
  LicenseClient,
  assertProductionSafe,
  isPackagedBuild,
  licensePath,
  loadLicense,
  toKeyRing,
} from "./client/index.js";
export type {
  ChangeResult,
  ClientOptions,
  FingerprintOptions,
  Identity,
  InvalidReason,
  LicenseFileRecord,
  LicenseState,
  LicenseStatus,
  OnlineCallOptions,
  OnlineOptions,
  OnlineRecord,
  OnlineResult,
  OnlineSummary,
  ProductionOptions,
  RawAnswer,
  RemoveResult,
  RevocationList,
  RevokedEntry,
  SeatAnswer,
  ServerLicenseState,
  StatusJson,
} from "./client/index.js";
