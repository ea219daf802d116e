/**
 * The delivery worker: sends the outbox's license e-mails. Each due row is
 * claimed (leased; FOR UPDATE SKIP LOCKED, so workers in several server
 * processes never take the same row), sent, then recorded as sent; a failed
 * attempt is retried with exponential backoff up to a cap. A process that
 * dies after the SMTP server accepted an e-mail but before recording it sends
 * it once more when the lease ends: at worst twice, never zero times.
 */
import type { DeliveryTiming, VendorTemplates } from "../config/sales.js";
import {
  claimDueDelivery,
  countUnsent,
  markDeliveryFailing,
  markDeliverySent,
  type ClaimedDelivery,
} from "../store/sales.js";
import type { ServiceContext } from "./context.js";
import { mailData, mailTemplates, renderMail, type Mailer } from "./mail.js";

/** How long a claimed row is left to one worker before another may take it. */
export const LEASE_MS = 120_000;

/** The wait before attempt `attempts + 1`, after `attempts` failures (at least one). */
export function backoff(attempts: number, timing: DeliveryTiming): number {
  return Math.min(timing.retryMaxMs, timing.retryBaseMs * 2 ** Math.min(30, attempts - 1));
}

export interface DeliveryLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface DeliveryWorkerOptions {
  readonly mailer: Mailer;
  readonly from: { readonly name: string; readonly address: string };
  readonly templates: VendorTemplates;
  readonly timing: DeliveryTiming;
  readonly log: DeliveryLog;
}

/** Sends the outbox until stopped. */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly options: DeliveryWorkerOptions,
  ) {}

  /** Starts polling (the first look is at once). */
  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.drain()
        .then(
          () => undefined,
          (err: unknown) => this.options.log.warn({ err }, "delivery worker failed a round"),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule(this.options.timing.pollMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** Sends every due row; returns how many were sent. */
  async drain(): Promise<number> {
    let sent = 0;
    while (!this.stopped) {
      const now = this.ctx.now();
      const row = await claimDueDelivery(this.ctx.db, now, new Date(now.getTime() + LEASE_MS));
      if (!row) break;
      if (await this.deliver(row)) sent++;
    }
    return sent;
  }

  private async deliver(row: ClaimedDelivery): Promise<boolean> {
    const { mailer, from, templates, timing, log } = this.options;
    try {
      const data = mailData(row);
      const rendered = await renderMail(mailTemplates(templates), data);
      await mailer.send({
        from,
        to: { name: row.name, address: row.email },
        rendered,
        attachment: { filename: data.file, content: `${row.blob}\n` },
      });
    } catch (err) {
      const attempts = row.attempts + 1;
      const wait = backoff(attempts, timing);
      const next = new Date(this.ctx.now().getTime() + wait);
      const why = (err as Error).message?.split("\n")[0] ?? String(err);
      await markDeliveryFailing(this.ctx.db, row.id, why, next);
      log.warn(
        {
          license_key: row.license_key,
          outbox_id: row.id,
          attempts,
          next_attempt_at: next,
          error: why,
        },
        "license e-mail failed; will retry",
      );
      return false;
    }
    await markDeliverySent(this.ctx.db, row.id, this.ctx.now());
    log.info({ license_key: row.license_key, outbox_id: row.id }, "license e-mail sent");
    return true;
  }

  /** Stops polling and waits for the round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.options.mailer.close();
  }
}

/** E-mails not yet sent, for the start-up warning when delivery is off. */
export function unsentDeliveries(ctx: ServiceContext): Promise<number> {
  return countUnsent(ctx.db);
}
