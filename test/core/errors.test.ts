// The error codes: stable strings (public API), each in one group by where it arises,
// and each layer raising only the codes of the groups it may meet.
import { readFileSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BUYER_ERROR_CODES,
  CLI_ERROR_CODES,
  CORE_ERROR_CODES,
  ERROR_CODES,
  HTTP_ERROR_CODES,
  LicenseError,
  SERVICE_ERROR_CODES,
  isApiErrorCode,
  isLicenseError,
} from "../../src/core/errors.js";

const SRC = resolve(import.meta.dirname, "../../src");

// Every code ever published. Codes are never renamed or removed; add new ones here.
const PUBLISHED = [
  "ANSWER_CLOCK_SKEW",
  "ANSWER_KEY_UNKNOWN",
  "ANSWER_NONCE_MISMATCH",
  "ANSWER_SIGNATURE_INVALID",
  "ANSWER_STALE",
  "ANSWER_UNSIGNED",
  "AUTH_INVALID",
  "AUTH_MISSING",
  "BLOB_EMPTY",
  "BLOB_ENCODING",
  "BLOB_MALFORMED",
  "BLOB_PREFIX_UNKNOWN",
  "BLOB_TOO_LARGE",
  "BLOB_V1_UNSUPPORTED",
  "CATALOGUE_INVALID",
  "CHECK_IN_REQUIRED",
  "CHECK_IN_UNAVAILABLE",
  "CLOCK_ROLLBACK",
  "CONFIG_INVALID",
  "DATABASE_UNAVAILABLE",
  "DATA_DIR_LOCKED",
  "DEV_KEY_IN_PRODUCTION",
  "EMAIL_INVALID",
  "FILE_EXISTS",
  "FILE_INSECURE",
  "FILE_UNREADABLE",
  "FILE_UNWRITABLE",
  "IDEMPOTENCY_KEY_REUSED",
  "IDENTITY_MISMATCH",
  "INTERNAL",
  "KEY_INVALID",
  "KEY_MISMATCH",
  "KEY_MISSING",
  "KEY_UNKNOWN",
  "KEY_WEAK",
  "LEDGER_BROKEN",
  "LICENSE_CORRUPT",
  "LICENSE_EXISTS",
  "LICENSE_EXPIRED",
  "LICENSE_KEY_INVALID",
  "LICENSE_KEY_TAKEN",
  "LICENSE_NONE",
  "LICENSE_REVOKED",
  "LICENSE_STATE_CONFLICT",
  "LICENSE_SUSPENDED",
  "LICENSE_TAMPERED",
  "LOG_LOCKED",
  "LOG_NOT_FOUND",
  "MEDIA_TYPE_UNSUPPORTED",
  "NAME_INVALID",
  "NOT_ACTIVATED",
  "NOT_FOUND",
  "PAYLOAD_FIELD",
  "PAYLOAD_NOT_JSON",
  "PAYLOAD_NOT_OBJECT",
  "PAYLOAD_VERSION",
  "RATE_LIMITED",
  "RECORD_MISMATCH",
  "RENEW_DIFFERENT_BUYER",
  "RENEW_EARLIER_EXPIRY",
  "REQUEST_INVALID",
  "REQUEST_TOO_LARGE",
  "ROUTE_NOT_FOUND",
  "SCHEMA_OUTDATED",
  "SEATS_INVALID",
  "SEAT_LIMIT_REACHED",
  "SECRETS_LOCKED",
  "SERVER_UNREACHABLE",
  "SIGNATURE_INVALID",
  "TIER_UNKNOWN",
  "USAGE",
  "WEBHOOK_EVENT_PROCESSED",
  "WEBHOOK_NOT_CONFIGURED",
  "WEBHOOK_PAYLOAD_INVALID",
  "WEBHOOK_SIGNATURE_INVALID",
  "YEARS_INVALID",
];

const GROUPS = {
  core: CORE_ERROR_CODES,
  buyer: BUYER_ERROR_CODES,
  service: SERVICE_ERROR_CODES,
  http: HTTP_ERROR_CODES,
  cli: CLI_ERROR_CODES,
};
type Group = keyof typeof GROUPS;

// Which groups' codes each source folder may raise (src/cli may raise any).
const ALLOWED: Record<string, Group[]> = {
  core: ["core"],
  config: ["core"],
  issuer: ["core"],
  client: ["core", "buyer"],
  store: ["core", "service"],
  service: ["core", "service"],
  server: ["core", "service", "http"],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("error codes", () => {
  it("keeps every published code", () => {
    for (const code of PUBLISHED) expect(ERROR_CODES, code).toHaveProperty(code);
    expect(Object.keys(ERROR_CODES).sort()).toEqual(PUBLISHED);
  });

  it("puts each code in exactly one group, and ERROR_CODES is all of them", () => {
    const seen = new Map<string, string>();
    for (const [group, codes] of Object.entries(GROUPS)) {
      for (const code of Object.keys(codes)) {
        expect(seen.get(code), `${code} is in ${seen.get(code)} and ${group}`).toBeUndefined();
        seen.set(code, group);
      }
    }
    expect([...seen.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(meaning, code).toMatch(/^[a-z].{10,}$/);
    }
  });

  it("says which codes an HTTP response may carry: none of the CLI's or the buyer machine's", () => {
    for (const code of Object.keys(ERROR_CODES)) {
      const api = !(code in CLI_ERROR_CODES) && !(code in BUYER_ERROR_CODES);
      expect(isApiErrorCode(code), code).toBe(api);
    }
    expect(isApiErrorCode("toString")).toBe(false);
    expect(isApiErrorCode("NOT_A_CODE")).toBe(false);
  });

  it("raises in each layer only the codes of the groups that layer may meet", () => {
    const groupOf = (code: string) =>
      (Object.keys(GROUPS) as Group[]).find((g) => code in GROUPS[g]);
    const wrong: string[] = [];
    for (const file of sources(SRC)) {
      const layer = relative(SRC, file).split("/")[0]!;
      const allowed = ALLOWED[layer];
      if (!allowed) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/new (?:LicenseError|ApiError)\(\s*"([A-Z_0-9]+)"/g)) {
        const group = groupOf(m[1]!);
        if (!group || !allowed.includes(group)) {
          wrong.push(`${relative(SRC, file)}: ${m[1]} (${group ?? "no group"})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps one error class whose instanceof holds for every copy of it", () => {
    const err = new LicenseError("TIER_UNKNOWN");
    expect(err.name).toBe("LicenseError");
    expect(err.message).toBe(ERROR_CODES.TIER_UNKNOWN);
    const foreign = Object.defineProperty(new Error("x"), "code", { value: "USAGE" });
    Object.defineProperty(foreign, Symbol.for("datatools-license.LicenseError"), { value: true });
    expect(foreign).toBeInstanceOf(LicenseError);
    expect(isLicenseError(foreign, "USAGE")).toBe(true);
    expect(new Error("x")).not.toBeInstanceOf(LicenseError);
  });
});
