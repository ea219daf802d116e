/** Liveness, readiness and metrics: no auth, nothing secret. */
import type { FastifyInstance } from "fastify";
import { LicenseError } from "../core/errors.js";
import { LATEST_VERSION, schemaVersion } from "../store/migrations.js";
import type { ServerContext } from "./context.js";

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async () => {
    let version: number;
    try {
      version = await schemaVersion(ctx.db);
    } catch (err) {
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
