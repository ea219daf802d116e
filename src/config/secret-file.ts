/** Reading secrets from files, refusing files that others can read (as ssh does). */
import { readFileSync, statSync } from "node:fs";
import { LicenseError } from "../core/errors.js";

/**
 * Reads a secret file and returns its text, trimmed. Refuses a file whose
 * mode lets its group or others read it; `label` names the setting that
 * pointed at the file so the error can say which.
 */
export function readSecretFile(path: string, label: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `${label}: cannot read ${path}`, { cause: err });
  }
  if ((mode & 0o077) !== 0) {
    throw new LicenseError(
      "FILE_INSECURE",
      `${label}: ${path} has mode ${(mode & 0o777).toString(8)}; run chmod 600 ${path} (or 400) so only its owner can read it`,
    );
  }
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `${label}: cannot read ${path}`, { cause: err });
  }
}
