/** `dtlicense serve`: run the license server until SIGINT or SIGTERM. */
import type { Command } from "commander";
import { DEV_KEY_WARNING } from "../../config/keys.js";
import type { CliContext } from "../context.js";
import type { Wrap } from "../program.js";

interface ServeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
}

export function registerServe(program: Command, ctx: CliContext, wrap: Wrap): void {
  program
    .command("serve")
    .description(
      "Run the license server (HTTP API on 127.0.0.1:8090 by default). Without DATABASE_URL it " +
        "keeps its data in an embedded PostgreSQL under the data folder. Stops on SIGINT/SIGTERM.",
    )
    .option(
      "--host <address>",
      "address to listen on (default $DATATOOLS_SERVER_HOST or 127.0.0.1)",
    )
    .option("--port <n>", "port to listen on (default $DATATOOLS_SERVER_PORT or 8090; 0 picks one)")
    .option("--data-dir <dir>", "data folder (default $DATATOOLS_DATA_DIR or ~/.datatools-license)")
    .addHelpText(
      "after",
      "\nConfiguration variables are listed in docs/LICENSE-SERVER.md. JSON logs go to stdout.\n",
    )
    .action(wrap((opts: ServeOptions) => serve(ctx, opts)));
}

async function serve(ctx: CliContext, opts: ServeOptions): Promise<number> {
  // Loaded here so commands that do not serve never load fastify or the database drivers.
  const { loadServerConfig } = await import("../../config/server.js");
  const config = loadServerConfig(ctx.env, opts, ctx.home);
  if (config.keys.usingDevKey) ctx.stderr.write(`dtlicense: ${DEV_KEY_WARNING}\n`);
  // Listen for signals before starting, so a stop asked for during start-up is not lost.
  let signalled: string | undefined;
  let wake: (() => void) | undefined;
  const onInt = () => stopAsked("SIGINT");
  const onTerm = () => stopAsked("SIGTERM");
  const stopAsked = (signal: string) => {
    signalled ??= signal;
    wake?.();
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  // From here on a signal is handled: it stops the server once it has started.
  ctx.stderr.write(`dtlicense: starting (pid ${process.pid}); SIGINT or SIGTERM stops it\n`);
  try {
    const { startServer } = await import("../../server/start.js");
    const server = await startServer({ config });
    ctx.stderr.write(`dtlicense: data: ${server.where}\n`);
    if (server.adminTokenFile) {
      ctx.stderr.write(
        `dtlicense: first start: the initial admin token is in ${server.adminTokenFile} (mode 600)\n`,
      );
    }
    ctx.stderr.write(`dtlicense: listening on ${server.url}\n`);
    if (signalled === undefined) await new Promise<void>((done) => (wake = done));
    ctx.stderr.write(`dtlicense: ${signalled}: finishing in-flight requests, then stopping\n`);
    await server.close();
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
  ctx.stderr.write("dtlicense: stopped\n");
  return 0;
}
