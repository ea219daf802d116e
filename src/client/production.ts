/**
 * The production-safety check: a production build must never trust the
 * public development key, since anyone can sign licenses with it.
 */
import { createRequire } from "node:module";
import { runtimeMode } from "../core/environment.js";
import { LicenseError } from "../core/errors.js";
import { DEV_KID, type KeyRing } from "../core/keys.js";
import { toKeyRing } from "./keys.js";

interface SeaModule {
  isSea(): boolean;
}

/**
 * True when this process is a packaged single-executable build (Node's SEA).
 * `node:sea` exists from Node 20.12; on older versions this is false.
 *
 * @example
 * ```ts
 * if (isPackagedBuild()) console.log("running the packaged binary");
 * ```
 */
export function isPackagedBuild(): boolean {
  try {
    const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    // createRequire needs an absolute path; any will do, since only a built-in is loaded.
    const sea = (
      getBuiltin ? getBuiltin("node:sea") : createRequire(`${process.cwd()}/`)("node:sea")
    ) as Partial<SeaModule> | undefined;
    return typeof sea?.isSea === "function" && sea.isSea();
  } catch {
    return false;
  }
}

/** When the check applies. */
export interface ProductionOptions {
  /**
   * Force the answer to "is this a production build?". Default: a packaged
   * single-executable build, or a production `NODE_ENV` in `env`: any value
   * other than unset, empty, `development`, `dev` or `test` (trimmed, any case).
   */
  readonly production?: boolean;
  /** The environment to read `NODE_ENV` from. Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Throws `DEV_KEY_IN_PRODUCTION` when the keys licenses are verified with
 * include the in-tree development key and this is a production build (a
 * packaged single executable, or a `NODE_ENV` that counts as production: every
 * value except unset, empty, `development`, `dev` and `test`). Call it at
 * start-up, before the first license check.
 *
 * @example
 * ```ts
 * import { assertProductionSafe, loadLicense } from "datatools-license/client";
 *
 * assertProductionSafe(VENDOR_KEYS); // throws in a production build that trusts the dev key
 * const license = loadLicense({ publicKeys: VENDOR_KEYS });
 * ```
 */
export function assertProductionSafe(
  publicKeys: readonly string[] | KeyRing,
  options: ProductionOptions = {},
): void {
  const packaged = isPackagedBuild();
  const mode = runtimeMode((options.env ?? process.env).NODE_ENV);
  const production = options.production ?? (packaged || mode.production);
  if (!production) return;
  if (!toKeyRing(publicKeys).has(DEV_KID)) return;
  const where = packaged
    ? "this packaged build"
    : options.production
      ? "this production build"
      : `this process (${mode.describe}, which counts as production)`;
  const fix = packaged
    ? "rebuild it with DATATOOLS_LICENSE_PUBKEY set to the vendor's public key (see docs/BUILD.md)"
    : "set DATATOOLS_LICENSE_PUBKEY to the vendor's public key(s)";
  throw new LicenseError(
    "DEV_KEY_IN_PRODUCTION",
    `${where} trusts the public development key (kid ${DEV_KID}), with which anyone can sign a license; ${fix}`,
  );
}
