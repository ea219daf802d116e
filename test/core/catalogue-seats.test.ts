// A catalogue may give each tier a default seat limit for new licenses.
import { describe, expect, it } from "vitest";
import { DEFAULT_CATALOGUE, defaultSeats, parseCatalogue } from "../../src/core/catalogue.js";
import { codeOf } from "./support.js";

const base = { features: DEFAULT_CATALOGUE.features, tiers: DEFAULT_CATALOGUE.tiers };

describe("a catalogue's default seats", () => {
  it("are absent from the built-in catalogue: no limit for any tier", () => {
    expect(DEFAULT_CATALOGUE.seats).toBeUndefined();
    for (const tier of ["lite", "core", "pro"] as const) expect(defaultSeats(tier)).toBeNull();
  });

  it("are read per tier; a tier left out has no limit", () => {
    const c = parseCatalogue({ ...base, seats: { lite: 1, pro: 5 } });
    expect(c.seats).toEqual({ lite: 1, pro: 5 });
    expect(defaultSeats("lite", c)).toBe(1);
    expect(defaultSeats("core", c)).toBeNull();
    expect(defaultSeats("pro", c)).toBe(5);
  });

  it("refuse anything but tiers with whole numbers from 1 to 10000 as CATALOGUE_INVALID", () => {
    for (const seats of [
      [],
      "3",
      null,
      { gold: 3 },
      { pro: 0 },
      { pro: 10_001 },
      { pro: 2.5 },
      { pro: "3" },
    ]) {
      expect(
        codeOf(() => parseCatalogue({ ...base, seats })),
        JSON.stringify(seats),
      ).toBe("CATALOGUE_INVALID");
    }
  });
});
