/**
 * What the buyer commands trust: the keys and catalogue of a packaged binary
 * (baked in when it was built) or of the environment, and the production check
 * that runs before them. Shared by the command line's entry and the buyer commands.
 */
import { DEFAULT_CATALOGUE, parseCatalogue, type Catalogue } from "../core/catalogue.js";
import { runtimeMode } from "../core/environment.js";
import { KeyRing } from "../core/keys.js";
import { loadCatalogue } from "../config/catalogue.js";
import { parsePublicKeyList, resolveKeys } from "../config/keys.js";
import { assertProductionSafe, isPackagedBuild } from "../client/production.js";
import type { CliContext } from "./context.js";
import { loadKeys } from "./keys.js";

// Replaced by string constants in the packaged binary (scripts/build-binary.mjs);
// undeclared everywhere else, where `typeof` makes them undefined.
declare const __DTLICENSE_BAKED_KEYS__: string | undefined;
declare const __DTLICENSE_BAKED_CATALOGUE__: string | undefined;

/** The public keys baked into a packaged binary; undefined when running from source. */
function bakedKeys(): string | undefined {
  return typeof __DTLICENSE_BAKED_KEYS__ === "string" ? __DTLICENSE_BAKED_KEYS__ : undefined;
}

function bakedCatalogue(): string | undefined {
  return typeof __DTLICENSE_BAKED_CATALOGUE__ === "string"
    ? __DTLICENSE_BAKED_CATALOGUE__
    : undefined;
}

/**
 * The keys the buyer commands verify with. A packaged binary uses only the
 * keys baked in when it was built and ignores the environment: if a variable
 * could add a key, a buyer could trust a key of their own and sign a license.
 */
export function buyerRing(ctx: CliContext, quiet = false): KeyRing {
  const baked = bakedKeys();
  if (baked !== undefined) {
    return new KeyRing(parsePublicKeyList(baked, "the keys built into this binary"));
  }
  return quiet ? resolveKeys(ctx.env).ring : loadKeys(ctx).ring;
}

/**
 * The catalogue. A packaged binary uses the one baked in, or the built-in one,
 * and never `$DATATOOLS_CATALOGUE`: a buyer could map lite to every feature.
 * From source: `$DATATOOLS_CATALOGUE` or the built-in one.
 */
export function buyerCatalogue(ctx: CliContext): Catalogue {
  const baked = bakedCatalogue();
  if (baked !== undefined) {
    return parseCatalogue(JSON.parse(baked), "the catalogue built into this binary");
  }
  return bakedKeys() !== undefined ? DEFAULT_CATALOGUE : loadCatalogue(ctx.env);
}

/** True when this process is the packaged buyer binary (keys baked in, or a single executable). */
export function isPackagedCli(): boolean {
  return bakedKeys() !== undefined || isPackagedBuild();
}

/**
 * The production check of the buyer commands: a packaged binary, or a run whose
 * NODE_ENV counts as production (src/core/environment.ts), refuses when it
 * trusts the development key. The packaged binary runs it before any command
 * (see runCli); from source the buyer commands run it before they open the
 * license store. Costs nothing in development, where it returns at once.
 */
export function assertCliProductionSafe(ctx: CliContext): void {
  const baked = bakedKeys() !== undefined;
  if (!baked && !runtimeMode(ctx.env.NODE_ENV).production && !isPackagedBuild()) return;
  assertProductionSafe(buyerRing(ctx, true), baked ? { production: true } : { env: ctx.env });
}
