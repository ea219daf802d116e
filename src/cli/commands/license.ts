/**
 * `dtlicense activate | status | renew | deactivate | check-in`: the buyer's commands, a
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

/** The buyer's license client (the online check-in reads online.json beside the license). */
export async function openClient(ctx: CliContext): Promise<LicenseClient> {
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
  const o = status.online;
  if (o) {
    row("Server", o.server ?? "none");
    row(
      "Checked in",
      o.last_check_in ? `${o.last_check_in} (offline until ${o.grace_ends_at})` : "never",
    );
    if (o.revocation_serial !== null) row("Revocations", `list ${o.revocation_serial}`);
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
  6  revoked: a signed answer of the license server or its revocation list says so
  7  suspended: likewise; it works again once the vendor reinstates it and you check in
  8  check_in_required: activated online, but not checked in within the grace period
     (14 days); connect and run dtlicense check-in. Also when the server said this
     machine holds no seat (released or reclaimed): activate --server again
  1  another error (for example a bad $DATATOOLS_CATALOGUE)

--json prints {state, license_key, name, email, tier, features, issued_at, expires_at,
days_left, code, reason}; features are the ids enabled now (none unless usable). When
the machine was activated online it adds online: {server, last_check_in, grace_ends_at,
revocation_serial, problem}; --online adds check_in: {ok, code, message, server} or null.
`;
}

/** The flags of `dtlicense status`. */
export interface StatusOptions {
  json?: boolean;
  online?: boolean;
  server?: string;
  timeout?: string;
}

/**
 * `dtlicense status`: prints the license's state and returns the exit status. Also run
 * without commander by the bin's fast path for a bare `status` (src/cli/fast.ts).
 */
export async function statusCommand(ctx: CliContext, opts: StatusOptions): Promise<number> {
  const online = opts.online ? await import("../online.js") : undefined;
  const timeout = online?.timeoutMs(opts.timeout);
  const client = await openClient(ctx);
  const checked = online ? await online.checkInIfKnown(client, opts.server, timeout) : undefined;
  const status = client.status();
  if (opts.json) {
    const json = online
      ? {
          ...status.toJSON(),
          check_in: checked
            ? {
                ok: checked.ok,
                code: checked.code,
                message: checked.ok ? checked.answer!.message : checked.error!.message,
                server: checked.server,
              }
            : null,
        }
      : status;
    ctx.stdout.write(`${JSON.stringify(json)}\n`);
  } else {
    if (online) {
      ctx.stdout.write(
        checked
          ? `${online.resultLine(checked)}\n\n`
          : "No license server is known for this machine; showing the offline status.\n\n",
      );
    }
    ctx.stdout.write(statusReport(status, ctx.now()));
  }
  return STATUS_EXIT[status.state];
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
    .option("--server <url>", "then activate this machine with the license server (takes a seat)")
    .option("--timeout <seconds>", "with --server: how long to wait for the server (default 10)")
    .option("--json", "print the outcome as one JSON object")
    .addHelpText(
      "after",
      `
Name and e-mail must be those the license was issued to; they are compared ignoring
case, extra spaces and Unicode form. Over another active license, pass --force to
replace it (or use renew for a newer license of the same buyer).
With --server the license is stored as without it, then this machine takes one of the
license's seats on the server, whose address is kept for dtlicense check-in. When all
seats are taken (SEAT_LIMIT_REACHED), release one first: dtlicense deactivate on the
machine you leave. Exit status 1 when the machine could not be activated online (the
license stays stored here); 4, 6 or 7 when the server says the license is expired,
revoked or suspended (as dtlicense status).
--json prints {activated, changed, license_key, expires_at, online}; online is null
without --server, else {ok, code, http_status, message, server, seats, status}.
Examples:
  dtlicense activate "DTLIC2:…" --name "Ada Lovelace" --email ada@example.com
  dtlicense activate --file buyer.dtlic --name "Ada Lovelace" --email ada@example.com
  dtlicense activate --file buyer.dtlic --name "Ada Lovelace" --email ada@example.com \\
    --server https://licenses.example.com
`,
    )
    .action(
      wrap(
        async (
          blob: string | undefined,
          opts: {
            file?: string;
            name: string;
            email: string;
            force?: boolean;
            server?: string;
            timeout?: string;
            json?: boolean;
          },
        ) => {
          const text = blobInput(blob, opts.file);
          const online = opts.server !== undefined ? await import("../online.js") : undefined;
          const timeout = online?.timeoutMs(opts.timeout);
          const client = await openClient(ctx);
          if (opts.server !== undefined) client.server({ server: opts.server });
          const result = withFileHint(blob, () =>
            client.activate(text, { name: opts.name, email: opts.email }, { force: opts.force }),
          );
          const p = result.status.license!;
          if (online && opts.server !== undefined) {
            const hostname = online.hostLabel();
            const seat = await client.activateMachine({
              server: opts.server,
              ...(timeout !== undefined ? { timeoutMs: timeout } : {}),
              ...(hostname !== undefined ? { hostname } : {}),
            });
            const code = online.outcome(seat, ["ACTIVATED", "ALREADY_ACTIVE"], STATUS_EXIT);
            if (opts.json) {
              ctx.stdout.write(
                `${JSON.stringify({
                  activated: true,
                  changed: result.changed,
                  license_key: p.license_key,
                  expires_at: p.expires_at,
                  online: online.resultJson(seat),
                })}\n`,
              );
              return code;
            }
            ctx.stdout.write(
              `${result.changed ? "Activated" : "Already active:"} ${describe(p)}, expires ${p.expires_at}.\n` +
                `Stored in ${client.path}\n`,
            );
            if (code === 1) throw online.failure(seat);
            ctx.stdout.write(`${online.resultLine(seat)}\n`);
            if (seat.status.message) ctx.stdout.write(`${seat.status.message}\n`);
            return code;
          }
          if (opts.json) {
            ctx.stdout.write(
              `${JSON.stringify({
                activated: true,
                changed: result.changed,
                license_key: p.license_key,
                expires_at: p.expires_at,
                online: null,
              })}\n`,
            );
            return 0;
          }
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
    .option("--online", "check in with the license server first (when one is known)")
    .option("--server <url>", "with --online: the license server (default: the stored one)")
    .option("--timeout <seconds>", "with --online: how long to wait for the server (default 10)")
    .addHelpText("after", statusHelp())
    .action(wrap((opts: StatusOptions) => statusCommand(ctx, opts)));

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
    .option("--timeout <seconds>", "how long to wait for the license server (default 10)")
    .option("--json", "print the outcome as one JSON object")
    .addHelpText(
      "after",
      `
The local file ~/.datatools/license.json is removed; keep your license blob to
activate it again, here or on another machine. When this machine was activated online
(activate --server), its seat is released on the server first, so another machine can
take it; when the server cannot be reached the license is removed here all the same,
and the seat stays taken until the vendor releases it (or you run deactivate again
here after activating again online).
--json prints {removed, license_key, released, release}; release is null when no server
is known, else {ok, code, http_status, message, server, seats, status}.
`,
    )
    .action(
      wrap(async (opts: { yes?: boolean; json?: boolean; timeout?: string }) => {
        const client = await openClient(ctx);
        const current = client.status({ refresh: false });
        const online = current.online?.server ? await import("../online.js") : undefined;
        const timeout = online?.timeoutMs(opts.timeout);
        if (current.state === "none") {
          if (opts.json) {
            ctx.stdout.write(
              `${JSON.stringify({ removed: false, license_key: null, released: false, release: null })}\n`,
            );
            return 0;
          }
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
        const release =
          online && current.license
            ? await client.releaseMachine(timeout !== undefined ? { timeoutMs: timeout } : {})
            : undefined;
        const released =
          release !== undefined &&
          release.ok &&
          (release.code === "RELEASED" || release.code === "NOT_ACTIVATED");
        const { removed, previous } = client.deactivate();
        if (opts.json) {
          ctx.stdout.write(
            `${JSON.stringify({
              removed,
              license_key: previous.license?.license_key ?? null,
              released,
              release: release && online ? online.resultJson(release) : null,
            })}\n`,
          );
          return 0;
        }
        if (release && online) {
          ctx.stdout.write(
            released
              ? `${online.resultLine(release)}\n`
              : `Could not release this machine's seat: ${online.resultLine(release)}\n` +
                  "The license is removed here anyway; its seat stays taken until the vendor releases it.\n",
          );
        }
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

  registerCheckIn(program, ctx, wrap);
}

function registerCheckIn(program: Command, ctx: CliContext, wrap: Wrap): void {
  program
    .command("check-in")
    .description(
      "Check the license in with its license server (refreshes the offline grace period)",
    )
    .option("--server <url>", "the license server (default: the one given at activate --server)")
    .option("--timeout <seconds>", "how long to wait for the server (default 10)")
    .option("--json", "print the outcome as one JSON object")
    .addHelpText(
      "after",
      `
Sends the license and this machine's fingerprint (a hash of its machine id) to the
server, which answers with the license's current state, signed. A good answer keeps
the license working offline for the grace period (14 days unless the app says
otherwise); a revoked or suspended license stops working here.
Exit status: 0 valid; 4 expired, 6 revoked, 7 suspended (as dtlicense status);
1 no answer (offline, refused answer) or this machine holds no seat.
--json prints {ok, code, http_status, message, server, seats, status}.
Example:
  dtlicense check-in
`,
    )
    .action(
      wrap(async (opts: { server?: string; timeout?: string; json?: boolean }) => {
        const online = await import("../online.js");
        const timeout = online.timeoutMs(opts.timeout);
        const client = await openClient(ctx);
        const result = await online.checkInIfKnown(client, opts.server, timeout);
        if (!result) {
          throw new LicenseError(
            "CHECK_IN_UNAVAILABLE",
            "no license server is known for this machine; activate it online with: " +
              "dtlicense activate --file buyer.dtlic --name NAME --email EMAIL --server URL, or pass --server URL",
          );
        }
        const code = online.outcome(result, ["VALID"], STATUS_EXIT);
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify(online.resultJson(result))}\n`);
          return code;
        }
        if (code === 1) throw online.failure(result);
        ctx.stdout.write(`${online.resultLine(result)}\n`);
        if (result.status.message) ctx.stdout.write(`${result.status.message}\n`);
        return code;
      }),
    );
}
