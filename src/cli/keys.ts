/** Key set-up shared by the commands: resolve once, apply the production rule, warn about the development key. */
import { DEV_KEY_WARNING, resolveKeys, type ResolvedKeys } from "../config/keys.js";
import { assertDevKeyAllowed } from "../config/server.js";
import type { CliContext } from "./context.js";

/**
 * Resolves the keys the environment configures for a command that signs or
 * trusts them; refuses the development key in production (DEV_KEY_IN_PRODUCTION)
 * and otherwise warns on stderr when the keys are the dev pair.
 */
export function loadKeys(ctx: CliContext): ResolvedKeys {
  const keys = resolveKeys(ctx.env);
  assertDevKeyAllowed(keys, ctx.env);
  if (keys.usingDevKey) ctx.stderr.write(`dtlicense: ${DEV_KEY_WARNING}\n`);
  return keys;
}
