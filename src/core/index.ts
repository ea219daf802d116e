/**
 * The pure core: the DTLIC2 format, Ed25519 keys and key rings, the license
 * record's rules, the feature catalogue, the error codes and the production
 * rule (what a value of NODE_ENV means). No environment reads, no file or
 * network I/O, no hidden clock.
 */
export { ERROR_CODES, LicenseError, isLicenseError } from "./errors.js";
export type { ErrorCode } from "./errors.js";
export { DEFAULT_CATALOGUE, TIERS, featuresForTier, isTier, parseCatalogue } from "./catalogue.js";
export type { Catalogue, Feature, Tier } from "./catalogue.js";
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
} from "./keys.js";
export type { PublicKey, Signer } from "./keys.js";
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
} from "./license.js";
export type { LicensePayload, SignedFields } from "./license.js";
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
} from "./format.js";
export type { VerifiedLicense } from "./format.js";
export {
  DEVELOPMENT_NODE_ENVS,
  devKeyRefusal,
  isLoopbackHost,
  runtimeMode,
} from "./environment.js";
export type { RuntimeMode } from "./environment.js";
export { mintLicense } from "./mint.js";
export type { MintInput, MintedLicense } from "./mint.js";
export {
  ANSWER_PREFIX,
  ANSWER_SIGNATURE_HEADER,
  answerMessage,
  parseAnswerSignature,
  signAnswer,
  verifyAnswer,
} from "./answer.js";
