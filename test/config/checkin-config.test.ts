// The check-in's two settings: read once by loadServerConfig, refused with the variable's name.
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { loadServerConfig } from "../../src/config/server.js";
import { LicenseError } from "../../src/core/errors.js";

const home = tmpdir();

function failure(env: Record<string, string>): LicenseError {
  try {
    loadServerConfig(env, { port: "0" }, home);
  } catch (err) {
    if (err instanceof LicenseError) return err;
    throw err;
  }
  throw new Error("no error");
}

describe("the check-in settings", () => {
  it("default to a one-hour revocation list and no seat reclaim", () => {
    const config = loadServerConfig({}, { port: "0" }, home);
    expect(config.revocationsMaxAgeS).toBe(3600);
    expect(config.seatReclaimDays).toBeUndefined();
  });

  it("take whole numbers in range", () => {
    const config = loadServerConfig(
      { DATATOOLS_REVOCATIONS_MAX_AGE_S: "600", DATATOOLS_SEAT_RECLAIM_DAYS: "45" },
      { port: "0" },
      home,
    );
    expect(config.revocationsMaxAgeS).toBe(600);
    expect(config.seatReclaimDays).toBe(45);
  });

  it("refuse anything else with CONFIG_INVALID naming the variable", () => {
    for (const [name, value] of [
      ["DATATOOLS_REVOCATIONS_MAX_AGE_S", "59"],
      ["DATATOOLS_REVOCATIONS_MAX_AGE_S", "1h"],
      ["DATATOOLS_SEAT_RECLAIM_DAYS", "0"],
      ["DATATOOLS_SEAT_RECLAIM_DAYS", "2.5"],
      ["DATATOOLS_SEAT_RECLAIM_DAYS", "-3"],
    ] as const) {
      const err = failure({ [name]: value });
      expect(err.code, `${name}=${value}`).toBe("CONFIG_INVALID");
      expect(err.message).toContain(name);
    }
  });
});
