/**
 * `dtlicense webhooks list|replay` and `dtlicense deliver`: the store
 * webhooks' events and the license e-mail, over the API (with --url and an
 * admin token, or the API of the server holding the embedded database) or
 * directly in the configured database, through the same service operations.
 */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import type { Delivery, WebhookEvent, WebhookStatus } from "../../service/sales.js";
import { apiTarget, callApi, remoteOptions, type RemoteOptions } from "../api.js";
import type { CliContext } from "../context.js";
import { loadKeys } from "../keys.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

const STATUSES = ["processed", "ignored"] as const;

function eventId(value: string): number {
  const n = /^[0-9]{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new LicenseError(
      "USAGE",
      `ID must be an event id from 'dtlicense webhooks list', not "${value.slice(0, 20)}"`,
    );
  }
  return n;
}

function line(e: WebhookEvent): string {
  return (
    `${String(e.id).padEnd(6)} ${e.provider.padEnd(13)} ${e.status.padEnd(10)} ${e.type.padEnd(34)} ` +
    `${e.event_id}${e.license_key ? ` -> ${e.license_key}` : ""}${e.reason ? `\n       ${e.reason}` : ""}\n`
  );
}

export function registerSales(program: Command, ctx: CliContext, wrap: Wrap): void {
  const webhooks = program
    .command("webhooks")
    .description("The payment stores' webhook events (Stripe, Lemon Squeezy) and their replay");

  remoteOptions(
    webhooks
      .command("list")
      .description("list stored webhook events, newest first, with what each did")
      .option("--status <status>", `only events with this status: ${STATUSES.join(" or ")}`)
      .option("--limit <n>", "at most this many (1-500)", "100")
      .option("--json", "print JSON"),
  ).action(
    wrap(async (opts: RemoteOptions & { status?: string; limit: string; json?: boolean }) => {
      if (opts.status !== undefined && !(STATUSES as readonly string[]).includes(opts.status)) {
        throw new LicenseError("USAGE", `--status must be ${STATUSES.join(" or ")}`);
      }
      const limit = /^[0-9]{1,3}$/.test(opts.limit) ? Number(opts.limit) : NaN;
      if (!(limit >= 1 && limit <= 500)) throw new LicenseError("USAGE", "--limit must be 1-500");
      const status = opts.status as WebhookStatus | undefined;
      const target = apiTarget(ctx, opts);
      const events = target
        ? (
            await callApi<{ events: WebhookEvent[] }>(
              target,
              "GET",
              `/v1/webhooks/events?limit=${limit}${status ? `&status=${status}` : ""}`,
            )
          ).events
        : await withService(ctx, { dataDir: opts.dataDir, schema: "require" }, async (service) => {
            const { listStoreEvents } = await import("../../service/sales.js");
            return listStoreEvents(service, { limit, ...(status ? { status } : {}) });
          });
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
        return;
      }
      for (const e of events) ctx.stdout.write(line(e));
    }),
  );

  remoteOptions(
    webhooks
      .command("replay")
      .description(
        "handle an ignored event again (e.g. after adding its product to DATATOOLS_PRODUCTS_FILE, which is read again: no restart)",
      )
      .argument("<id>", "the event's id from 'dtlicense webhooks list'")
      .option("--json", "print JSON"),
  ).action(
    wrap(async (id: string, opts: RemoteOptions & { json?: boolean }) => {
      const n = eventId(id);
      const target = apiTarget(ctx, opts);
      const event = target
        ? await callApi<WebhookEvent>(target, "POST", `/v1/webhooks/events/${n}/replay`)
        : await (async () => {
            const { loadProducts } = await import("../../config/sales.js");
            // The products file as it is now, checked as the server checks it, before anything is opened.
            const { products } = loadProducts(ctx.env);
            return withService(
              ctx,
              { dataDir: opts.dataDir, schema: "require", keys: loadKeys(ctx) },
              async (service) => {
                const { replayStoreEvent } = await import("../../service/sales.js");
                return replayStoreEvent(service, products, n, { actor: "cli" });
              },
            );
          })();
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(event, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(line(event));
    }),
  );

  remoteOptions(
    program
      .command("deliver")
      .description("queue the license e-mail again: the stored blob, never re-signed")
      .argument("<license-key>", "the license to e-mail to its buyer")
      .option("--json", "print JSON"),
  ).action(
    wrap(async (key: string, opts: RemoteOptions & { json?: boolean }) => {
      const target = apiTarget(ctx, opts);
      const delivery = target
        ? await callApi<Delivery>(target, "POST", `/v1/licenses/${encodeURIComponent(key)}/deliver`)
        : await withService(ctx, { dataDir: opts.dataDir, schema: "require" }, async (service) => {
            const { queueDelivery } = await import("../../service/sales.js");
            return queueDelivery(service, key, { actor: "cli" });
          });
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(delivery, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(
        `queued e-mail ${delivery.id} of ${key}; the server's delivery worker sends it (see 'delivery' in the license)\n`,
      );
    }),
  );
}
