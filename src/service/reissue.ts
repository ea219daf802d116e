/**
 * Re-issuing after a key loss (docs/ADMIN.md, "Recovery"): every active
 * license is signed again under the current key, keeping buyer, tier and
 * expiry, and the list to send to buyers is made. From the server's database
 * each gets a new license key that supersedes the old one; from an issuance
 * log the key is kept and the new record appended.
 */
import { LicenseError } from "../core/errors.js";
import { encodeBlob, unverifiedKid } from "../core/format.js";
import type { Signer } from "../core/keys.js";
import {
  formatTime,
  generateLicenseKey,
  type LicensePayload,
  type SignedFields,
} from "../core/license.js";
import { IssuanceLog, assertKeyFree } from "../issuer/log.js";
import {
  getLicense,
  insertLicense,
  isReissuable,
  markSuperseded,
  reissueCandidates,
  type Actor,
} from "../store/licenses.js";
import type { ServiceContext } from "./context.js";
import { requireSigner, withKeyRetry } from "./licenses.js";

/** One line of the list sent to buyers. */
export interface ReissuedLicense {
  readonly email: string;
  readonly name: string;
  readonly tier: string;
  readonly expires_at: string;
  readonly old_license_key: string;
  readonly license_key: string;
  readonly kid: string;
  readonly blob: string;
}

/** The list's columns, in order. */
export const BUYER_LIST_COLUMNS = [
  "email",
  "name",
  "tier",
  "expires_at",
  "old_license_key",
  "license_key",
  "kid",
  "blob",
] as const satisfies readonly (keyof ReissuedLicense)[];

/** What a re-issue did (or, with `dryRun`, would do). */
export interface ReissueResult {
  readonly list: ReissuedLicense[];
  /** Active licenses already signed by the current key. */
  readonly skipped: number;
  /** The license keys that are (or would be) re-issued. */
  readonly candidates: string[];
  readonly kid: string;
}

/** The payload a re-issued license carries: same buyer, tier and expiry, the current key. */
function reissuedPayload(
  old: Pick<SignedFields, "name" | "email" | "tier" | "expires_at">,
  licenseKey: string,
  signer: Signer,
  now: Date,
): LicensePayload {
  return {
    v: 2,
    kid: signer.kid,
    license_key: licenseKey,
    name: old.name,
    email: old.email,
    tier: old.tier,
    issued_at: formatTime(now),
    expires_at: old.expires_at,
  };
}

/**
 * Re-issues every active, not superseded license signed by another key than
 * the current one, each under a new license key in its own transaction
 * (re-checked under its row lock, so a license revoked or renewed meanwhile is
 * left alone). Running it again re-issues nothing.
 */
export async function reissueFromDatabase(
  ctx: ServiceContext,
  who: Actor,
  options: { dryRun?: boolean } = {},
): Promise<ReissueResult> {
  const signer = requireSigner(ctx);
  const now = ctx.now();
  const { candidates, onKey } = await reissueCandidates(ctx.db, signer.kid, now);
  const list: ReissuedLicense[] = [];
  if (options.dryRun) return { list, skipped: onKey, candidates, kid: signer.kid };
  for (const key of candidates) {
    const done = await withKeyRetry(
      true,
      () => key,
      () =>
        ctx.db.transaction(async (tx) => {
          const before = await getLicense(tx, key, true);
          if (!before || !isReissuable(before, now)) return undefined;
          const payload = reissuedPayload(before, generateLicenseKey(before.tier), signer, now);
          const blob = encodeBlob(payload, signer);
          const created = await insertLicense(
            tx,
            { ...payload, blob, source: "api", supersedes: key, seats: before.seats },
            who,
            now,
            "reissue",
          );
          await markSuperseded(tx, before, created.license_key, who, now);
          return {
            email: created.email,
            name: created.name,
            tier: created.tier,
            expires_at: created.expires_at,
            old_license_key: key,
            license_key: created.license_key,
            kid: created.kid,
            blob: created.blob,
          };
        }),
    );
    if (done) list.push(done);
  }
  ctx.events.licensesWritten("reissue", list.length);
  return { list, skipped: onKey, candidates, kid: signer.kid };
}

/**
 * Re-issues from an issuance log: the last line of each license key is its
 * current record; those not expired and not signed by the current key are
 * signed again under the same key and appended to the log (a re-mint of the
 * same buyer, which `import` keeps beside the earlier blob).
 */
export async function reissueFromLog(
  path: string,
  signer: Signer,
  now: Date,
  options: { dryRun?: boolean; onProblem?: (line: number, reason: string) => void } = {},
): Promise<ReissueResult> {
  const log = new IssuanceLog(path);
  if (!log.exists()) throw new LicenseError("LOG_NOT_FOUND", `no issuance log at ${path}`);
  const { records, problems } = log.read();
  for (const p of problems) options.onProblem?.(p.line, p.reason);
  const latest = new Map<string, (typeof records)[number]>();
  for (const r of records) latest.set(r.license_key, r);
  const list: ReissuedLicense[] = [];
  const candidates: string[] = [];
  let skipped = 0;
  for (const r of latest.values()) {
    if (r.expires_at <= formatTime(now)) continue;
    if (unverifiedKid(r.blob) === signer.kid) {
      skipped++;
      continue;
    }
    candidates.push(r.license_key);
    if (options.dryRun) continue;
    const payload = reissuedPayload(r, r.license_key, signer, now);
    const blob = encodeBlob(payload, signer);
    await log.append({ ...payload, blob }, (current) => assertKeyFree(current, { ...r, blob }));
    list.push({
      email: r.email,
      name: r.name,
      tier: r.tier,
      expires_at: r.expires_at,
      old_license_key: r.license_key,
      license_key: r.license_key,
      kid: signer.kid,
      blob,
    });
  }
  return { list, skipped, candidates, kid: signer.kid };
}

// A spreadsheet opening the list treats a cell that starts with one of these as a formula
// (=HYPERLINK(…) in a buyer's name would run when the list is opened). As OWASP advises, such a
// field gets a leading ', which makes it text; the blob, key and kid columns never start so.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field: quoted, and neutralised when a spreadsheet would read it as a formula. */
function csvField(value: string): string {
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return `"${text.replace(/"/g, '""')}"`;
}

/**
 * The buyer list as CSV (header first, CRLF rows, every field quoted, a field that starts with
 * = + - @ tab or CR prefixed with ' so no spreadsheet runs it) or JSON (values as they are).
 *
 * @example
 * ```ts
 * writeFileAtomic("buyers.csv", renderBuyerList(result.list, "csv"), { mode: 0o600 });
 * ```
 */
export function renderBuyerList(list: readonly ReissuedLicense[], format: "csv" | "json"): string {
  if (format === "json") return JSON.stringify(list, null, 2) + "\n";
  const cols = BUYER_LIST_COLUMNS;
  return [cols.join(","), ...list.map((r) => cols.map((c) => csvField(r[c])).join(","))]
    .map((l) => l + "\r\n")
    .join("");
}
