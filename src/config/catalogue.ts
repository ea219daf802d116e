/** Loading a vendor's replacement catalogue from `$DATATOOLS_CATALOGUE`. */
import { readFileSync } from "node:fs";
import { DEFAULT_CATALOGUE, parseCatalogue, type Catalogue } from "../core/catalogue.js";
import { LicenseError } from "../core/errors.js";
import type { Env } from "./keys.js";

export const CATALOGUE_VAR = "DATATOOLS_CATALOGUE";

/**
 * The catalogue a process uses: the JSON file `$DATATOOLS_CATALOGUE` names,
 * or the built-in one.
 */
export function loadCatalogue(env: Env): Catalogue {
  const path = env[CATALOGUE_VAR];
  if (!path) return DEFAULT_CATALOGUE;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `${CATALOGUE_VAR}: cannot read ${path}`, {
      cause: err,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LicenseError("CATALOGUE_INVALID", `${CATALOGUE_VAR}: ${path} is not valid JSON`, {
      cause: err,
    });
  }
  return parseCatalogue(value, `${CATALOGUE_VAR} (${path})`);
}
