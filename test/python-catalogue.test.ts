// The Python package (python/) carries the catalogue as a module generated from this one:
// a change to src/core/catalogue.ts fails here until python/tools/write-catalogue.mjs is run.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CATALOGUE } from "../src/core/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const GENERATED = join(ROOT, "python/src/datatools_license/_catalogue_data.py");

describe("the Python package's catalogue", () => {
  it("is what python/tools/write-catalogue.mjs writes from the built catalogue", () => {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, "python/tools/write-catalogue.mjs"), "--stdout"],
      {
        encoding: "utf8",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(GENERATED, "utf8"));
  });

  it("holds DEFAULT_CATALOGUE's tiers and features", () => {
    const text = readFileSync(GENERATED, "utf8");
    const literal = text.slice(text.indexOf("CATALOGUE = ") + "CATALOGUE = ".length);
    expect(JSON.parse(literal)).toEqual(DEFAULT_CATALOGUE);
  });
});
