/**
 * The bin's fast path: the command lines buyers' scripts and apps run most, a bare
 * `dtlicense status` or `dtlicense status --json`, run without commander. The bin
 * (scripts/bundle-cli.mjs) starts them from a bundle of this file alone, so a cold start
 * neither compiles nor sets up the command tree; every other command line goes to runCli.
 * The output, exit status and errors are those of the same command through runCli.
 */
import type { CliContext } from "./context.js";
import { statusCommand, type StatusOptions } from "./commands/license.js";
import { reportFailure } from "./report.js";

/** The command lines of the fast path, word for word. */
export const FAST_COMMAND_LINES: readonly (readonly string[])[] = [
  ["status"],
  ["status", "--json"],
];

/** The options of `argv` when it is a fast-path command line; undefined for any other. */
export function fastStatusOptions(argv: readonly string[]): StatusOptions | undefined {
  const fast = FAST_COMMAND_LINES.some(
    (line) => line.length === argv.length && line.every((word, i) => word === argv[i]),
  );
  if (!fast) return undefined;
  return argv.includes("--json") ? { json: true } : {};
}

/** Runs a fast-path command line (see {@link fastStatusOptions}) and returns the exit status. */
export async function runFast(argv: readonly string[], ctx: CliContext): Promise<number> {
  const opts = fastStatusOptions(argv);
  if (opts === undefined) throw new Error(`not a fast-path command line: ${argv.join(" ")}`);
  try {
    return await statusCommand(ctx, opts);
  } catch (err) {
    return reportFailure(err, ctx);
  }
}
