/** The creator's side: minting licenses and the issuance log. */
export {
  IssuanceLog,
  LINE_FIELDS,
  LOG_PATH_VAR,
  issuanceLogPath,
  parseLog,
  pick,
  readRecord,
} from "./log.js";
export type { IssuanceRecord, LogContents, LogProblem, LoggedRecord } from "./log.js";
export { assertKeyFree, issueLicense, toRecord } from "./issue.js";
