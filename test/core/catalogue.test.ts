import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CATALOGUE_VAR, loadCatalogue } from "../../src/config/catalogue.js";
import {
  DEFAULT_CATALOGUE,
  TIERS,
  featuresForTier,
  isTier,
  parseCatalogue,
  type Catalogue,
} from "../../src/core/index.js";
import { errorOf } from "./support.js";

const names = (tier: "lite" | "core" | "pro", catalogue?: Catalogue) =>
  featuresForTier(tier, catalogue).map((f) => f.name);

describe("the default catalogue", () => {
  it("gives lite exactly Deduplicator, Text Cleaner and Format Standardizer", () => {
    expect(names("lite")).toEqual(["Deduplicator", "Text Cleaner", "Format Standardizer"]);
  });

  it("gives core all nine tools, lite's three among them", () => {
    const core = names("core");
    expect(core).toHaveLength(9);
    expect(new Set(core).size).toBe(9);
    expect(core.slice(0, 3)).toEqual(names("lite"));
    for (const name of core) expect(name).not.toMatch(/pro/i);
  });

  it("gives pro the nine tools plus pro-only features", () => {
    const pro = names("pro");
    const core = names("core");
    expect(pro.slice(0, 9)).toEqual(core);
    const proOnly = pro.slice(9);
    expect(proOnly.length).toBeGreaterThan(0);
    for (const name of proOnly) expect(core).not.toContain(name);
  });

  it("is itself a valid catalogue and survives a JSON round trip", () => {
    expect(parseCatalogue(DEFAULT_CATALOGUE)).toEqual(DEFAULT_CATALOGUE);
    expect(parseCatalogue(JSON.parse(JSON.stringify(DEFAULT_CATALOGUE)))).toEqual(
      DEFAULT_CATALOGUE,
    );
  });

  it("has unique, well-formed feature ids", () => {
    const ids = DEFAULT_CATALOGUE.features.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9][a-z0-9-]*$/);
  });
});

describe("isTier", () => {
  it("knows exactly lite, core and pro", () => {
    expect(TIERS).toEqual(["lite", "core", "pro"]);
    for (const t of TIERS) expect(isTier(t)).toBe(true);
    for (const t of ["Lite", "CORE", "enterprise", "", " pro", "toString", 1, null, undefined]) {
      expect(isTier(t)).toBe(false);
    }
  });
});

const VENDOR = {
  features: [
    { id: "import", name: "Import" },
    { id: "export", name: "Export" },
    { id: "ai-cleanup", name: "AI Cleanup" },
  ],
  tiers: { lite: ["import"], core: ["import", "export"], pro: ["import", "export", "ai-cleanup"] },
};

describe("parseCatalogue", () => {
  it("accepts a vendor's replacement and answers featuresForTier from it", () => {
    const catalogue = parseCatalogue(VENDOR);
    expect(names("lite", catalogue)).toEqual(["Import"]);
    expect(names("core", catalogue)).toEqual(["Import", "Export"]);
    expect(names("pro", catalogue)).toEqual(["Import", "Export", "AI Cleanup"]);
  });

  it("lists features in catalogue order and once, however the tier lists them", () => {
    const catalogue = parseCatalogue({
      ...VENDOR,
      tiers: { ...VENDOR.tiers, pro: ["ai-cleanup", "import", "import"] },
    });
    expect(catalogue.tiers.pro).toEqual(["ai-cleanup", "import"]);
    expect(names("pro", catalogue)).toEqual(["Import", "AI Cleanup"]);
  });

  it("allows a tier with no features", () => {
    const catalogue = parseCatalogue({ ...VENDOR, tiers: { ...VENDOR.tiers, lite: [] } });
    expect(names("lite", catalogue)).toEqual([]);
  });

  const feature = (f: unknown) => ({ ...VENDOR, features: [...VENDOR.features, f] });
  const tiers = (t: unknown) => ({ ...VENDOR, tiers: t });
  const without = (tier: string) =>
    Object.fromEntries(Object.entries(VENDOR.tiers).filter(([name]) => name !== tier));
  const malformed: [string, unknown][] = [
    ["null", null],
    ["an array", [VENDOR]],
    ["a string", "catalogue"],
    ["a number", 42],
    ["no features", { tiers: VENDOR.tiers }],
    ["features not an array", { ...VENDOR, features: { import: "Import" } }],
    ["no feature at all", { ...VENDOR, features: [] }],
    ["a feature that is null", feature(null)],
    ["a feature that is a string", feature("export")],
    ["a feature without an id", feature({ name: "X" })],
    ["an upper-case id", feature({ id: "Export2", name: "X" })],
    ["an id with a space", feature({ id: "export two", name: "X" })],
    ["an id starting with a dash", feature({ id: "-x", name: "X" })],
    ["an id of 65 characters", feature({ id: "x".repeat(65), name: "X" })],
    ["an id that is a number", feature({ id: 7, name: "X" })],
    ["a feature without a name", feature({ id: "x" })],
    ["a blank name", feature({ id: "x", name: "  " })],
    ["a name that is a number", feature({ id: "x", name: 7 })],
    ["a duplicate id", feature({ id: "import", name: "Import again" })],
    ["no tiers", { features: VENDOR.features }],
    ["tiers an array", tiers([["import"]])],
    ["tiers null", tiers(null)],
    ["lite missing", tiers(without("lite"))],
    ["pro missing", tiers(without("pro"))],
    ["a tier that is not an array", tiers({ ...VENDOR.tiers, core: "import" })],
    ["a tier naming an unknown feature", tiers({ ...VENDOR.tiers, core: ["import", "teleport"] })],
    ["a tier entry that is not text", tiers({ ...VENDOR.tiers, core: [1] })],
  ];

  for (const [what, value] of malformed) {
    it(`refuses ${what} with CATALOGUE_INVALID, naming the source`, () => {
      const err = errorOf(() => parseCatalogue(value, "vendor.json"));
      expect(err.code).toBe("CATALOGUE_INVALID");
      expect(err.message).toMatch(/^vendor\.json: /);
    });
  }
});

describe("loadCatalogue", () => {
  const write = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), "dtl-cat-")), "catalogue.json");
    writeFileSync(path, text);
    return path;
  };

  it("uses the built-in catalogue when DATATOOLS_CATALOGUE is not set", () => {
    expect(loadCatalogue({})).toBe(DEFAULT_CATALOGUE);
  });

  it("replaces it with the vendor's JSON file", () => {
    const catalogue = loadCatalogue({ [CATALOGUE_VAR]: write(JSON.stringify(VENDOR)) });
    expect(names("core", catalogue)).toEqual(["Import", "Export"]);
  });

  it("refuses a file that is not JSON, or not a catalogue, naming the variable", () => {
    for (const text of ["{ not json", JSON.stringify({ features: [] })]) {
      const err = errorOf(() => loadCatalogue({ [CATALOGUE_VAR]: write(text) }));
      expect(err.code).toBe("CATALOGUE_INVALID");
      expect(err.message).toContain(CATALOGUE_VAR);
    }
  });

  it("refuses a missing file with FILE_UNREADABLE", () => {
    const err = errorOf(() => loadCatalogue({ [CATALOGUE_VAR]: "/nonexistent/catalogue.json" }));
    expect(err.code).toBe("FILE_UNREADABLE");
  });
});
