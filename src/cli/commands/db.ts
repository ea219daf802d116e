/** `dtlicense db migrate|status`: the schema of the configured database. */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import type { CliContext } from "../context.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

const DATA_DIR_HELP =
  "data folder of the embedded database (default $DATATOOLS_DATA_DIR or ~/.datatools-license)";

export function registerDb(program: Command, ctx: CliContext, wrap: Wrap): void {
  const db = program
    .command("db")
    .description(
      "The license server's database (DATABASE_URL, or the embedded one in the data folder)",
    );

  db.command("migrate")
    .description("apply missing schema migrations (the server also does this when it starts)")
    .option("--data-dir <dir>", DATA_DIR_HELP)
    .action(
      wrap(async (opts: { dataDir?: string }) => {
        const { migrateDatabase } = await import("../../service/health.js");
        const r = await withService(ctx, { dataDir: opts.dataDir, schema: "none" }, (_s, o) =>
          migrateDatabase(o.db),
        );
        ctx.stdout.write(
          r.applied.length
            ? `applied migrations ${r.applied.join(", ")}; schema at version ${r.version}\n`
            : `schema already at version ${r.version}; nothing to do\n`,
        );
      }),
    );

  db.command("status")
    .description("print the schema version; exit 1 when migrations are missing")
    .option("--data-dir <dir>", DATA_DIR_HELP)
    .action(
      wrap(async (opts: { dataDir?: string }) => {
        const { schemaStatus } = await import("../../service/health.js");
        const { version, needed } = await withService(
          ctx,
          { dataDir: opts.dataDir, schema: "none" },
          (_s, o) => schemaStatus(o.db),
        );
        ctx.stdout.write(`schema version ${version}; this release needs ${needed}\n`);
        if (version < needed) {
          throw new LicenseError(
            "SCHEMA_OUTDATED",
            "migrations are missing; run dtlicense db migrate",
          );
        }
      }),
    );
}
