/**
 * Importing issuance-log records (docs/ADMIN.md's JSONL) into the server: the
 * one workflow behind `dtlicense import FILE`, `POST /v1/licenses/import` and
 * `import --url`. Every blob's signature is verified against the key ring and
 * every record's fields must equal its signed payload; rows go in batches that
 * skip keys already stored, so a second run adds nothing and reports what was
 * already there. A record whose key is stored (or appears earlier in the
 * input) with another blob of the same buyer is a re-mint under the same key:
 * it is kept too (see {@link addBlob}).
 *
 * The import carries the issuance log's chain over: each event an import
 * writes names the log line its license came from (`log_line`, the line's
 * SHA-256 as {@link recordLineHash} gives it), and the events are appended to
 * the server's own chain in the log's order.
 */
import { LicenseError, isLicenseError, type ErrorCode } from "../core/errors.js";
import { verifyBlob } from "../core/format.js";
import type { KeyRing } from "../core/keys.js";
import {
  normalizeIdentity,
  RECORD_FIELDS,
  signedFields,
  type LicensePayload,
} from "../core/license.js";
import { parseLog, readRecord, recordLineHash, type ChainedRecord } from "../issuer/log.js";
import {
  findEarlierBlob,
  getLicense,
  getLicenses,
  insertEvent,
  insertLicenseKeys,
  insertLicenses,
  keepEarlierBlob,
  updateLicense,
  type Actor,
  type NewLicense,
} from "../store/licenses.js";
import type { ServiceContext } from "./context.js";

/** A record that was not imported, and why; `line` is the log's line (or the record's 1-based position). */
export interface Rejection {
  readonly line: number;
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface ImportSummary {
  imported: number;
  already_present: number;
  /** Every record not imported, by line: unreadable ones and refused ones alike. */
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
  /** Told the outcome of each record that was not rejected (for a per-line report). */
  readonly onRecord?: (line: number, outcome: RecordOutcome, licenseKey: string) => void;
}

/** What became of a record that was not rejected. */
export type RecordOutcome = "imported" | "already_present";

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

/** A record with where it came from. */
type Numbered = ChainedRecord & { readonly line: number };
/** A verified record: the license, its line, and the hash of that line (the events' log_line). */
type Checked = NewLicense & { readonly line: number; readonly logLine: string };

/** Checks a record's fields against its verified payload (RECORD_MISMATCH when they differ). */
function matchRecord(record: ChainedRecord, payload: LicensePayload, blob: string): NewLicense {
  for (const f of RECORD_FIELDS) {
    if (record[f] !== payload[f]) {
      throw new LicenseError(
        "RECORD_MISMATCH",
        `field ${f} is ${JSON.stringify(record[f]).slice(0, 80)} but the signed blob says ${JSON.stringify(payload[f]).slice(0, 80)}`,
      );
    }
  }
  return { ...signedFields(payload), blob, source: "import" };
}

/**
 * Imports the text of an issuance log: unreadable lines are reported with
 * their line numbers (REQUEST_INVALID), the rest imported.
 *
 * @example
 * ```ts
 * const summary = await importLog(ctx, readFileSync(path, "utf8"), { actor: "import" });
 * ```
 */
export function importLog(
  ctx: ServiceContext,
  text: string,
  who: Actor,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const { records, problems } = parseLog(text);
  return importChecked(ctx, records, problems, who, options);
}

/**
 * Imports records as parsed JSON values (the API's `records`); a record's
 * `line` in the summary is its 1-based position.
 */
export function importValues(
  ctx: ServiceContext,
  values: readonly unknown[],
  who: Actor,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const records: Numbered[] = [];
  const problems: { line: number; reason: string }[] = [];
  values.forEach((value, i) => {
    const r = readRecord(value);
    if ("problem" in r) problems.push({ line: i + 1, reason: r.problem });
    else records.push({ ...r, line: i + 1 });
  });
  return importChecked(ctx, records, problems, who, options);
}

async function importChecked(
  ctx: ServiceContext,
  records: readonly Numbered[],
  problems: readonly { line: number; reason: string }[],
  who: Actor,
  options: ImportOptions,
): Promise<ImportSummary> {
  const summary = await importRecords(ctx, records, who, options);
  summary.rejected = withUnreadable(problems, summary.rejected);
  ctx.events.licensesWritten("import", summary.imported);
  return summary;
}

/**
 * The rejections of an import with its unreadable records (REQUEST_INVALID)
 * among them, by line: what every import reports, here or through the API.
 */
export function withUnreadable(
  problems: readonly { line: number; reason: string }[],
  rejected: readonly Rejection[],
): Rejection[] {
  return [
    ...problems.map((p) => ({ line: p.line, code: "REQUEST_INVALID" as const, reason: p.reason })),
    ...rejected,
  ].sort((a, b) => a.line - b.line);
}

/**
 * Imports readable records. Verification runs up to `lookahead` batches in
 * front of the inserts, so the verifiers (worker threads) never wait on the
 * database and the database never waits on them.
 */
export async function importRecords(
  ctx: ServiceContext,
  records: readonly Numbered[],
  who: Actor,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const { db, ring } = ctx;
  const now = ctx.now();
  const size = options.batchSize ?? 2000;
  const summary: ImportSummary = { imported: 0, already_present: 0, rejected: [] };
  // The blobs seen so far in this input under each key: the same blob again is "already present".
  const seen = new Map<string, Set<string>>();
  // Rows whose key is already stored, or appears earlier in the input, with another blob.
  const later: Checked[] = [];

  const classify = (slice: readonly Numbered[], outcomes: readonly VerifyOutcome[]): Checked[] => {
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
      const checked = { ...row, line: record.line, logLine: recordLineHash(record) };
      const earlier = seen.get(row.license_key);
      if (earlier === undefined) {
        seen.set(row.license_key, new Set([row.blob]));
        out.push(checked);
      } else if (earlier.has(row.blob)) {
        summary.already_present++;
        options.onRecord?.(record.line, "already_present", row.license_key);
      } else {
        earlier.add(row.blob);
        later.push(checked);
      }
    });
    return out;
  };

  const insert = async (batch: readonly Checked[]) => {
    const inserted = await insertLicenseKeys(
      db,
      batch.map(({ line: _line, logLine, ...license }) => ({
        license,
        action: "import",
        who,
        at: now,
        logLine,
      })),
      "skip",
    );
    const stored = await getLicenses(
      db,
      batch.filter((r) => !inserted.has(r.license_key)).map((r) => r.license_key),
    );
    for (const row of batch) {
      const outcome: RecordOutcome | undefined = inserted.has(row.license_key)
        ? "imported"
        : stored.get(row.license_key)?.blob === row.blob
          ? "already_present"
          : undefined;
      if (outcome === undefined) {
        later.push(row);
        continue;
      }
      summary[outcome]++;
      options.onRecord?.(row.line, outcome, row.license_key);
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
  // One batch is inserted while the next is checked: the checks (this thread) and the
  // insert (the database) overlap, and the inserts still go in one at a time, in order.
  let inserting: Promise<void> = Promise.resolve();
  const done = (end: number) => () =>
    options.onProgress?.(Math.min(end, records.length), records.length);
  for (let start = 0; start < records.length; start += size) {
    const outcomes = await verifying.shift()!;
    queue();
    const batch = classify(slice(start), outcomes);
    await inserting;
    inserting = (batch.length > 0 ? insert(batch) : Promise.resolve()).then(done(start + size));
    // Swallowed here only until awaited, so a failure is not "unhandled" meanwhile.
    inserting.catch(() => undefined);
  }
  await inserting;
  // The rare rows that share a key with a stored license or an earlier line, in input
  // order: each in its own transaction under the license's row lock.
  later.sort((a, b) => a.line - b.line);
  for (const row of later) {
    try {
      const { line: _line, logLine, ...l } = row;
      const outcome = await addBlob(ctx, l, who, logLine);
      summary[outcome]++;
      options.onRecord?.(row.line, outcome, row.license_key);
    } catch (err) {
      if (!isLicenseError(err, "LICENSE_KEY_TAKEN")) throw err;
      summary.rejected.push({ line: row.line, code: err.code, reason: err.message });
    }
  }
  summary.rejected.sort((a, b) => a.line - b.line);
  return summary;
}

/** Which of two blobs of one key is the later: by issue time, then expiry, then text (for a stable answer). */
function isLater(
  a: NewLicense,
  b: NewLicense | { issued_at: string; expires_at: string; blob: string },
) {
  if (a.issued_at !== b.issued_at) return a.issued_at > b.issued_at;
  if (a.expires_at !== b.expires_at) return a.expires_at > b.expires_at;
  return a.blob > b.blob;
}

/**
 * Records a genuine blob under a license key the store may already hold: a vendor
 * re-mints a buyer with the same key to renew them (docs/ADMIN.md). A key not yet
 * stored is inserted as a new license (action `import`). Under a stored key, for the
 * same buyer (e-mail compared case-insensitively):
 * - the blob already held (current or earlier) → `already_present`, nothing written;
 * - a later blob (issue time, then expiry) becomes the current one, the previous
 *   current blob is kept as an earlier blob, and an `import-renewal` event is written;
 * - an earlier blob is kept beside the current one (`import-earlier` event).
 * The license's status (revoked, suspended) applies to every blob of the key.
 * Another buyer's key is refused with LICENSE_KEY_TAKEN, writing nothing.
 * `logLine`, the hash of the log line the blob came from, goes on the event.
 */
export async function addBlob(
  ctx: ServiceContext,
  l: NewLicense,
  who: Actor,
  logLine?: string,
): Promise<"imported" | "already_present"> {
  const now = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const current = await getLicense(tx, l.license_key, true);
    if (!current) {
      await insertLicenses(tx, [{ license: l, action: "import", who, at: now, logLine }]);
      return "imported";
    }
    if (current.blob === l.blob || (await findEarlierBlob(tx, l.license_key, l.blob))) {
      return "already_present";
    }
    if (normalizeIdentity(current.email) !== normalizeIdentity(l.email)) {
      throw new LicenseError(
        "LICENSE_KEY_TAKEN",
        `license key ${l.license_key} is stored for another buyer`,
      );
    }
    if (!isLater(l, current)) {
      await keepEarlierBlob(tx, l, now);
      await insertEvent(
        tx,
        l.license_key,
        {
          action: "import-earlier",
          who,
          at: now,
          reason: `an earlier blob of this key (issued ${l.issued_at}, expires ${l.expires_at}) was recorded`,
          logLine,
        },
        current,
        current,
      );
      return "imported";
    }
    await keepEarlierBlob(tx, current, now);
    await updateLicense(
      tx,
      current,
      { ...signedFields(l), blob: l.blob },
      {
        action: "import-renewal",
        who,
        at: now,
        reason: `a later blob of this key (issued ${l.issued_at}) replaced the one issued ${current.issued_at}`,
        logLine,
      },
    );
    return "imported";
  });
}
