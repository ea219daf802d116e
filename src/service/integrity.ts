/**
 * Checking what the database holds (`dtlicense keys verify-db`, run by
 * deploy/scripts/restore.sh after a restore): every stored blob, current and
 * earlier, verifies under the key ring, and the fields stored beside it are
 * the ones it signs.
 */
import { isLicenseError } from "../core/errors.js";
import { verifyBlob } from "../core/format.js";
import { PAYLOAD_FIELDS } from "../core/license.js";
import { scanBlobs } from "../store/licenses.js";
import type { ServiceContext } from "./context.js";

/** A stored blob that does not check out. */
export interface BlobProblem {
  /** The license key, with " (an earlier blob)" for an earlier blob of the key. */
  readonly license_key: string;
  readonly code: string;
  readonly message: string;
}

export interface IntegrityReport {
  readonly ok: boolean;
  readonly total: number;
  /** Blobs by the key id that signed them (those that verify). */
  readonly by_kid: Record<string, number>;
  /** The key ids of the ring checked against. */
  readonly ring: string[];
  readonly problems: BlobProblem[];
}

/**
 * Verifies every stored blob against the context's ring and compares it with
 * its row (RECORD_MISMATCH when they differ).
 *
 * @example
 * ```ts
 * const report = await verifyStoredBlobs(ctx);
 * if (!report.ok) for (const p of report.problems) console.error(p.license_key, p.code);
 * ```
 */
export async function verifyStoredBlobs(ctx: ServiceContext): Promise<IntegrityReport> {
  const problems: BlobProblem[] = [];
  const byKid: Record<string, number> = {};
  let total = 0;
  await scanBlobs(ctx.db, (page) => {
    for (const stored of page) {
      total++;
      const label = stored.earlier ? `${stored.license_key} (an earlier blob)` : stored.license_key;
      try {
        const { payload } = verifyBlob(stored.blob, ctx.ring);
        const differs = PAYLOAD_FIELDS.filter((f) => stored[f] !== payload[f]);
        if (differs.length > 0) {
          problems.push({
            license_key: label,
            code: "RECORD_MISMATCH",
            message: `the row's ${differs.join(", ")} differ from the blob's signed payload`,
          });
        }
        byKid[payload.kid] = (byKid[payload.kid] ?? 0) + 1;
      } catch (err) {
        if (!isLicenseError(err)) throw err;
        problems.push({ license_key: label, code: err.code, message: err.message });
      }
    }
  });
  return {
    ok: problems.length === 0,
    total,
    by_kid: byKid,
    ring: ctx.ring.keys().map((k) => k.kid),
    problems,
  };
}
