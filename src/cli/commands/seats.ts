/**
 * `dtlicense seats list|release`: the machines holding seats of a license, and
 * freeing one (e.g. for a buyer whose old machine died). Over the API (with
 * --url and an admin token, or the API of the server that holds the embedded
 * database open) or directly in the configured database, through the same
 * service operations the API uses.
 */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import type { Activation, SeatList } from "../../service/activations.js";
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
