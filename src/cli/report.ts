/**
 * How a failed command ends: one line on stderr and an exit status. Used by runCli's
 * error boundary (program.ts) and by the fast path (fast.ts), which runs without commander.
 */
import { LicenseError } from "../core/errors.js";
import type { CliContext } from "./context.js";

/**
 * A {@link LicenseError} prints one line with its code (exit 2 for USAGE, else 1); an
 * unexpected error prints one line and asks for a report, never a stack (set
 * DTLICENSE_DEBUG=1 to see it), exit 1.
 */
export function reportFailure(err: unknown, ctx: CliContext): number {
  if (err instanceof LicenseError) {
    ctx.stderr.write(`dtlicense: ${err.message} [${err.code}]\n`);
    return err.code === "USAGE" ? 2 : 1;
  }
  ctx.stderr.write(
    `dtlicense: unexpected error: ${(err as Error)?.message ?? String(err)} [INTERNAL]\n`,
  );
  if (ctx.env.DTLICENSE_DEBUG) ctx.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
  return 1;
}
