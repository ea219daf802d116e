/**
 * `dtlicense activate | status | renew | deactivate`: the buyer's commands, a
 * thin layer over the client library. The client is imported inside the
 * actions, so the creator's commands never load it.
 */
import { readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import { MAX_INPUT_LENGTH } from "../../core/format.js";
import { daysLeft, parseTime, type LicensePayload } from "../../core/license.js";
import type { LicenseClient } from "../../client/client.js";
import { EXPIRING_DAYS, type LicenseState, type LicenseStatus } from "../../client/check.js";
import { assertCliProductionSafe, buyerCatalogue, buyerRing } from "../buyer.js";
import type { CliContext } from "../context.js";
import type { Wrap } from "../program.js";

/**
 * Exit statuses of `dtlicense status`, so scripts can branch on them. Other
 * commands exit 0 on success, 1 on an error and 2 on a usage mistake.
 */
export const STATUS_EXIT: Readonly<Record<LicenseState, number>> = {
  active: 0,
  expiring: 0,
  none: 3,
  expired: 4,
  invalid: 5,
  revoked: 6,
  suspended: 7,
  check_in_required: 8,
};

async function openClient(ctx: CliContext): Promise<LicenseClient> {
  assertCliProductionSafe(ctx);
  const { LicenseClient } = await import("../../client/client.js");
  return new LicenseClient({
    publicKeys: buyerRing(ctx),
    home: ctx.home,
    now: () => ctx.now(),
    catalogue: buyerCatalogue(ctx),
  });
}

/** Reads a blob from a file, or from stdin when the file is `-`. */
function readBlobFile(file: string): string {
  try {
    if (file !== "-" && statSync(file).size > MAX_INPUT_LENGTH) {
      throw new LicenseError("BLOB_TOO_LARGE", `${file} is far larger than a license file`);
    }
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    if (err instanceof LicenseError) throw err;
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new LicenseError(
      "FILE_UNREADABLE",
      `cannot read ${file === "-" ? "the license from stdin" : file} (${why})`,
      { cause: err },
    );
  }
}

/** The blob text from the argument or `--file` (exactly one of them; `-` means stdin). */
function blobInput(blob: string | undefined, file: string | undefined): string {
  if (blob !== undefined && file !== undefined) {
    throw new LicenseError(
      "USAGE",
      "give the license either as an argument or with --file, not both",
    );
  }
  if (file !== undefined) return readBlobFile(file);
  if (blob === undefined) {
    throw new LicenseError(
      "USAGE",
      "give the license blob (DTLIC2:…) as an argument, or --file buyer.dtlic, or - to read stdin",
    );
  }
  return blob === "-" ? readBlobFile("-") : blob;
}

/** Adds a hint when what was passed as a blob is the name of a file. */
function withFileHint<T>(arg: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LicenseError && err.code === "BLOB_PREFIX_UNKNOWN" && arg && isFile(arg)) {
      throw new LicenseError(
        err.code,
        `${err.message} (to read the license from ${arg}, use --file ${arg})`,
      );
    }
    throw err;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function describe(p: LicensePayload): string {
  return `${p.license_key} (${p.tier}) for ${p.name} <${p.email}>`;
}

/** "12 days left", or once it has passed "expired today" / "expired 3 days ago". */
function expiryNote(expiresAt: string, now: Date): string {
  const days = daysLeft(parseTime(expiresAt)!, now);
  if (days >= 0 && parseTime(expiresAt)! > now) return `${plural(days, "day")} left`;
  const ago = Math.floor((now.getTime() - parseTime(expiresAt)!.getTime()) / 86_400_000);
  return ago === 0 ? "expired today" : `expired ${plural(ago, "day")} ago`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The human report of `dtlicense status`. */
function statusReport(status: LicenseStatus, now: Date): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${`${label}:`.padEnd(13)}${value}`);
  const state = status.reason ? `${status.state} (${status.reason})` : status.state;
  row("State", state);
  const p = status.license;
  if (p) {
    row("License key", p.license_key);
    row("Name", p.name);
    row("E-mail", p.email);
    row("Tier", p.tier);
    const names = status.tierFeatures.map((f) => f.name).join(", ");
    row("Features", status.usable ? names : `none enabled (the ${p.tier} tier unlocks: ${names})`);
    row("Issued", p.issued_at);
    row("Expires", `${p.expires_at} (${expiryNote(p.expires_at, now)})`);
  }
  row("File", status.path);
  if (status.message) lines.push("", status.message);
  return `${lines.join("\n")}\n`;
}

function statusHelp(): string {
  return `
Exit status (for scripts):
  0  active or expiring: the license works (expiring = ${EXPIRING_DAYS} days or fewer left)
  3  none: no license is activated on this machine
  4  expired: the license has expired; renew it
  5  invalid: the stored license is tampered, corrupt, unreadable, signed by a key
     this version does not trust, or the clock was set back (the message says which)
  1  another error (for example a bad $DATATOOLS_CATALOGUE)

--json prints {state, license_key, name, email, tier, features, issued_at, expires_at,
days_left, code, reason}; features are the ids enabled now (none unless usable).
`;
}

export function registerLicense(program: Command, ctx: CliContext, wrap: Wrap): void {
  program
    .command("activate")
    .description("Activate a license on this machine (stored in ~/.datatools/license.json)")
    .argument("[blob]", "the license blob (DTLIC2:…) from your purchase e-mail, or - for stdin")
    .option("--file <path>", "read the blob from a file (buyer.dtlic), or - for stdin")
    .requiredOption("--name <name>", "your name, as on the purchase")
    .requiredOption("--email <email>", "your e-mail address, as on the purchase")
    .option("--force", "replace another license that is active on this machine")
    .addHelpText(
      "after",
      `
Name and e-mail must be those the license was issued to; they are compared ignoring
case, extra spaces and Unicode form. Over another active license, pass --force to
replace it (or use renew for a newer license of the same buyer).
Examples:
  dtlicense activate "DTLIC2:…" --name "Ada Lovelace" --email ada@example.com
  dtlicense activate --file buyer.dtlic --name "Ada Lovelace" --email ada@example.com
`,
    )
    .action(
      wrap(
        async (
          blob: string | undefined,
          opts: { file?: string; name: string; email: string; force?: boolean },
        ) => {
          const text = blobInput(blob, opts.file);
          const client = await openClient(ctx);
          const result = withFileHint(blob, () =>
            client.activate(text, { name: opts.name, email: opts.email }, { force: opts.force }),
          );
          const p = result.status.license!;
          if (!result.changed) {
            ctx.stdout.write(`This license is already active: ${describe(p)}.\n`);
            return 0;
          }
          if (result.previous && result.previous.license_key !== p.license_key) {
            ctx.stdout.write(`Replaced license ${describe(result.previous)}.\n`);
          }
          ctx.stdout.write(
            `Activated ${describe(p)}, expires ${p.expires_at} ` +
              `(${plural(result.status.daysLeft ?? 0, "day")} left).\n` +
              `Stored in ${client.path}\n`,
          );
          return 0;
        },
      ),
    );

  program
    .command("status")
    .description("Show the license on this machine: active, expiring, expired, none or invalid")
    .option("--json", "print the status as one JSON object")
    .addHelpText("after", statusHelp())
    .action(
      wrap(async (opts: { json?: boolean }) => {
        const client = await openClient(ctx);
        const status = client.status();
        ctx.stdout.write(
          opts.json ? `${JSON.stringify(status)}\n` : statusReport(status, ctx.now()),
        );
        return STATUS_EXIT[status.state];
      }),
    );

  program
    .command("renew")
    .description("Replace the stored license with a newer one for the same buyer")
    .argument("[blob]", "the new license blob (DTLIC2:…), or - for stdin")
    .option("--file <path>", "read the blob from a file, or - for stdin")
    .addHelpText(
      "after",
      `
The new license must be for the same e-mail address and must not expire earlier than
the stored one; name and e-mail are taken from the stored license. An expired license
can be renewed.
Example:
  dtlicense renew --file renewal.dtlic
`,
    )
    .action(
      wrap(async (blob: string | undefined, opts: { file?: string }) => {
        const text = blobInput(blob, opts.file);
        const client = await openClient(ctx);
        const result = withFileHint(blob, () => client.renew(text));
        const p = result.status.license!;
        if (!result.changed) {
          ctx.stdout.write(`This license is already the active one: ${describe(p)}.\n`);
          return 0;
        }
        const before = result.previous!;
        const tier = before.tier === p.tier ? "" : `, tier ${before.tier} → ${p.tier}`;
        ctx.stdout.write(
          `Renewed ${describe(p)}: expires ${p.expires_at} (was ${before.expires_at}${tier}).\n`,
        );
        return 0;
      }),
    );

  program
    .command("deactivate")
    .description("Remove the license from this machine (asks first; --yes for scripts)")
    .option("-y, --yes", "remove without asking")
    .addHelpText(
      "after",
      `
Only the local file ~/.datatools/license.json is removed; keep your license blob to
activate it again, here or on another machine.
`,
    )
    .action(
      wrap(async (opts: { yes?: boolean }) => {
        const client = await openClient(ctx);
        const current = client.status({ refresh: false });
        if (current.state === "none") {
          ctx.stdout.write(`No license is activated on this machine; nothing was removed.\n`);
          return 0;
        }
        const what = current.license
          ? `the license ${describe(current.license)}`
          : `the ${current.reason ?? "invalid"} license file ${current.path}`;
        if (!opts.yes) {
          if (!ctx.interactive || !ctx.prompt) {
            throw new LicenseError(
              "USAGE",
              "deactivate removes the license from this machine; without a terminal to confirm, " +
                "pass --yes. Nothing was removed.",
            );
          }
          const answer = await ctx.prompt(`Remove ${what} from this machine? [y/N] `);
          if (!/^y(es)?$/i.test(answer.trim())) {
            ctx.stderr.write("dtlicense: not confirmed; nothing was removed\n");
            return 1;
          }
        }
        const { removed, previous } = client.deactivate();
        if (!removed) {
          ctx.stdout.write(`No license is activated on this machine; nothing was removed.\n`);
          return 0;
        }
        const gone = previous.license
          ? `the license ${describe(previous.license)}`
          : `the ${previous.reason ?? "invalid"} license file`;
        ctx.stdout.write(
          `Removed ${gone} from ${previous.path}.\n` +
            "Keep your license blob (from your purchase e-mail) to activate it on another machine.\n",
        );
        return 0;
      }),
    );
}
