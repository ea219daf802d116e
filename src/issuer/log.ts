/**
 * The issuance log: the creator's ledger of every license minted, one JSON
 * line per license in `~/.datatools-creator/issued.jsonl`. Appends are locked
 * (so concurrent mints never interleave or lose a line, and a key goes to one
 * buyer), written with one write call and fsynced before the caller shows the
 * blob. Readers report a line they cannot parse, with its number, instead of
 * failing or dropping it.
 *
 * Each line also carries `prev`, the SHA-256 of the line before it, so an
 * edited, deleted, reordered or inserted line breaks the chain
 * ({@link verifyLogChain}); lines written before the chain have no `prev` and
 * the chain continues from the last of them.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { LicenseError } from "../core/errors.js";
import { isTier } from "../core/catalogue.js";
import { parseTime, RECORD_FIELDS, sameIdentity, type SignedFields } from "../core/license.js";
import { ensurePrivateDir, fsyncDir } from "../config/fs-safe.js";
import { acquireLock, describeHolder } from "../config/lock.js";

/** One line of the log, exactly the fields ADMIN.md names. */
export type IssuanceRecord = {
  -readonly [K in (typeof RECORD_FIELDS)[number]]: SignedFields[K];
} & { blob: string };

/** A line's fields, in the order a line writes them (docs/ADMIN.md). */
export const LINE_FIELDS = [...RECORD_FIELDS, "blob"] as const;

/** A line as read: the record and, on a line written since the chain began, its link. */
export type ChainedRecord = IssuanceRecord & {
  /** The SHA-256 (lower-case hex) of the record line before this one, or {@link LOG_GENESIS}. */
  readonly prev?: string;
};

/** A record with the line it was read from (1-based), and its link when it has one. */
export interface LoggedRecord extends IssuanceRecord {
  readonly line: number;
  /** As in {@link ChainedRecord}. */
  readonly prev?: string;
}

/** A line that could not be read as a record. */
export interface LogProblem {
  readonly line: number;
  readonly reason: string;
  /** True for an unterminated last line: a write that was cut off. */
  readonly torn: boolean;
}

export interface LogContents {
  readonly records: LoggedRecord[];
  readonly problems: LogProblem[];
}

/** The variable that moves the log. */
export const LOG_PATH_VAR = "DATATOOLS_ISSUANCE_LOG";

/** The log's path: `$DATATOOLS_ISSUANCE_LOG`, else `~/.datatools-creator/issued.jsonl`. */
export function issuanceLogPath(env: Readonly<Record<string, string | undefined>>, home: string) {
  const override = env[LOG_PATH_VAR];
  return override && override !== "" ? override : join(home, ".datatools-creator", "issued.jsonl");
}

/**
 * Checks one parsed line (or one record sent to the server's import): the
 * record with exactly the log's fields (and its `prev` when it has one), or
 * the reason it is not one.
 */
export function readRecord(value: unknown): ChainedRecord | { readonly problem: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: "not a JSON object" };
  }
  const r = value as Record<string, unknown>;
  for (const f of LINE_FIELDS) {
    if (typeof r[f] !== "string" || r[f] === "") {
      return { problem: `field ${f} is missing or not text` };
    }
  }
  if (!isTier(r.tier)) return { problem: `tier "${String(r.tier)}" is not lite, core or pro` };
  if (!parseTime(r.issued_at as string) || !parseTime(r.expires_at as string)) {
    return { problem: "issued_at or expires_at is not an RFC 3339 UTC time" };
  }
  if (r.prev !== undefined && typeof r.prev !== "string") {
    return { problem: "field prev is not text" };
  }
  const record = pick(r as unknown as IssuanceRecord);
  return r.prev === undefined ? record : { ...record, prev: r.prev };
}

/** Exactly the log's fields of `r`, in the log's order. */
export function pick(r: IssuanceRecord): IssuanceRecord {
  return Object.fromEntries(LINE_FIELDS.map((f) => [f, r[f]])) as unknown as IssuanceRecord;
}

/** The `prev` of the first line of a log begun with the chain: 64 zeros. */
export const LOG_GENESIS = "0".repeat(64);

/** The SHA-256 of a line's bytes (without its newline), lower-case hex: the next line's `prev`. */
export function lineHash(line: string | Uint8Array): string {
  return createHash("sha256").update(line).digest("hex");
}

/** The line this code writes for `record` after the line hashing to `prev` (no newline). */
function formatLine(record: IssuanceRecord, prev: string): string {
  return JSON.stringify({ ...pick(record), prev });
}

/**
 * The hash of a record's line as this code writes it: the seven fields in the
 * log's order, then `prev` when the record has one. For every line dtlicense
 * wrote that is the line's own hash; the server's import records it with each
 * imported license (`log_line`), so the events and the log can be compared.
 */
export function recordLineHash(r: ChainedRecord): string {
  return lineHash(JSON.stringify(r.prev === undefined ? pick(r) : { ...pick(r), prev: r.prev }));
}

/** One line read: its record, or why it is not one. */
function readLine(raw: string, line: number, torn: boolean): LoggedRecord | LogProblem {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { line, torn, reason: torn ? "torn last line (a write was cut off)" : "not valid JSON" };
  }
  const record = readRecord(value);
  if ("problem" in record) return { line, torn, reason: record.problem };
  return { line, ...record };
}

/**
 * Parses the text of a log. Blank lines are skipped; every other line is a
 * record or a problem.
 */
export function parseLog(text: string): LogContents {
  const records: LoggedRecord[] = [];
  const problems: LogProblem[] = [];
  const lines = text.split("\n");
  const unterminated = !text.endsWith("\n");
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    const read = readLine(line, i + 1, unterminated && i === lines.length - 1);
    if ("reason" in read) problems.push(read);
    else records.push(read);
  });
  return { records, problems };
}

/** A line of a log's bytes: 1-based number, exact bytes without the newline, and whether it ends one. */
interface RawLine {
  readonly line: number;
  readonly bytes: Buffer;
  readonly terminated: boolean;
}

function* rawLines(data: Buffer): Generator<RawLine> {
  let start = 0;
  for (let n = 1; start < data.length; n++) {
    const end = data.indexOf(0x0a, start);
    if (end < 0) {
      yield { line: n, bytes: data.subarray(start), terminated: false };
      return;
    }
    yield { line: n, bytes: data.subarray(start, end), terminated: true };
    start = end + 1;
  }
}

/** A raw line read as parseLog reads it; undefined for a blank line. */
function readRaw(raw: RawLine): LoggedRecord | LogProblem | undefined {
  const text = raw.bytes.toString("utf8").replace(/\r$/, "");
  if (text.trim() === "") return undefined;
  return readLine(text, raw.line, !raw.terminated);
}

/**
 * Where the chain of a log's bytes ends: the hash of its last record line and
 * that line's number ({@link LOG_GENESIS} and 0 when it holds no record). A
 * torn or unreadable line is not part of the chain: the next line chains to
 * the last record before it, so the fragment a cut-off write left can be
 * removed by hand without breaking the chain.
 */
function logHead(data: Buffer): { readonly hash: string; readonly line: number } {
  // From the end: only the last record line (usually the last line) needs parsing.
  const lines = [...rawLines(data)];
  for (let i = lines.length - 1; i >= 0; i--) {
    const raw = lines[i]!;
    const read = readRaw(raw);
    if (read && !("reason" in read)) return { hash: lineHash(raw.bytes), line: raw.line };
  }
  return { hash: LOG_GENESIS, line: 0 };
}

/** The first link of a log's chain that does not hold. */
export interface LogBreak {
  /** The line whose `prev` does not hold (or that has none where it must). */
  readonly line: number;
  readonly reason: string;
}

/** What {@link verifyLogChain} found. */
export interface LogChainReport {
  /** True when every link holds (and the expected head, if given, is in the log). */
  readonly ok: boolean;
  /** Record lines read. */
  readonly records: number;
  /** Record lines that carry `prev`. */
  readonly chained: number;
  /** Record lines written before the chain began (no `prev`), all before the first chained one. */
  readonly unchained: number;
  /** The hash of the last record line ({@link LOG_GENESIS} for a log without records). */
  readonly head: string;
  /** The number of the last record line (0 when there is none). */
  readonly head_line: number;
  /** The first broken link, or null. */
  readonly broken: LogBreak | null;
  /** Lines that are not records (reported, not part of the chain). */
  readonly unreadable: LogProblem[];
  /** With `expectHead`: the line that hashes to it, or null when no line does. */
  readonly expected_head?: { readonly hash: string; readonly line: number | null };
}

/**
 * Checks the hash chain of a log's bytes: every record line after the first
 * chained one must carry the hash of the record line before it (the first
 * record of a log begun with the chain: {@link LOG_GENESIS}); record lines
 * before the first chained one are from before the chain and accepted as they
 * are. Reports the first line where that fails. A chain cannot show that lines
 * were removed from its end: record the head it reports elsewhere and pass it
 * back as `expectHead`, which must then be the hash of a line of the log.
 *
 * @example
 * ```ts
 * const report = verifyLogChain(readFileSync(path));
 * if (!report.ok) console.error(`line ${report.broken?.line}: ${report.broken?.reason}`);
 * ```
 */
export function verifyLogChain(
  data: Buffer,
  options: { expectHead?: string } = {},
): LogChainReport {
  let records = 0;
  let chained = 0;
  let prev = { hash: LOG_GENESIS, line: 0 };
  let broken: LogBreak | null = null;
  let expectedLine: number | null = null;
  const unreadable: LogProblem[] = [];
  for (const raw of rawLines(data)) {
    const read = readRaw(raw);
    if (!read) continue;
    if ("reason" in read) {
      unreadable.push(read);
      continue;
    }
    records++;
    if (read.prev !== undefined) chained++;
    broken ??= brokenLink(read, prev, chained);
    const hash = lineHash(raw.bytes);
    if (hash === options.expectHead) expectedLine = raw.line;
    prev = { hash, line: raw.line };
  }
  const expected =
    options.expectHead === undefined
      ? {}
      : { expected_head: { hash: options.expectHead, line: expectedLine } };
  return {
    ok: broken === null && (options.expectHead === undefined || expectedLine !== null),
    records,
    chained,
    unchained: records - chained,
    head: prev.hash,
    head_line: prev.line,
    broken,
    unreadable,
    ...expected,
  };
}

/** Whether the link from the record line `before` to `r` holds; `chained`: lines with prev so far, r included. */
function brokenLink(
  r: LoggedRecord,
  before: { readonly hash: string; readonly line: number },
  chained: number,
): LogBreak | null {
  if (r.prev === undefined) {
    return chained === 0
      ? null
      : {
          line: r.line,
          reason: `line ${r.line} has no prev, but lines before it do: it was inserted, or its prev removed`,
        };
  }
  if (r.prev === before.hash) return null;
  return {
    line: r.line,
    reason:
      before.line === 0
        ? `line ${r.line} is the first record but its prev is not the ${LOG_GENESIS.slice(0, 8)}… a log starts with: ` +
          "lines before it were removed, or it was changed or moved"
        : `line ${r.line}'s prev is not the hash of line ${before.line}: one of them was changed, ` +
          `lines between them were removed, or line ${r.line} was inserted or moved`,
  };
}

/**
 * Throws LICENSE_KEY_TAKEN when the log holds `record`'s key for another
 * buyer (another e-mail); the same buyer may be re-minted under a key.
 */
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

/** How long an append waits for another process that holds the log's lock. */
export const LOG_LOCK_WAIT_MS = 10_000;

export interface IssuanceLogOptions {
  /** How long an append waits for another holder of the lock, in milliseconds. Default 10 s. */
  readonly lockWaitMs?: number;
}

/** The ledger at one path. */
export class IssuanceLog {
  readonly #lockWaitMs: number;

  constructor(
    readonly path: string,
    options: IssuanceLogOptions = {},
  ) {
    this.#lockWaitMs = options.lockWaitMs ?? LOG_LOCK_WAIT_MS;
  }

  /** Reads every record; a missing log reads as empty. */
  read(): LogContents {
    return parseLog(this.#bytes().toString("utf8"));
  }

  /** The log's bytes; a missing log is empty. */
  #bytes(): Buffer {
    try {
      return readFileSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
      throw new LicenseError("FILE_UNREADABLE", `cannot read the issuance log ${this.path}`, {
        cause: err,
      });
    }
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  /**
   * Appends one record under the log's lock (`<log>.lock`), refusing a
   * license key the log holds for another buyer (`LICENSE_KEY_TAKEN`).
   * `check` runs under the same lock with the current contents and may throw
   * to refuse the append. Waits for another process holding the lock, however
   * long it has been paused, and fails with `LOG_LOCKED` naming it after the
   * wait; takes over at once a lock whose process is gone. The line carries
   * `prev`, the hash of the log's last record line as it is right before the
   * write. Resolves once the line is fsynced.
   */
  async append(record: IssuanceRecord, check?: (current: LogContents) => void): Promise<void> {
    ensurePrivateDir(dirname(this.path));
    const lockPath = `${this.path}.lock`;
    const attempt = await acquireLock(lockPath, { waitMs: this.#lockWaitMs });
    if (!attempt.ok) {
      throw new LicenseError(
        "LOG_LOCKED",
        `the issuance log is locked by ${describeHolder(attempt.holder)}: ${lockPath}; ` +
          "wait for that mint to finish (if it is stopped, by Ctrl-Z or a sleeping laptop, resume it with fg or end it); " +
          "delete the lock file only when no such process runs",
      );
    }
    const { lock } = attempt;
    try {
      check?.(this.read());
      // Right before the append, whatever the check did meanwhile: the log as it is now
      // keeps the key rule and gives the chain's head, and a lock that is no longer ours
      // writes nothing.
      const data = this.#bytes();
      assertKeyFree(parseLog(data.toString("utf8")), record);
      const { hash: prev } = logHead(data);
      if (!lock.held()) {
        throw new LicenseError(
          "LOG_LOCKED",
          `the issuance log's lock ${lockPath} was taken over while this process held it; ` +
            "nothing was written: run the command again",
        );
      }
      appendLine(this.path, formatLine(record, prev));
    } finally {
      lock.release();
    }
  }
}

/**
 * Appends `line` and a newline in one write call, starting a fresh line when
 * a previous write was cut off, then fsyncs. One write call means a killed
 * process leaves the whole line or none of it.
 */
function appendLine(path: string, line: string): void {
  const created = !existsSync(path);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
  } catch (err) {
    throw new LicenseError(
      "FILE_UNWRITABLE",
      `cannot append to the issuance log ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    const size = fstatSync(fd).size;
    let prefix = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    const buf = Buffer.from(`${prefix}${line}\n`, "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    // A new log's name must survive a crash too.
    if (created) fsyncDir(dirname(path));
  } catch (err) {
    throw new LicenseError(
      "FILE_UNWRITABLE",
      `cannot append to the issuance log ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    closeSync(fd);
  }
}
