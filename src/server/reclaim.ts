/**
 * Frees seats unseen for DATATOOLS_SEAT_RECLAIM_DAYS, a minute after start and
 * then every hour. Several server processes may run it at once: a seat is
 * released once (the update skips a freed one), with one `reclaim` event.
 */
import type { FastifyInstance } from "fastify";
import { reclaimUnseenSeats } from "../service/activations.js";
import type { ServiceContext } from "../service/context.js";

const FIRST_RUN_MS = 60_000;
const EVERY_MS = 3_600_000;

/** Starts the periodic reclaim (nothing when `days` is undefined); returns its stop function. */
export function startSeatReclaim(
  app: FastifyInstance,
  ctx: ServiceContext,
  days: number | undefined,
  timing: { first: number; every: number } = { first: FIRST_RUN_MS, every: EVERY_MS },
): () => void {
  if (days === undefined) return () => undefined;
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const n = await reclaimUnseenSeats(ctx, days);
      if (n > 0) app.log.info({ reclaimed: n, days }, "reclaimed seats unseen for too long");
    } catch (err) {
      app.log.warn({ err }, "seat reclaim failed; it runs again within the hour");
    } finally {
      running = false;
    }
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    void run();
    interval = setInterval(() => void run(), timing.every);
    interval.unref();
  }, timing.first);
  first.unref();
  return () => {
    clearTimeout(first);
    if (interval) clearInterval(interval);
  };
}
