/** Reading secrets from files, refusing files that others can read (as ssh does). */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { LicenseError } from "../core/errors.js";

/**
 * Reads a secret file and returns its text, trimmed. Refuses a file whose
 * mode lets its group or others read it; `label` names the setting that
 * pointed at the file so the error can say which. The mode is checked on the open descriptor, so the file checked
 * is the file read even if the path is swapped meanwhile.
 */
export function readSecretFile(path: string, label: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `${label}: cannot read ${path}`, { cause: err });
  }
  try {
    const stat = fstatSync(fd);
    if ((stat.mode & 0o077) !== 0) {
      throw new LicenseError(
        "FILE_INSECURE",
        `${label}: ${path} has mode ${(stat.mode & 0o777).toString(8)}; run chmod 600 ${path} (or 400) so only its owner can read it`,
      );
    }
    return readFileSync(fd, "utf8").trim();
  } catch (err) {
    if (err instanceof LicenseError) throw err;
    throw new LicenseError("FILE_UNREADABLE", `${label}: cannot read ${path}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}
