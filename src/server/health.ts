/** Liveness, readiness and metrics: no auth, nothing secret. */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { readiness } from "../service/health.js";
import type { ServerContext } from "./context.js";
import { TAGS } from "./openapi.js";
import { Health, Readiness, errorResponses, plainText } from "./schemas.js";

export { READY_TIMEOUT_MS } from "../service/health.js";

/**
 * `delivery` says whether license e-mails are sent (SMTP configured) or wait
 * in the outbox; /readyz reports it and stays ready either way.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  delivery?: "on" | "off",
): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/healthz",
    {
      schema: {
        tags: [TAGS.health],
        summary: "Liveness: the process runs",
        response: { 200: Health },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  r.get(
    "/readyz",
    {
      schema: {
        tags: [TAGS.health],
        summary: "Readiness: the database answers and has every migration",
        description: "Waits at most 2.5 s for the database, so a stalled one is a prompt 503.",
        response: { 200: Readiness, ...errorResponses(503) },
      },
    },
    async () => ({
      ...(await readiness(ctx.service.db)),
      ...(delivery ? { delivery } : {}),
    }),
  );

  r.get(
    "/metrics",
    {
      schema: {
        tags: [TAGS.health],
        summary: "Prometheus metrics",
        description:
          "Requests by route template and status, latencies, licenses written, pool use.",
        response: { 200: plainText("Prometheus text format 0.0.4") },
      },
    },
    async (_req, reply) =>
      reply
        .type("text/plain; version=0.0.4; charset=utf-8")
        .send(ctx.metrics.render(ctx.service.db.poolStats())),
  );
}
