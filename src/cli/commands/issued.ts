/** `dtlicense issued …`: query the issuance log (replaces ADMIN.md's jq one-liners). */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import { TIERS } from "../../core/catalogue.js";
import { normalizeIdentity, parseTime, validateTier } from "../../core/license.js";
import { IssuanceLog, issuanceLogPath, type LoggedRecord } from "../../issuer/log.js";
import type { CliContext } from "../context.js";
import type { Wrap } from "../program.js";

function openLog(ctx: CliContext): { records: LoggedRecord[]; path: string } {
  const path = issuanceLogPath(ctx.env, ctx.home);
  const log = new IssuanceLog(path);
  if (!log.exists()) {
    ctx.stderr.write(`dtlicense: no issuance log at ${path} yet (nothing has been minted)\n`);
    return { records: [], path };
  }
  const { records, problems } = log.read();
  for (const p of problems) {
    ctx.stderr.write(
      `dtlicense: warning: ${path} line ${p.line}: ${p.reason}; the line is skipped here and left in the file\n`,
    );
  }
  return { records, path };
}

function table(records: readonly LoggedRecord[]): string {
  const head = ["LICENSE KEY", "TIER", "NAME", "EMAIL", "ISSUED", "EXPIRES"];
  const rows = records.map((r) => [
    r.license_key,
    r.tier,
    r.name,
    r.email,
    r.issued_at.slice(0, 10),
    r.expires_at.slice(0, 10),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [head, ...rows]
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "),
    )
    .join("\n");
}

/** Prints the records as a table (or JSON); `none` is the line said when there are none. */
function print(
  ctx: CliContext,
  records: readonly LoggedRecord[],
  json: boolean | undefined,
  none: string,
): void {
  if (json) {
    const out = records.map(({ line: _line, ...r }) => r);
    ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (records.length > 0) {
    ctx.stdout.write(`${table(records)}\n`);
  } else {
    ctx.stdout.write(`${none}\n`);
  }
}

function parseDays(value: string): number {
  const days = /^[0-9]+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(days) || days < 0 || days > 36_500) {
    throw new LicenseError("USAGE", `--days must be a whole number of days, not "${value}"`);
  }
  return days;
}

/** Records that a later record for the same buyer and tier outlasts (a renewal). */
function superseded(records: readonly LoggedRecord[]): Set<LoggedRecord> {
  const out = new Set<LoggedRecord>();
  const latest = new Map<string, LoggedRecord>();
  for (const r of records) {
    const k = `${normalizeIdentity(r.email)}\u0000${r.tier}`;
    const prev = latest.get(k);
    if (!prev) latest.set(k, r);
    else if (r.expires_at >= prev.expires_at) {
      out.add(prev);
      latest.set(k, r);
    } else out.add(r);
  }
  return out;
}

export function registerIssued(program: Command, ctx: CliContext, wrap: Wrap): void {
  const issued = program
    .command("issued")
    .description(
      "Query the issuance log (~/.datatools-creator/issued.jsonl, or $DATATOOLS_ISSUANCE_LOG)",
    );

  issued
    .command("list")
    .description("list issued licenses, oldest first")
    .option("--email <email>", "only this buyer (case-insensitive)")
    .option("--tier <tier>", `only this tier (${TIERS.join(", ")})`)
    .option("--key <license-key>", "only this license key")
    .option("--json", "print a JSON array of records (with blobs) for scripts")
    .action(
      wrap((opts: { email?: string; tier?: string; key?: string; json?: boolean }) => {
        const tier = opts.tier === undefined ? undefined : validateTier(opts.tier);
        const email = opts.email === undefined ? undefined : normalizeIdentity(opts.email);
        const { records } = openLog(ctx);
        const found = records.filter(
          (r) =>
            (email === undefined || normalizeIdentity(r.email) === email) &&
            (tier === undefined || r.tier === tier) &&
            (opts.key === undefined || r.license_key === opts.key.trim()),
        );
        print(ctx, found, opts.json, "No issued license matches.");
      }),
    );

  issued
    .command("count")
    .description("count issued licenses by tier")
    .option("--json", 'print {"lite": n, "core": n, "pro": n, "total": n}')
    .action(
      wrap((opts: { json?: boolean }) => {
        const { records } = openLog(ctx);
        const counts: Record<string, number> = Object.fromEntries(TIERS.map((t) => [t, 0]));
        for (const r of records) counts[r.tier] = (counts[r.tier] ?? 0) + 1;
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify({ ...counts, total: records.length })}\n`);
        } else {
          for (const t of TIERS) ctx.stdout.write(`${t.padEnd(6)} ${counts[t]}\n`);
          ctx.stdout.write(`${"total".padEnd(6)} ${records.length}\n`);
        }
      }),
    );

  issued
    .command("expiring")
    .description(
      "licenses that expire within the next N days and that no later license for the " +
        "same buyer and tier outlasts (a renewal)",
    )
    .requiredOption("--days <n>", "the window, in days")
    .option("--json", "print a JSON array of records for scripts")
    .action(
      wrap((opts: { days: string; json?: boolean }) => {
        const days = parseDays(opts.days);
        const now = ctx.now().getTime();
        const until = now + days * 86_400_000;
        const { records } = openLog(ctx);
        const old = superseded(records);
        const found = records.filter((r) => {
          const t = parseTime(r.expires_at)!.getTime();
          return !old.has(r) && t >= now && t < until;
        });
        print(
          ctx,
          found,
          opts.json,
          `No license expires within the next ${days} day${days === 1 ? "" : "s"}.`,
        );
      }),
    );

  issued
    .command("redeliver")
    .description(
      "print a buyer's stored blob exactly as issued (never re-minted, so activated " +
        "machines stay valid); with several licenses, the latest unless --key picks one",
    )
    .requiredOption("--email <email>", "the buyer's e-mail (case-insensitive)")
    .option("--key <license-key>", "pick this license when the buyer has several")
    .action(
      wrap((opts: { email: string; key?: string }) => {
        const email = normalizeIdentity(opts.email);
        const { records, path } = openLog(ctx);
        const mine = records.filter(
          (r) =>
            normalizeIdentity(r.email) === email &&
            (opts.key === undefined || r.license_key === opts.key.trim()),
        );
        const chosen = mine.at(-1);
        if (!chosen) {
          throw new LicenseError(
            "NOT_FOUND",
            `no license for ${opts.email}${opts.key ? ` with key ${opts.key}` : ""} in ${path}`,
          );
        }
        if (mine.length > 1) {
          const others = mine.slice(0, -1).map((r) => r.license_key);
          ctx.stderr.write(
            `dtlicense: ${opts.email} has ${mine.length} licenses; printing the latest (${chosen.license_key}). ` +
              `Others: ${others.join(", ")} (pick one with --key)\n`,
          );
        }
        ctx.stdout.write(`${chosen.blob}\n`);
      }),
    );
}
