/** Minting a license and recording it in the issuance log, as one step. */
import { mintLicense, type MintInput, type MintedLicense } from "../core/mint.js";
import type { Signer } from "../core/keys.js";
import { pick, type IssuanceLog, type IssuanceRecord } from "./log.js";

// The key rule belongs to the log, which applies it under its lock; kept importable from here.
export { assertKeyFree } from "./log.js";

/** The log line for a minted license. */
export function toRecord({ payload, blob }: MintedLicense): IssuanceRecord {
  return pick({ ...payload, blob });
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
    // The log refuses a key it holds for another buyer.
    await log.append(toRecord(minted));
  }
  return minted;
}
