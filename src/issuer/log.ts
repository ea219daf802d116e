/**
 * The issuance log: the creator's ledger of every license minted, one JSON
 * line per license in `~/.datatools-creator/issued.jsonl`. Appends are locked
 * (so concurrent mints never interleave or lose a line, and a key goes to one
 * buyer), written with one write call and fsynced before the caller shows the
 * blob. Readers report a line they cannot parse, with its number, instead of
 * failing or dropping it.
 */
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

/** A record with the line it was read from (1-based). */
export interface LoggedRecord extends IssuanceRecord {
  readonly line: number;
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
 * record with exactly the log's fields, or the reason it is not one.
 */
export function readRecord(value: unknown): IssuanceRecord | { readonly problem: string } {
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
  return pick(r as unknown as IssuanceRecord);
}

/** Exactly the log's fields of `r`, in the log's order. */
export function pick(r: IssuanceRecord): IssuanceRecord {
  return Object.fromEntries(LINE_FIELDS.map((f) => [f, r[f]])) as unknown as IssuanceRecord;
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
    const torn = unterminated && i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push({
        line: i + 1,
        torn,
        reason: torn ? "torn last line (a write was cut off)" : "not valid JSON",
      });
      return;
    }
    const record = readRecord(value);
    if ("problem" in record) {
      problems.push({ line: i + 1, torn, reason: record.problem });
      return;
    }
    records.push({ line: i + 1, ...record });
  });
  return { records, problems };
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
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [], problems: [] };
      throw new LicenseError("FILE_UNREADABLE", `cannot read the issuance log ${this.path}`, {
        cause: err,
      });
    }
    return parseLog(text);
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
   * wait; takes over at once a lock whose process is gone. Resolves once the
   * line is fsynced.
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
      // keeps the key rule, and a lock that is no longer ours writes nothing.
      assertKeyFree(this.read(), record);
      if (!lock.held()) {
        throw new LicenseError(
          "LOG_LOCKED",
          `the issuance log's lock ${lockPath} was taken over while this process held it; ` +
            "nothing was written: run the command again",
        );
      }
      appendLine(this.path, JSON.stringify(pick(record)));
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
