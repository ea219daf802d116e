/**
 * `dtlicense seats list|set|release`: the machines holding seats of a license,
 * its seat limit, and freeing a seat (e.g. for a buyer whose old machine died). Over the API (with
 * --url and an admin token, or the API of the server that holds the embedded
 * database open) or directly in the configured database, through the same
 * service operations the API uses.
 */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import type { Activation, SeatList } from "../../service/activations.js";
import type { LicenseRecord } from "../../service/licenses.js";
import { apiTarget, callApi, remoteOptions, type RemoteOptions } from "../api.js";
import type { CliContext } from "../context.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

function seatLine(a: Activation): string {
  const state = a.released_at ? `released ${a.released_at} by ${a.released_by ?? "?"}` : "held";
  return (
    `${String(a.id).padEnd(7)} ${a.fingerprint.padEnd(34)} ${(a.hostname ?? "-").padEnd(20)} ` +
    `last seen ${a.last_seen_at}  ${state}\n`
  );
}

export function registerSeats(program: Command, ctx: CliContext, wrap: Wrap): void {
  const seats = program
    .command("seats")
    .description("Machine activations (seats) of licenses on the license server");

  remoteOptions(
    seats
      .command("list")
      .description("list the machines that hold or held a seat of a license")
      .argument("<license-key>")
      .option("--json", "print JSON: {license_key, seats: {limit, used}, activations: [...]}")
      .addHelpText(
        "after",
        `
Held seats come first, then released ones, newest first. The first column is the
activation id that seats release takes.
Example:
  dtlicense seats list DT1-PRO-5dd8e1db-d90c4656 --url https://license.example.com --token-file admin.token
`,
      ),
  ).action(
    wrap(async (key: string, opts: RemoteOptions & { json?: boolean }) => {
      const target = apiTarget(ctx, opts);
      const list = target
        ? await callApi<SeatList>(
            target,
            "GET",
            `/v1/licenses/${encodeURIComponent(key)}/activations`,
          )
        : await withService(ctx, { dataDir: opts.dataDir, schema: "require" }, async (service) => {
            const { licenseActivations } = await import("../../service/activations.js");
            return licenseActivations(service, key);
          });
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const limit = list.seats.limit === null ? "no limit" : `limit ${list.seats.limit}`;
      ctx.stdout.write(`${list.license_key}: ${list.seats.used} seat(s) in use, ${limit}\n`);
      for (const a of list.activations) ctx.stdout.write(seatLine(a));
    }),
  );

  remoteOptions(
    seats
      .command("set")
      .description("change a license's seat limit (the blob is not re-issued)")
      .argument("<license-key>")
      .argument("<limit>", "a whole number 1-10000, or none for no limit")
      .option("--json", "print the license as JSON")
      .addHelpText(
        "after",
        `
Seats already held stay held when the limit drops below them; new machines are
refused until enough are released (seats release).
Example:
  dtlicense seats set DT1-PRO-5dd8e1db-d90c4656 5 --url https://license.example.com --token-file admin.token
`,
      ),
  ).action(
    wrap(async (key: string, limitText: string, opts: RemoteOptions & { json?: boolean }) => {
      const limit =
        limitText === "none" ? null : /^[0-9]{1,6}$/.test(limitText) ? Number(limitText) : NaN;
      if (Number.isNaN(limit)) {
        throw new LicenseError(
          "USAGE",
          `the limit must be a whole number 1-10000 or none, not "${limitText.slice(0, 30)}"`,
        );
      }
      const target = apiTarget(ctx, opts);
      const license = target
        ? await callApi<LicenseRecord>(
            target,
            "POST",
            `/v1/licenses/${encodeURIComponent(key)}/seats`,
            { seats: limit },
          )
        : await withService(ctx, { dataDir: opts.dataDir, schema: "migrate" }, async (service) => {
            const { setSeatLimit } = await import("../../service/activations.js");
            return setSeatLimit(service, key, limit, { actor: "cli" });
          });
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(license, null, 2)}\n`);
        return;
      }
      ctx.stderr.write(
        `dtlicense: ${license.license_key} now has ${license.seats === null ? "no seat limit" : `a limit of ${license.seats} seat(s)`}\n`,
      );
    }),
  );

  remoteOptions(
    seats
      .command("release")
      .description("free a seat by its activation id (the machine must activate again)")
      .argument("<id>", "the activation id, from seats list")
      .option("--json", "print the released activation as JSON"),
  ).action(
    wrap(async (idText: string, opts: RemoteOptions & { json?: boolean }) => {
      const id = /^[0-9]{1,15}$/.test(idText) ? Number(idText) : NaN;
      if (!Number.isSafeInteger(id) || id < 1) {
        throw new LicenseError(
          "USAGE",
          `the activation id must be a whole number, not "${idText.slice(0, 30)}"`,
        );
      }
      const target = apiTarget(ctx, opts);
      const released = target
        ? await callApi<Activation>(target, "POST", `/v1/activations/${id}/release`)
        : await withService(ctx, { dataDir: opts.dataDir, schema: "migrate" }, async (service) => {
            const { releaseSeat } = await import("../../service/activations.js");
            return releaseSeat(service, id, { actor: "cli" });
          });
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(released, null, 2)}\n`);
        return;
      }
      ctx.stderr.write(
        `dtlicense: released seat ${released.id} of ${released.license_key} (machine ${released.fingerprint})\n`,
      );
    }),
  );
}
