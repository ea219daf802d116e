/** Liveness, readiness and metrics: no auth, nothing secret. */
import type { FastifyInstance } from "fastify";
import { readiness } from "../service/health.js";

export { READY_TIMEOUT_MS } from "../service/health.js";
import type { ServerContext } from "./context.js";

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async () => readiness(ctx.service.db));

  app.get("/metrics", async (_req, reply) =>
    reply
      .type("text/plain; version=0.0.4; charset=utf-8")
      .send(ctx.metrics.render(ctx.service.db.poolStats())),
  );
}
