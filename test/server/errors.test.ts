// The server's error boundary: one status per code, checked complete by the compiler and
// here; codes no response may carry, and anything unexpected, are a logged 500 INTERNAL.
import { describe, expect, it } from "vitest";
import {
  ERROR_CODES,
  LicenseError,
  isLicenseError,
  type ErrorCode,
} from "../../src/core/errors.js";
import { mintLicense } from "../../src/core/mint.js";
import { buildApp } from "../../src/server/app.js";
import { ApiError, STATUS, statusOf, toClientError } from "../../src/server/errors.js";
import type { Database } from "../../src/store/db.js";
import { START, errorOf, ring, signer } from "./harness.js";

const ALL = Object.keys(ERROR_CODES) as ErrorCode[];
const NEVER_IN_A_RESPONSE: ErrorCode[] = [
  "USAGE",
  "SERVER_UNREACHABLE",
  "LICENSE_NONE",
  "LICENSE_EXPIRED",
  "LICENSE_TAMPERED",
  "LICENSE_CORRUPT",
  "LICENSE_EXISTS",
  "IDENTITY_MISMATCH",
  "RENEW_DIFFERENT_BUYER",
  "RENEW_EARLIER_EXPIRY",
  "CLOCK_ROLLBACK",
  "ANSWER_NONCE_MISMATCH",
  "ANSWER_CLOCK_SKEW",
  "ANSWER_STALE",
  "CHECK_IN_REQUIRED",
  "CHECK_IN_UNAVAILABLE",
  "LICENSE_REVOKED",
  "LICENSE_SUSPENDED",
];

/** A database whose every statement throws `err`. */
function failingDatabase(err: unknown): Database {
  const fail = async (): Promise<never> => {
    throw err;
  };
  return {
    kind: "pglite",
    query: fail,
    transaction: fail,
    poolStats: () => ({ total: 0, idle: 0, waiting: 0, max: 1 }),
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
}

describe("the error boundary", () => {
  it("has a status for every code a response may carry, and none for the others", () => {
    const expected = ALL.filter((c) => !NEVER_IN_A_RESPONSE.includes(c)).sort();
    expect(Object.keys(STATUS).sort()).toEqual(expected);
    for (const [code, status] of Object.entries(STATUS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
  });

  it("keeps the status of every code the API answered with before", () => {
    const before: [ErrorCode, number][] = [
      ["REQUEST_INVALID", 400],
      ["NAME_INVALID", 400],
      ["EMAIL_INVALID", 400],
      ["TIER_UNKNOWN", 400],
      ["YEARS_INVALID", 400],
      ["LICENSE_KEY_INVALID", 400],
      ["RECORD_MISMATCH", 400],
      ["AUTH_MISSING", 401],
      ["AUTH_INVALID", 401],
      ["NOT_FOUND", 404],
      ["ROUTE_NOT_FOUND", 404],
      ["LICENSE_KEY_TAKEN", 409],
      ["IDEMPOTENCY_KEY_REUSED", 409],
      ["LICENSE_STATE_CONFLICT", 409],
      ["REQUEST_TOO_LARGE", 413],
      ["MEDIA_TYPE_UNSUPPORTED", 415],
      ["RATE_LIMITED", 429],
      ["INTERNAL", 500],
      ["KEY_MISSING", 503],
      ["DATABASE_UNAVAILABLE", 503],
      ["SCHEMA_OUTDATED", 503],
    ];
    for (const [code, status] of before) expect(statusOf(code), code).toBe(status);
  });

  it("gives the server's own keys, files and configuration failing a 5xx, never a client error", () => {
    for (const code of [
      "KEY_INVALID",
      "KEY_WEAK",
      "KEY_MISMATCH",
      "DEV_KEY_IN_PRODUCTION",
      "CATALOGUE_INVALID",
      "CONFIG_INVALID",
      "FILE_UNREADABLE",
      "FILE_UNWRITABLE",
      "FILE_INSECURE",
      "LOG_LOCKED",
      "DATA_DIR_LOCKED",
    ] as const) {
      expect(statusOf(code), code).toBeGreaterThanOrEqual(500);
    }
  });

  it("turns an error whose code no response may carry into INTERNAL, without its message", () => {
    for (const code of NEVER_IN_A_RESPONSE) {
      const out = toClientError(new LicenseError(code, "detail from /srv/secret"));
      expect(out.code, code).toBe("INTERNAL");
      expect(out.message).not.toContain("/srv/secret");
      expect(statusOf(code), code).toBe(500);
    }
    expect(toClientError(new TypeError("x is undefined")).code).toBe("INTERNAL");
    expect(toClientError(undefined).code).toBe("INTERNAL");
  });

  it("answers a workflow's unexpected failure with a logged 500 whose body has no details", async () => {
    const cases: [unknown, number, string][] = [
      [new LicenseError("USAGE", "from /srv/secret"), 500, "INTERNAL"],
      [new LicenseError("FILE_UNWRITABLE", "cannot write the file"), 500, "FILE_UNWRITABLE"],
      [new RangeError("from /srv/secret"), 500, "INTERNAL"],
    ];
    for (const [thrown, status, code] of cases) {
      const logs: string[] = [];
      const app = await buildApp({
        db: failingDatabase(thrown),
        signer,
        ring,
        logStream: { write: (line) => void logs.push(line) },
      });
      try {
        const blob = mintLicense(
          { name: "Ada Lovelace", email: "ada@example.com" },
          signer,
          START,
        ).blob;
        const res = await app.inject({
          method: "POST",
          url: "/v1/licenses/verify",
          payload: { blob },
        });
        expect(res.statusCode, res.body).toBe(status);
        expect(errorOf(res).code).toBe(code);
        expect(res.body).not.toContain("/srv/secret");
        expect(logs.some((l) => l.includes('"level":50') && l.includes("request failed"))).toBe(
          true,
        );
      } finally {
        await app.close();
      }
    }
  });

  it("makes any LicenseError with a response's code an ApiError, across copies of the class", () => {
    const made = new ApiError("NOT_FOUND", "no license");
    expect(made).toBeInstanceOf(LicenseError);
    expect(isLicenseError(made, "NOT_FOUND")).toBe(true);
    expect(new LicenseError("TIER_UNKNOWN")).toBeInstanceOf(ApiError);
    expect(new LicenseError("USAGE")).not.toBeInstanceOf(ApiError);
    // A LicenseError from another copy of the module carries the same brand.
    const foreign = Object.defineProperty(new Error("x"), "code", { value: "NOT_FOUND" });
    Object.defineProperty(foreign, Symbol.for("datatools-license.LicenseError"), { value: true });
    expect(foreign).toBeInstanceOf(ApiError);
    expect({ code: "NOT_FOUND" }).not.toBeInstanceOf(ApiError);
  });
});
