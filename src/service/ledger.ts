/**
 * Checking the two tamper-evident ledgers (`dtlicense ledger verify`): the
 * issuance log's chain of lines (src/issuer/log.ts) and the server's chain of
 * audit events (migration 4, written by src/store/licenses.ts), and, with both
 * at hand, that every line the server's imports name is still in the log.
 */
import { readFileSync } from "node:fs";
import { LicenseError } from "../core/errors.js";
import {
  parseLog,
  recordLineHash,
  verifyLogChain,
  type ChainedRecord,
  type LogChainReport,
  type LoggedRecord,
} from "../issuer/log.js";
import {
  EVENT_GENESIS,
  eventChainHead,
  importedLogLines,
  inOneSnapshot,
  scanEventChain,
  type ChainRow,
} from "../store/ledger.js";
import type { ServiceContext } from "./context.js";

/**
 * Checks the chain of the issuance log at `path` (see {@link verifyLogChain})
 * and returns its records too (for {@link verifyEventChain}'s `log`);
 * LOG_NOT_FOUND when there is no file.
 *
 * @example
 * ```ts
 * const { report } = verifyIssuanceLog("/home/me/.datatools-creator/issued.jsonl");
 * ```
 */
export function verifyIssuanceLog(
  path: string,
  options: { expectHead?: string } = {},
): { report: LogChainReport; records: LoggedRecord[] } {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new LicenseError("LOG_NOT_FOUND", `no issuance log at ${path}`);
    }
    throw new LicenseError("FILE_UNREADABLE", `cannot read the issuance log ${path}`, {
      cause: err,
    });
  }
  return {
    report: verifyLogChain(data, options),
    records: parseLog(data.toString("utf8")).records,
  };
}

/** The first link of the events' chain that does not hold. */
export interface EventBreak {
  /** The event whose link does not hold; null when the chain's end does not match its head row. */
  readonly event: number | null;
  readonly reason: string;
}

/** What the server's imports name of the issuance log, against a log. */
export interface LogCrossCheck {
  readonly ok: boolean;
  /** Events that name the log line they imported. */
  readonly checked: number;
  /** How many of them name a line the log does not hold. */
  readonly missing: number;
  /** The first such event, or null. */
  readonly first_missing: {
    readonly event: number;
    readonly license_key: string;
    readonly log_line: string;
  } | null;
}

/** What {@link verifyEventChain} found. */
export interface EventChainReport {
  readonly ok: boolean;
  readonly events: number;
  /** Events that carry a link. */
  readonly chained: number;
  /** Events written before the chain began (no link), all before the first chained one. */
  readonly unchained: number;
  /** The last event's hash (64 zeros when there are no events). */
  readonly head: string;
  /** The last event's id, or null. */
  readonly head_event: number | null;
  /** The hash the head row holds (null: the row is missing). */
  readonly stored_head: string | null;
  readonly broken: EventBreak | null;
  /** With `expectHead`: the event that hashes to it, or null when none does. */
  readonly expected_head?: { readonly hash: string; readonly event: number | null };
  /** With `log`: the imports' lines checked against it. */
  readonly log?: LogCrossCheck;
}

export interface EventChainOptions {
  /** A head recorded earlier, which must be the hash of one of the events. */
  readonly expectHead?: string;
  /** An issuance log's records: every line an import event names must be one of them. */
  readonly log?: readonly ChainedRecord[];
}

/**
 * Walks the audit events in id order, from one snapshot, and checks that each
 * chained event's `prev` is the hash of the event before it (64 zeros before
 * the first), that its fields still give its recorded hash, that no unchained
 * event follows a chained one, and that the last event's hash is the head row's.
 * Reports the first event where that fails.
 *
 * @example
 * ```ts
 * const report = await verifyEventChain(ctx);
 * if (!report.ok) console.error(report.broken?.event, report.broken?.reason);
 * ```
 */
export async function verifyEventChain(
  ctx: ServiceContext,
  options: EventChainOptions = {},
): Promise<EventChainReport> {
  return inOneSnapshot(ctx.db, async (tx) => {
    const walk = new ChainWalk(options.expectHead);
    await scanEventChain(tx, (rows) => {
      for (const row of rows) walk.add(row);
    });
    const stored = await eventChainHead(tx);
    const log = options.log ? crossCheck(await importedLogLines(tx), options.log) : undefined;
    return walk.report(stored, log);
  });
}

/** The state of a walk along the events. */
class ChainWalk {
  events = 0;
  chained = 0;
  last: { hash: string; id: number | null } = { hash: EVENT_GENESIS, id: null };
  broken: EventBreak | null = null;
  expectedEvent: number | null = null;

  constructor(readonly expectHead: string | undefined) {}

  add(row: ChainRow): void {
    this.events++;
    if (row.prev !== null) this.chained++;
    this.broken ??= this.check(row);
    if (row.computed === this.expectHead) this.expectedEvent = row.id;
    this.last = { hash: row.computed, id: row.id };
  }

  check(row: ChainRow): EventBreak | null {
    const id = row.id;
    if (row.prev === null) {
      return this.chained === 0
        ? null
        : {
            event: id,
            reason: `event ${id} has no link, but events before it do: it was inserted, or its link removed`,
          };
    }
    if (row.prev !== this.last.hash) {
      return {
        event: id,
        reason:
          this.last.id === null
            ? `event ${id} is the first event but does not follow the 64 zeros a ledger starts with: ` +
              "events before it were removed, or it was changed"
            : `event ${id}'s prev is not the hash of event ${this.last.id}: one of them was changed, ` +
              `events between them were removed, or event ${id} was inserted or moved`,
      };
    }
    if (row.hash !== row.computed) {
      return {
        event: id,
        reason: `event ${id}'s fields no longer give its recorded hash: it was changed after it was written`,
      };
    }
    return null;
  }

  report(stored: string | undefined, log: LogCrossCheck | undefined): EventChainReport {
    const end = this.last.id === null ? "no events" : `event ${this.last.id} (the last)`;
    const headBreak: EventBreak | null =
      stored === undefined
        ? { event: null, reason: "the ledger_head row is missing: it was deleted" }
        : stored !== this.last.hash
          ? {
              event: null,
              reason:
                `the ledger_head row says the chain ends at ${stored.slice(0, 12)}…, but it ends at ${end}, ` +
                `${this.last.hash.slice(0, 12)}…: events after it were removed, or the head row was changed`,
            }
          : null;
    const broken = this.broken ?? headBreak;
    const expected =
      this.expectHead === undefined
        ? {}
        : { expected_head: { hash: this.expectHead, event: this.expectedEvent } };
    return {
      ok:
        broken === null &&
        (this.expectHead === undefined || this.expectedEvent !== null) &&
        (log?.ok ?? true),
      events: this.events,
      chained: this.chained,
      unchained: this.events - this.chained,
      head: this.last.hash,
      head_event: this.last.id,
      stored_head: stored ?? null,
      broken,
      ...expected,
      ...(log ? { log } : {}),
    };
  }
}

/** The import events whose line is not among the log's records. */
function crossCheck(
  imported: readonly { id: number; license_key: string; log_line: string }[],
  records: readonly ChainedRecord[],
): LogCrossCheck {
  const lines = new Set(records.map(recordLineHash));
  const missing = imported.filter((e) => !lines.has(e.log_line));
  const first = missing[0];
  return {
    ok: missing.length === 0,
    checked: imported.length,
    missing: missing.length,
    first_missing: first
      ? { event: first.id, license_key: first.license_key, log_line: first.log_line }
      : null,
  };
}
