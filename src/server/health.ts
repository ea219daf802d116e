/** Liveness, readiness and metrics: no auth, nothing secret. */
import type { FastifyInstance } from "fastify";
import { LicenseError } from "../core/errors.js";
import { LATEST_VERSION, schemaVersion } from "../store/migrations.js";
import type { ServerContext } from "./context.js";

/**
 * How long /readyz waits for the database before answering 503: well under a load
 * balancer's probe timeout, and shorter than the database's own query timeout.
 */
export const READY_TIMEOUT_MS = 2_500;

/** `work`, or DATABASE_UNAVAILABLE once `ms` have passed (the work is left to its own timeout). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new LicenseError("DATABASE_UNAVAILABLE", `the database did not answer within ${ms} ms`),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async () => {
    let version: number;
    try {
      version = await within(READY_TIMEOUT_MS, schemaVersion(ctx.db));
    } catch (err) {
      if (err instanceof LicenseError && err.code === "DATABASE_UNAVAILABLE") throw err;
      throw new LicenseError("DATABASE_UNAVAILABLE", "the database cannot be reached", {
        cause: err,
      });
    }
    if (version < LATEST_VERSION) {
      throw new LicenseError(
        "SCHEMA_OUTDATED",
        `the database schema is at version ${version}, this server needs ${LATEST_VERSION}; run dtlicense db migrate`,
      );
    }
    return { status: "ready", schema_version: version, database: ctx.db.kind };
  });

  app.get("/metrics", async (_req, reply) =>
    reply
      .type("text/plain; version=0.0.4; charset=utf-8")
      .send(ctx.metrics.render(ctx.db.poolStats())),
  );
}
