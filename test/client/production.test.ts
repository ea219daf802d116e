import { describe, expect, it } from "vitest";
import { KeyRing, importPublicKey, isLicenseError } from "../../src/core/index.js";
import { assertProductionSafe, isPackagedBuild } from "../../src/client/index.js";
import { DEV_PUB, VENDOR_PUB } from "./support.js";

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isLicenseError(err) ? err.code : "not a LicenseError";
  }
}

describe("assertProductionSafe", () => {
  it("throws DEV_KEY_IN_PRODUCTION when NODE_ENV=production and the ring holds the dev key", () => {
    const env = { NODE_ENV: "production" };
    expect(codeOf(() => assertProductionSafe([DEV_PUB], { env }))).toBe("DEV_KEY_IN_PRODUCTION");
    expect(codeOf(() => assertProductionSafe([VENDOR_PUB, DEV_PUB], { env }))).toBe(
      "DEV_KEY_IN_PRODUCTION",
    );
    expect(() => assertProductionSafe([DEV_PUB], { env })).toThrow(/NODE_ENV=production/);
  });

  it("takes every NODE_ENV but unset, development, dev and test for production, however spelled", () => {
    for (const NODE_ENV of [
      "Production",
      "PRODUCTION",
      "prod",
      "staging",
      " production ",
      "live",
    ]) {
      const env = { NODE_ENV };
      expect(
        codeOf(() => assertProductionSafe([DEV_PUB], { env })),
        NODE_ENV,
      ).toBe("DEV_KEY_IN_PRODUCTION");
    }
    expect(() => assertProductionSafe([DEV_PUB], { env: { NODE_ENV: "prod" } })).toThrow(
      /this process \(NODE_ENV=prod, which counts as production\)/,
    );
    for (const NODE_ENV of ["", "Development", "DEV", " test "]) {
      expect(
        codeOf(() => assertProductionSafe([DEV_PUB], { env: { NODE_ENV } })),
        NODE_ENV,
      ).toBe(undefined);
    }
  });

  it("throws for a build declared production, whatever NODE_ENV says", () => {
    const ring = new KeyRing([importPublicKey(Buffer.from(DEV_PUB, "hex"))]);
    expect(codeOf(() => assertProductionSafe(ring, { production: true, env: {} }))).toBe(
      "DEV_KEY_IN_PRODUCTION",
    );
  });

  it("passes with the vendor's keys in production, and with the dev key in development", () => {
    expect(
      codeOf(() => assertProductionSafe([VENDOR_PUB], { env: { NODE_ENV: "production" } })),
    ).toBeUndefined();
    expect(codeOf(() => assertProductionSafe([DEV_PUB], { env: {} }))).toBeUndefined();
    expect(
      codeOf(() => assertProductionSafe([DEV_PUB], { env: { NODE_ENV: "development" } })),
    ).toBeUndefined();
    expect(codeOf(() => assertProductionSafe([DEV_PUB], { production: false }))).toBeUndefined();
  });

  it("does not take a plain node process for a packaged build", () => {
    expect(isPackagedBuild()).toBe(false);
  });
});
