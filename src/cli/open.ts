/**
 * Opening the configured database for an operator command, as a service
 * context: the database the server would use (DATABASE_URL, DATABASE_URL_FILE,
 * DATABASE_PASSWORD_FILE; else the embedded one in the data folder). What
 * writes migrates first, as the server does at start; what reads needs the
 * current schema (see src/service/open.ts).
 */
import { KeyRing } from "../core/keys.js";
import type { ResolvedKeys } from "../config/keys.js";
import { loadDatabaseConfig } from "../config/server.js";
import type { ServiceContext } from "../service/context.js";
import type { OpenedService, SchemaPolicy } from "../service/open.js";
import type { CliContext } from "./context.js";

export interface CliServiceOptions {
  /** `--data-dir`: the data folder of an embedded database. */
  readonly dataDir?: string | undefined;
  readonly schema: SchemaPolicy;
  /** The keys the command signs or verifies with (see loadKeys); default: none. */
  readonly keys?: Pick<ResolvedKeys, "signer" | "ring">;
}

/** Opens the configured database; the caller closes it. */
export async function openCliService(
  ctx: CliContext,
  options: CliServiceOptions,
): Promise<OpenedService> {
  const { database, dataDir } = loadDatabaseConfig(
    ctx.env,
    options.dataDir ? { dataDir: options.dataDir } : {},
    ctx.home,
  );
  // Loaded here, so commands that never touch a database never load its drivers.
  const { openService } = await import("../service/open.js");
  return openService({
    database,
    dataDir,
    keys: options.keys ?? { signer: undefined, ring: new KeyRing() },
    schema: options.schema,
    now: () => ctx.now(),
    // A one-shot command runs one statement at a time.
    max: 2,
  });
}

/** Runs `fn` with the configured database open, then closes it. */
export async function withService<T>(
  ctx: CliContext,
  options: CliServiceOptions,
  fn: (service: ServiceContext, opened: OpenedService) => Promise<T>,
): Promise<T> {
  const opened = await openCliService(ctx, options);
  try {
    return await fn(opened.ctx, opened);
  } finally {
    await opened.close();
  }
}
