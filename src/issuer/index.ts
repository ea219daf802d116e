/** The creator's side: minting licenses and the issuance log. */
export { IssuanceLog, LOG_PATH_VAR, issuanceLogPath, parseLog } from "./log.js";
export type { IssuanceRecord, LogContents, LogProblem, LoggedRecord } from "./log.js";
export { assertKeyFree, issueLicense, toRecord } from "./issue.js";
