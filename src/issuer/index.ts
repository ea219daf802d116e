/** The creator's side: minting licenses and the issuance log. */
export {
  IssuanceLog,
  LINE_FIELDS,
  LOG_GENESIS,
  LOG_PATH_VAR,
  issuanceLogPath,
  lineHash,
  parseLog,
  pick,
  readRecord,
  recordLineHash,
  verifyLogChain,
} from "./log.js";
export type {
  ChainedRecord,
  IssuanceRecord,
  LogBreak,
  LogChainReport,
  LogContents,
  LogProblem,
  LoggedRecord,
} from "./log.js";
export { assertKeyFree, issueLicense, toRecord } from "./issue.js";
