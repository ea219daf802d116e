/** Minting a license and recording it in the issuance log, as one step. */
import { LicenseError } from "../core/errors.js";
import { sameIdentity } from "../core/license.js";
import { mintLicense, type MintInput, type MintedLicense } from "../core/mint.js";
import type { Signer } from "../core/keys.js";
import type { IssuanceLog, IssuanceRecord, LogContents } from "./log.js";

/** The log line for a minted license. */
export function toRecord({ payload, blob }: MintedLicense): IssuanceRecord {
  return {
    license_key: payload.license_key,
    name: payload.name,
    email: payload.email,
    tier: payload.tier,
    issued_at: payload.issued_at,
    expires_at: payload.expires_at,
    blob,
  };
}

/** Throws LICENSE_KEY_TAKEN when the log holds `record`'s key for another buyer. */
export function assertKeyFree(current: LogContents, record: IssuanceRecord): void {
  const other = current.records.find(
    (r) => r.license_key === record.license_key && !sameIdentity(r.email, record.email),
  );
  if (other) {
    throw new LicenseError(
      "LICENSE_KEY_TAKEN",
      `license key ${record.license_key} was already issued to another buyer (log line ${other.line}); choose another --key`,
    );
  }
}

/**
 * Mints a license and, unless `log` is undefined, appends it to the issuance
 * log before returning, so a blob the caller shows is always on disk first.
 *
 * @example
 * ```ts
 * const minted = await issueLicense({ name, email, tier: "core" }, signer, new Date(), log);
 * process.stdout.write(minted.blob + "\n");
 * ```
 */
export async function issueLicense(
  input: MintInput,
  signer: Signer,
  now: Date,
  log: IssuanceLog | undefined,
): Promise<MintedLicense> {
  const minted = mintLicense(input, signer, now);
  if (log) {
    const record = toRecord(minted);
    await log.append(record, (current) => assertKeyFree(current, record));
  }
  return minted;
}
