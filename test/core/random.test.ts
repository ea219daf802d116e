import { describe, expect, it } from "vitest";
import { randomDraws } from "../../src/core/random.js";
import { generateLicenseKey } from "../../src/core/license.js";

describe("random draws", () => {
  it("gives draws of the asked size that later draws, across blocks, never overwrite", () => {
    const draw = randomDraws(8, 4);
    const first = draw();
    const copy = Buffer.from(first);
    const more = Array.from({ length: 20 }, () => draw());
    expect(first).toHaveLength(8);
    expect(more.every((d) => d.length === 8)).toBe(true);
    expect(first.equals(copy)).toBe(true);
  });

  it("gives distinct draws within a block and from one block to the next", () => {
    const draw = randomDraws(8, 16);
    const seen = new Set(Array.from({ length: 1000 }, () => draw().toString("hex")));
    expect(seen.size).toBe(1000);
  });

  it("gives generated license keys that differ from one call to the next", () => {
    const keys = new Set(Array.from({ length: 2000 }, () => generateLicenseKey("core")));
    expect(keys.size).toBe(2000);
    for (const k of keys) expect(k).toMatch(/^DT1-CORE-[0-9a-f]{8}-[0-9a-f]{8}$/);
  });
});
