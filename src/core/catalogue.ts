/**
 * The tier → features catalogue, as data. A vendor can replace it with a JSON
 * file of the same shape (see docs/ADMIN.md) without touching code.
 */
import { LicenseError } from "./errors.js";

/** The three tiers a DTLIC2 payload may name. */
export const TIERS = ["lite", "core", "pro"] as const;
/** A tier name: `lite`, `core` or `pro`. */
export type Tier = (typeof TIERS)[number];

/**
 * True when `value` is one of {@link TIERS}.
 *
 * @example
 * ```ts
 * isTier("pro"); // true
 * isTier("gold"); // false
 * ```
 */
export function isTier(value: unknown): value is Tier {
  return typeof value === "string" && (TIERS as readonly string[]).includes(value);
}

/** One feature a license can unlock. `id` is what apps pass to `hasFeature`. */
export interface Feature {
  readonly id: string;
  readonly name: string;
}

/** Which features each tier unlocks (and, optionally, each tier's default seat limit). */
export interface Catalogue {
  readonly features: readonly Feature[];
  readonly tiers: Readonly<Record<Tier, readonly string[]>>;
  /**
   * The seat limit a license server gives a new license of the tier when the
   * request names none (1-10,000); a tier left out gets no limit.
   */
  readonly seats?: Readonly<Partial<Record<Tier, number>>>;
}

const NINE_TOOLS = [
  "deduplicator",
  "text-cleaner",
  "format-standardizer",
  "column-splitter",
  "data-validator",
  "table-merger",
  "pivot-builder",
  "outlier-finder",
  "batch-converter",
];

/**
 * The built-in catalogue: nine data tools in three tiers. Lite has the first
 * three; core has all nine; pro has all nine plus the pro-only features. The
 * Python package's copy is generated from this one
 * (`node python/tools/write-catalogue.mjs`; a test fails until it is current).
 */
export const DEFAULT_CATALOGUE: Catalogue = {
  features: [
    { id: "deduplicator", name: "Deduplicator" },
    { id: "text-cleaner", name: "Text Cleaner" },
    { id: "format-standardizer", name: "Format Standardizer" },
    { id: "column-splitter", name: "Column Splitter" },
    { id: "data-validator", name: "Data Validator" },
    { id: "table-merger", name: "Table Merger" },
    { id: "pivot-builder", name: "Pivot Builder" },
    { id: "outlier-finder", name: "Outlier Finder" },
    { id: "batch-converter", name: "Batch Converter" },
    { id: "automation", name: "Workflow Automation (pro)" },
    { id: "scheduled-runs", name: "Scheduled Runs (pro)" },
  ],
  tiers: {
    lite: ["deduplicator", "text-cleaner", "format-standardizer"],
    core: NINE_TOOLS,
    pro: [...NINE_TOOLS, "automation", "scheduled-runs"],
  },
};

const FEATURE_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Validates a parsed JSON value as a {@link Catalogue}. Every tier must be
 * present, every feature id well formed and unique, every tier entry a known id.
 *
 * @example
 * ```ts
 * const catalogue = parseCatalogue(JSON.parse(text));
 * ```
 */
export function parseCatalogue(value: unknown, source = "the catalogue"): Catalogue {
  const fail = (why: string): never => {
    throw new LicenseError("CATALOGUE_INVALID", `${source}: ${why}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail('must be a JSON object with "features" and "tiers"');
  }
  const { features, tiers } = value as { features?: unknown; tiers?: unknown };
  if (!Array.isArray(features) || features.length === 0)
    fail('"features" must be a non-empty array');
  const ids = new Set<string>();
  const parsed: Feature[] = [];
  for (const [i, f] of (features as unknown[]).entries()) {
    const { id, name } = (f ?? {}) as { id?: unknown; name?: unknown };
    if (typeof id !== "string" || !FEATURE_ID.test(id)) {
      fail(`features[${i}].id must be lower-case letters, digits and dashes`);
    }
    if (typeof name !== "string" || name.trim() === "") fail(`features[${i}].name must be text`);
    if (ids.has(id as string)) fail(`feature id "${id as string}" appears twice`);
    ids.add(id as string);
    parsed.push({ id: id as string, name: name as string });
  }
  if (typeof tiers !== "object" || tiers === null || Array.isArray(tiers)) {
    fail('"tiers" must be an object with lite, core and pro');
  }
  const out = {} as Record<Tier, string[]>;
  for (const tier of TIERS) {
    const list = (tiers as Record<string, unknown>)[tier];
    if (!Array.isArray(list)) fail(`tiers.${tier} must be an array of feature ids`);
    for (const id of list as unknown[]) {
      if (typeof id !== "string" || !ids.has(id)) {
        fail(`tiers.${tier} names "${String(id)}", which is not in "features"`);
      }
    }
    out[tier] = [...new Set(list as string[])];
  }
  const { seats } = value as { seats?: unknown };
  if (seats === undefined) return { features: parsed, tiers: out };
  if (typeof seats !== "object" || seats === null || Array.isArray(seats)) {
    fail('"seats" must be an object of tier → seat limit');
  }
  const limits: Partial<Record<Tier, number>> = {};
  for (const [tier, n] of Object.entries(seats as Record<string, unknown>)) {
    if (!isTier(tier)) fail(`seats names "${tier}", which is not a tier`);
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 10_000) {
      fail(`seats.${tier} must be a whole number from 1 to 10000`);
    }
    limits[tier as Tier] = n as number;
  }
  return { features: parsed, tiers: out, seats: limits };
}

/**
 * The seat limit a new license of `tier` gets when none is asked for; null: no limit.
 *
 * @example
 * ```ts
 * defaultSeats("pro", { ...DEFAULT_CATALOGUE, seats: { pro: 5 } }); // 5
 * ```
 */
export function defaultSeats(tier: Tier, catalogue: Catalogue = DEFAULT_CATALOGUE): number | null {
  return catalogue.seats?.[tier] ?? null;
}

/**
 * The features a tier unlocks, in catalogue order.
 *
 * @example
 * ```ts
 * featuresForTier("lite").map((f) => f.name); // ["Deduplicator", "Text Cleaner", "Format Standardizer"]
 * ```
 */
export function featuresForTier(tier: Tier, catalogue: Catalogue = DEFAULT_CATALOGUE): Feature[] {
  const wanted = new Set(catalogue.tiers[tier]);
  return catalogue.features.filter((f) => wanted.has(f.id));
}
