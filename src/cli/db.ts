/** `dtlicense db migrate|status`: the schema of the configured database. */
import type { Command } from "commander";
import { LicenseError } from "../core/errors.js";
import type { CliContext } from "./context.js";
import { openDeploymentDatabase } from "./ops-env.js";
import type { Wrap } from "./program.js";

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
        const { migrate } = await import("../store/migrations.js");
        const database = (await openDeploymentDatabase(ctx, opts.dataDir)).db;
        try {
          const r = await migrate(database);
          ctx.stdout.write(
            r.applied.length
              ? `applied migrations ${r.applied.join(", ")}; schema at version ${r.version}\n`
              : `schema already at version ${r.version}; nothing to do\n`,
          );
        } finally {
          await database.close();
        }
      }),
    );

  db.command("status")
    .description("print the schema version; exit 1 when migrations are missing")
    .option("--data-dir <dir>", DATA_DIR_HELP)
    .action(
      wrap(async (opts: { dataDir?: string }) => {
        const { LATEST_VERSION, schemaVersion } = await import("../store/migrations.js");
        const database = (await openDeploymentDatabase(ctx, opts.dataDir)).db;
        try {
          const version = await schemaVersion(database);
          ctx.stdout.write(`schema version ${version}; this release needs ${LATEST_VERSION}\n`);
          if (version < LATEST_VERSION) {
            throw new LicenseError(
              "SCHEMA_OUTDATED",
              "migrations are missing; run dtlicense db migrate",
            );
          }
        } finally {
          await database.close();
        }
      }),
    );
}
