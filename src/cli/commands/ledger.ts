/**
 * `dtlicense ledger verify`: check the hash chains of the issuance log and,
 * with --db, of the server's audit events (src/service/ledger.ts); names the
 * first broken link and prints each chain's head, for recording elsewhere.
 */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import { issuanceLogPath, type LogChainReport, type LoggedRecord } from "../../issuer/log.js";
import type { EventChainReport } from "../../service/ledger.js";
import type { CliContext } from "../context.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

interface VerifyOptions {
  log?: string;
  db?: boolean;
  dataDir?: string;
  expectHead?: string;
  expectEventsHead?: string;
  json?: boolean;
}

export function registerLedger(program: Command, ctx: CliContext, wrap: Wrap): void {
  const ledger = program
    .command("ledger")
    .description(
      "Check the tamper-evident ledgers: the issuance log's and the server's audit events' hash chains",
    );

  ledger
    .command("verify")
    .description(
      "Check that no line of the issuance log (and, with --db, no audit event of the server) was " +
        "changed, removed, reordered or inserted; names the first broken link and prints each " +
        "chain's head. Exits 1 when a chain is broken.",
    )
    .option(
      "--log <file>",
      "the issuance log (default: ~/.datatools-creator/issued.jsonl, or $DATATOOLS_ISSUANCE_LOG)",
    )
    .option(
      "--db",
      "also check the audit events in the server's database (DATABASE_URL, or the embedded one)",
    )
    .option("--data-dir <dir>", "data folder of an embedded database (no DATABASE_URL)")
    .option(
      "--expect-head <hash>",
      "a log head recorded earlier: fail unless a line of the log still hashes to it",
    )
    .option(
      "--expect-events-head <hash>",
      "an events head recorded earlier (with --db): fail unless an event still hashes to it",
    )
    .option("--json", "print the reports as JSON")
    .addHelpText(
      "after",
      `
A chain shows a line or event that was changed, removed, reordered or inserted,
except at its very end: removing the last lines leaves a shorter valid chain.
Keep the head this command prints somewhere else (a password manager, a ticket)
and pass it back with --expect-head / --expect-events-head. Lines and events
from before the chain existed are accepted; the chain continues from the last.
With --db and the log both at hand, every line the server's imports name must
still be in the log.`,
    )
    .action(wrap((opts: VerifyOptions) => verify(ctx, opts)));
}

/** A head given on the command line: 64 hex characters, compared in lower case. */
function headOption(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(v)) {
    throw new LicenseError(
      "USAGE",
      `${flag} must be 64 hex characters, a head printed by dtlicense ledger verify`,
    );
  }
  return v;
}

async function verify(ctx: CliContext, opts: VerifyOptions): Promise<number> {
  const expectHead = headOption(opts.expectHead, "--expect-head");
  const expectEventsHead = headOption(opts.expectEventsHead, "--expect-events-head");
  if (expectEventsHead !== undefined && !opts.db) {
    throw new LicenseError("USAGE", "--expect-events-head needs --db");
  }
  const service = await import("../../service/ledger.js");
  const path = opts.log ?? issuanceLogPath(ctx.env, ctx.home);

  let log: { report: LogChainReport; records: LoggedRecord[] } | undefined;
  try {
    log = service.verifyIssuanceLog(path, expectHead === undefined ? {} : { expectHead });
  } catch (err) {
    // On a server there may be no issuance log: --db alone checks the events.
    const skip = err instanceof LicenseError && err.code === "LOG_NOT_FOUND" && opts.db;
    if (!skip || opts.log !== undefined || expectHead !== undefined) throw err;
    ctx.stderr.write(`dtlicense: no issuance log at ${path}; checking the events only\n`);
  }

  let events: { report: EventChainReport; where: string } | undefined;
  if (opts.db) {
    events = await withService(ctx, { dataDir: opts.dataDir, schema: "require" }, async (s, o) => ({
      report: await service.verifyEventChain(s, {
        ...(expectEventsHead === undefined ? {} : { expectHead: expectEventsHead }),
        ...(log ? { log: log.records } : {}),
      }),
      where: o.where,
    }));
  }

  const ok = (log?.report.ok ?? true) && (events?.report.ok ?? true);
  if (opts.json) {
    ctx.stdout.write(
      `${JSON.stringify({
        ok,
        log: log ? { path, ...log.report } : null,
        events: events ? { where: events.where, ...events.report } : null,
      })}\n`,
    );
  } else {
    if (log) printLog(ctx, path, log.report);
    if (events) printEvents(ctx, events.where, events.report);
  }
  return ok ? 0 : 1;
}

const BROKEN = "[LEDGER_BROKEN]";

function printLog(ctx: CliContext, path: string, r: LogChainReport): void {
  for (const p of r.unreadable) {
    ctx.stderr.write(
      `dtlicense: warning: ${path} line ${p.line}: ${p.reason}; not a record, so not part of the chain\n`,
    );
  }
  if (r.broken) ctx.stderr.write(`dtlicense: ${path}: ${r.broken.reason} ${BROKEN}\n`);
  const expected = r.expected_head;
  if (expected && expected.line === null) {
    ctx.stderr.write(
      `dtlicense: ${path}: no line hashes to the expected head ${expected.hash}: lines up to it ` +
        `were removed or changed ${BROKEN}\n`,
    );
  }
  const state = r.broken ? `BROKEN at line ${r.broken.line}` : r.ok ? "ok" : "BROKEN";
  ctx.stdout.write(
    `issuance log ${path}: ${state}; ${count(r.records, "record")}, ${r.chained} chained` +
      (r.unchained > 0 ? ` (${r.unchained} from before the chain)` : "") +
      (expected?.line ? `; the expected head is line ${expected.line}` : "") +
      `\n  head${r.head_line ? ` (line ${r.head_line})` : ""}: ${r.head}\n`,
  );
}

function printEvents(ctx: CliContext, where: string, r: EventChainReport): void {
  if (r.broken) ctx.stderr.write(`dtlicense: events: ${r.broken.reason} ${BROKEN}\n`);
  const expected = r.expected_head;
  if (expected && expected.event === null) {
    ctx.stderr.write(
      `dtlicense: events: no event hashes to the expected head ${expected.hash}: events up to it ` +
        `were removed or changed ${BROKEN}\n`,
    );
  }
  const cross = r.log;
  if (cross && cross.first_missing) {
    const m = cross.first_missing;
    ctx.stderr.write(
      `dtlicense: events: ${count(cross.missing, "import event")} name a log line the issuance log ` +
        `does not hold, the first event ${m.event} (${m.license_key}, line ${m.log_line}): the log lost or ` +
        `changed that line since, or the server imported another log ${BROKEN}\n`,
    );
  }
  const state = r.broken
    ? `BROKEN at ${r.broken.event === null ? "its end" : `event ${r.broken.event}`}`
    : r.ok
      ? "ok"
      : "BROKEN";
  ctx.stdout.write(
    `events ${where}: ${state}; ${count(r.events, "event")}, ${r.chained} chained` +
      (r.unchained > 0 ? ` (${r.unchained} from before the chain)` : "") +
      (expected?.event ? `; the expected head is event ${expected.event}` : "") +
      (cross
        ? `; ${cross.checked - cross.missing} of ${cross.checked} imported lines found in the log`
        : "") +
      `\n  head${r.head_event === null ? "" : ` (event ${r.head_event})`}: ${r.head}\n`,
  );
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}
