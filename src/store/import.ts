/**
 * Importing the issuance log (ADMIN.md's JSONL) into the licenses table:
 * every blob's signature is verified against the key ring and every line's
 * fields must equal the signed payload's; rows go in batches with ON CONFLICT
 * DO NOTHING, so a second run adds nothing and reports what was already there.
 * A line whose key is already stored (or appears earlier in the input) with another
 * blob is a re-mint of that buyer under the same key: it is kept too (addBlob).
 */
import { LicenseError, isLicenseError, type ErrorCode } from "../core/errors.js";
import type { LicensePayload } from "../core/license.js";
import { verifyBlob } from "../core/format.js";
import type { KeyRing } from "../core/keys.js";
import { normalizeIdentity } from "../core/license.js";
import type { LoggedRecord } from "../issuer/log.js";
import type { Database } from "./db.js";
import { addBlob, type Actor, type NewLicense } from "./licenses.js";

/** A line that was not imported, and why. */
export interface Rejection {
  readonly line: number;
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface ImportSummary {
  imported: number;
  already_present: number;
  rejected: Rejection[];
}

/** One blob's verification: its payload, or why it failed. */
export type VerifyOutcome =
  | { readonly ok: true; readonly blob: string; readonly payload: LicensePayload }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

export interface ImportOptions {
  readonly batchSize?: number;
  /** Called after each batch with the number of records handled so far. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Verifies a batch of blobs (e.g. a worker pool, see verify-pool.ts). Default:
   * in this thread, overlapping the database's work on the previous batch.
   */
  readonly verify?: (blobs: readonly string[]) => Promise<VerifyOutcome[]>;
  /**
   * How many batches `verify` may be working on ahead of the inserts (default
   * 1). More keep parallel verifiers busy while a batch is being inserted.
   */
  readonly lookahead?: number;
}

const FIELDS = ["license_key", "name", "email", "tier", "issued_at", "expires_at"] as const;

/** Verifies blobs in this thread. */
export function verifyInThread(ring: KeyRing, blobs: readonly string[]): VerifyOutcome[] {
  return blobs.map((text) => {
    try {
      const { blob, payload } = verifyBlob(text, ring);
      return { ok: true, blob, payload };
    } catch (err) {
      if (!isLicenseError(err)) throw err;
      return { ok: false, code: err.code, message: err.message };
    }
  });
}

/** Checks a line's fields against its verified payload (RECORD_MISMATCH when they differ). */
function matchRecord(record: LoggedRecord, payload: LicensePayload, blob: string): NewLicense {
  for (const f of FIELDS) {
    if (record[f] !== payload[f]) {
      throw new LicenseError(
        "RECORD_MISMATCH",
        `field ${f} is ${JSON.stringify(record[f]).slice(0, 80)} but the signed blob says ${JSON.stringify(payload[f]).slice(0, 80)}`,
      );
    }
  }
  const { v: _v, ...fields } = payload;
  return { ...fields, blob, source: "import" };
}

type Checked = NewLicense & { readonly line: number };

async function insertBatch(
  db: Database,
  batch: readonly Checked[],
  who: Actor,
  now: Date,
): Promise<{ inserted: Set<string>; existing: Map<string, string> }> {
  const col = <K extends keyof Checked>(k: K) => batch.map((r) => r[k]);
  const at = now.toISOString();
  const { rows } = await db.query<{ license_key: string }>(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::text[], $7::text[], $8::text[], $9::text[])
         AS t(license_key, name, email, email_norm, tier, issued_at, expires_at, kid, blob)),
     ins AS (
       INSERT INTO licenses (license_key, name, email, email_norm, tier, issued_at, expires_at,
         kid, blob, source, created_at, updated_at)
       SELECT license_key, name, email, email_norm, tier, issued_at::timestamptz,
         expires_at::timestamptz, kid, blob, 'import', $10::timestamptz, $10::timestamptz
       FROM input
       ON CONFLICT (license_key) DO NOTHING
       RETURNING license_key, tier, expires_at),
     ev AS (
       INSERT INTO events (license_key, action, actor, request_id, before, after, at)
       SELECT license_key, 'import', $11, $12, NULL,
         jsonb_build_object('status', 'active', 'tier', tier, 'expires_at',
           to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
         $10::timestamptz
       FROM ins)
     SELECT license_key FROM ins`,
    [
      col("license_key"),
      col("name"),
      col("email"),
      batch.map((r) => normalizeIdentity(r.email)),
      col("tier"),
      col("issued_at"),
      col("expires_at"),
      col("kid"),
      col("blob"),
      at,
      who.actor,
      who.requestId ?? null,
    ],
  );
  const inserted = new Set(rows.map((r) => r.license_key));
  const missing = batch.filter((r) => !inserted.has(r.license_key)).map((r) => r.license_key);
  const existing = new Map<string, string>();
  if (missing.length > 0) {
    const found = await db.query<{ license_key: string; blob: string }>(
      "SELECT license_key, blob FROM licenses WHERE license_key = ANY($1::text[])",
      [missing],
    );
    for (const r of found.rows) existing.set(r.license_key, r.blob);
  }
  return { inserted, existing };
}

/**
 * Imports parsed log records. Verification of the next batch overlaps the
 * database's work on the current one.
 *
 * @example
 * ```ts
 * const { records, problems } = parseLog(text);
 * const summary = await importRecords(db, records, ring, { actor: "import" }, new Date());
 * ```
 */
export async function importRecords(
  db: Database,
  records: readonly LoggedRecord[],
  ring: KeyRing,
  who: Actor,
  now: Date,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const size = options.batchSize ?? 2000;
  const summary: ImportSummary = { imported: 0, already_present: 0, rejected: [] };
  // The blobs seen so far in this input under each key: the same blob again is "already present".
  const seen = new Map<string, Set<string>>();
  // Rows whose key is already stored, or appears earlier in the input, with another blob.
  const later: Checked[] = [];

  const classify = (
    slice: readonly LoggedRecord[],
    outcomes: readonly VerifyOutcome[],
  ): Checked[] => {
    const out: Checked[] = [];
    slice.forEach((record, i) => {
      const v = outcomes[i]!;
      if (!v.ok) {
        summary.rejected.push({ line: record.line, code: v.code, reason: v.message });
        return;
      }
      let row: NewLicense;
      try {
        row = matchRecord(record, v.payload, v.blob);
      } catch (err) {
        if (!isLicenseError(err)) throw err;
        summary.rejected.push({ line: record.line, code: err.code, reason: err.message });
        return;
      }
      const earlier = seen.get(row.license_key);
      if (earlier === undefined) {
        seen.set(row.license_key, new Set([row.blob]));
        out.push({ ...row, line: record.line });
      } else if (earlier.has(row.blob)) {
        summary.already_present++;
      } else {
        // Another blob under a key seen earlier in this input: a re-mint of the same
        // buyer (or another buyer's key), settled one by one after the batches.
        earlier.add(row.blob);
        later.push({ ...row, line: record.line });
      }
    });
    return out;
  };

  const settle = (batch: readonly Checked[], r: Awaited<ReturnType<typeof insertBatch>>) => {
    for (const row of batch) {
      if (r.inserted.has(row.license_key)) summary.imported++;
      else if (r.existing.get(row.license_key) === row.blob) summary.already_present++;
      else later.push(row);
    }
  };

  // setImmediate lets the previous batch's INSERT go out before this thread turns to signatures.
  const verify =
    options.verify ??
    ((blobs: readonly string[]) =>
      new Promise<VerifyOutcome[]>((done, fail) =>
        setImmediate(() => {
          try {
            done(verifyInThread(ring, blobs));
          } catch (err) {
            fail(err as Error);
          }
        }),
      ));
  const slice = (start: number) => records.slice(start, start + size);
  // Verification runs up to `ahead` batches in front of the inserts, so the
  // verifiers (worker threads) never wait on the database and the database
  // never waits on them; the inserts go one batch at a time, in order.
  const ahead = Math.max(1, options.lookahead ?? 1);
  const verifying: Promise<VerifyOutcome[]>[] = [];
  let queued = 0;
  const queue = () => {
    while (queued < records.length && verifying.length < ahead) {
      const p = verify(slice(queued).map((r) => r.blob));
      // Swallowed here only until awaited below, so a failure is not "unhandled" meanwhile.
      p.catch(() => undefined);
      verifying.push(p);
      queued += size;
    }
  };
  queue();
  for (let start = 0; start < records.length; start += size) {
    const outcomes = await verifying.shift()!;
    queue();
    const batch = classify(slice(start), outcomes);
    if (batch.length > 0) settle(batch, await insertBatch(db, batch, who, now));
    options.onProgress?.(Math.min(start + size, records.length), records.length);
  }
  // The rare rows that share a key with a stored license or an earlier line, in input
  // order: each in its own transaction under the license's row lock (see addBlob).
  for (const row of later) {
    try {
      const { line: _line, ...l } = row;
      summary[await addBlob(db, l, who, now)]++;
    } catch (err) {
      if (!isLicenseError(err, "LICENSE_KEY_TAKEN")) throw err;
      summary.rejected.push({ line: row.line, code: err.code, reason: err.message });
    }
  }
  summary.rejected.sort((a, b) => a.line - b.line);
  return summary;
}
