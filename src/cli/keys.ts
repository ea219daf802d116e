/** Key set-up shared by the commands: resolve once, warn about the development key. */
import { DEV_KEY_WARNING, resolveKeys, type ResolvedKeys } from "../config/keys.js";
import type { CliContext } from "./context.js";

/** Resolves the keys the environment configures and warns on stderr when they are the dev pair. */
export function loadKeys(ctx: CliContext): ResolvedKeys {
  const keys = resolveKeys(ctx.env);
  if (keys.usingDevKey) ctx.stderr.write(`dtlicense: ${DEV_KEY_WARNING}\n`);
  return keys;
}
