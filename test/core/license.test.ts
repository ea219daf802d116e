import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEV_PRIVATE_KEY_HEX,
  KeyRing,
  LICENSE_KEY_PATTERN,
  MAX_EMAIL_LENGTH,
  MAX_NAME_LENGTH,
  addYears,
  daysLeft,
  formatTime,
  generateLicenseKey,
  importSigner,
  mintLicense,
  normalizeIdentity,
  parseTime,
  sameIdentity,
  validateEmail,
  validateLicenseKey,
  validateName,
  validateTier,
  validateYears,
  verifyBlob,
  type Signer,
} from "../../src/core/index.js";
import { codeOf, errorOf } from "./support.js";

const dev = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const NOW = new Date("2026-05-13T22:10:27.999Z");
const GENERATED_KEY = /^DT1-(LITE|CORE|PRO)-[0-9a-f]{8}-[0-9a-f]{8}$/;

describe("validateName", () => {
  it("trims, collapses inner whitespace and normalises to NFC", () => {
    expect(validateName("  Ada   Lovelace ")).toBe("Ada Lovelace");
    expect(validateName("Ada\tLovelace\n")).toBe("Ada Lovelace");
    expect(validateName("Zoe\u0308")).toBe("Zoë");
    expect(validateName("Zoe\u0308")).toHaveLength(3);
  });

  it(`accepts ${MAX_NAME_LENGTH} characters and refuses one more`, () => {
    expect(validateName("a".repeat(MAX_NAME_LENGTH))).toHaveLength(MAX_NAME_LENGTH);
    expect(codeOf(() => validateName("a".repeat(MAX_NAME_LENGTH + 1)))).toBe("NAME_INVALID");
  });

  it("refuses empty, blank and control-character names with NAME_INVALID", () => {
    const bad = ["", "   ", "\n\t", "Ada\u0000", "Ada\u0007Lovelace", "Ada\u007f", "Ada\u0085x"];
    for (const name of [...bad, "Ada\u009b", "Ada\u0008Lovelace"]) {
      expect(
        codeOf(() => validateName(name)),
        JSON.stringify(name),
      ).toBe("NAME_INVALID");
    }
  });

  it("refuses a name with an unpaired UTF-16 surrogate, which nobody could type back", () => {
    for (const name of ["Ada \ud800", "\udc00Ada", "Ada \ud800x"]) {
      expect(codeOf(() => validateName(name))).toBe("NAME_INVALID");
    }
    expect(validateName("Ada 😀")).toBe("Ada 😀");
  });
});

describe("validateEmail", () => {
  it("accepts plausible addresses, trimmed and with their case kept", () => {
    const good = [
      "ada@example.com",
      "Ada.Lovelace+licenses@Sub.Example.co.uk",
      "o'brien@example.ie",
      "zoë@exämple.de",
      "x@y.io",
    ];
    for (const email of good) expect(validateEmail(email)).toBe(email);
    expect(validateEmail("  ada@example.com\n")).toBe("ada@example.com");
  });

  it(`accepts ${MAX_EMAIL_LENGTH} characters and refuses one more`, () => {
    const longest = `${"a".repeat(64)}@${"b".repeat(185)}.com`;
    expect(longest).toHaveLength(MAX_EMAIL_LENGTH);
    expect(validateEmail(longest)).toBe(longest);
    expect(codeOf(() => validateEmail(`${"a".repeat(64)}@${"b".repeat(186)}.com`))).toBe(
      "EMAIL_INVALID",
    );
  });

  it("refuses implausible addresses with EMAIL_INVALID", () => {
    const bad = [
      "",
      "   ",
      "ada lovelace@example.com",
      "ada@example com",
      "adaexample.com",
      "ada@@example.com",
      "ada@lovelace@example.com",
      "ada@localhost",
      "ada@example.c",
      "ada@.example.com",
      "ada@example..com",
      "ada..lovelace@example.com",
      "ada@example.com.",
      "@example.com",
      "ada@",
      `${"a".repeat(65)}@example.com`,
      "ada\u0000@example.com",
      "ada@exa\u0007mple.com",
      "ada\u2028x@example.com",
      "ada\ud800@example.com",
      "ada@example.com\u007f",
    ];
    for (const email of bad) {
      expect(
        codeOf(() => validateEmail(email)),
        JSON.stringify(email),
      ).toBe("EMAIL_INVALID");
    }
  });

  it("quotes the bad address in one line, shortened", () => {
    const err = errorOf(() => validateEmail("x".repeat(300)));
    expect(err.message).not.toContain("x".repeat(81));
    expect(err.message).toMatch(/name@domain\.tld/);
  });
});

describe("validateTier", () => {
  it("accepts lite, core and pro and refuses anything else with TIER_UNKNOWN", () => {
    for (const tier of ["lite", "core", "pro"]) expect(validateTier(tier)).toBe(tier);
    for (const tier of ["", "Core", "PRO", "enterprise", " core", "core "]) {
      const err = errorOf(() => validateTier(tier));
      expect(err.code).toBe("TIER_UNKNOWN");
      expect(err.message).toContain("lite, core, pro");
    }
  });
});

describe("validateYears", () => {
  it("accepts whole numbers from 1 to 100, as numbers or command-line strings", () => {
    expect(validateYears("1")).toBe(1);
    expect(validateYears("100")).toBe(100);
    expect(validateYears(5)).toBe(5);
    expect(validateYears("007")).toBe(7);
  });

  it("ignores surrounding spaces, as a quoted command-line argument may carry them", () => {
    expect(validateYears(" 2 ")).toBe(2);
  });

  it("refuses anything else with YEARS_INVALID", () => {
    const bad = ["0", "-1", "1.5", "abc", "101", "", " ", "1e2", "0x10", "+1", "1 2", "２", "١"];
    for (const years of [...bad, 0, -1, 1.5, 101, Number.NaN, Number.POSITIVE_INFINITY, 1e21]) {
      expect(
        codeOf(() => validateYears(years)),
        JSON.stringify(years),
      ).toBe("YEARS_INVALID");
    }
  });
});

describe("validateLicenseKey", () => {
  it("accepts 3 to 64 characters of A-Z a-z 0-9 - _ starting with a letter or digit", () => {
    const good = [
      "DT1-CORE-5dd8e1db-d90c4656",
      "DT1-PRO-ACME-2026",
      "abc",
      "0_a",
      "a".repeat(64),
      "Z9-_",
    ];
    for (const key of good) expect(validateLicenseKey(key)).toBe(key);
    expect(validateLicenseKey("  DT1-PRO-ACME-2026\n")).toBe("DT1-PRO-ACME-2026");
  });

  it("refuses other keys with LICENSE_KEY_INVALID, saying which characters are allowed", () => {
    const bad = [
      "",
      "ab",
      "a".repeat(65),
      "-abc",
      "_abc",
      "DT1 CORE",
      "DT1/CORE",
      "DT1.CORE",
      "DT1+CORE",
      "DT1-CÖRE",
      "DT1-CORE-１２",
      "DT1-😀-KEY",
      "DT1-CORE\u0000",
      "DT1\nCORE",
    ];
    for (const key of bad) {
      const err = errorOf(() => validateLicenseKey(key));
      expect(err.code, JSON.stringify(key)).toBe("LICENSE_KEY_INVALID");
      expect(err.message).toContain('A-Z, a-z, 0-9, "-" and "_"');
    }
  });

  it("has a documented pattern that generated keys always match", () => {
    expect(LICENSE_KEY_PATTERN.source).toBe("^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$");
  });
});

describe("generateLicenseKey", () => {
  it("formats DT1-<TIER>-<8 hex>-<8 hex> from the given bytes", () => {
    const random = Buffer.from("5dd8e1dbd90c4656", "hex");
    expect(generateLicenseKey("core", random)).toBe("DT1-CORE-5dd8e1db-d90c4656");
    expect(generateLicenseKey("lite", random)).toBe("DT1-LITE-5dd8e1db-d90c4656");
    expect(generateLicenseKey("pro", random)).toBe("DT1-PRO-5dd8e1db-d90c4656");
  });

  it("draws keys of the documented form that never repeat over 20 000 draws", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const key = generateLicenseKey((["lite", "core", "pro"] as const)[i % 3]!);
      expect(key).toMatch(GENERATED_KEY);
      expect(validateLicenseKey(key)).toBe(key);
      seen.add(key.slice(-17));
    }
    expect(seen.size).toBe(20_000);
  });
});

describe("times", () => {
  it("formats an instant as RFC 3339 UTC to the second", () => {
    expect(formatTime(new Date("2026-05-13T22:10:27.999Z"))).toBe("2026-05-13T22:10:27Z");
  });

  it("parses exactly the RFC 3339 UTC form to the second", () => {
    for (const text of [
      "2026-05-13T22:10:27Z",
      "2024-02-29T00:00:00Z",
      "2000-02-29T23:59:59Z",
      "1970-01-01T00:00:00Z",
      "9999-12-31T23:59:59Z",
    ]) {
      expect(parseTime(text)?.toISOString().replace(".000Z", "Z")).toBe(text);
    }
  });

  it("refuses fractions, offsets, lower case, impossible dates and other forms", () => {
    const bad = [
      "",
      "2026-05-13",
      "2026-05-13T22:10Z",
      "2026-05-13T22:10:27",
      "2026-05-13T22:10:27.000Z",
      "2026-05-13T22:10:27.5Z",
      "2026-05-13T22:10:27+00:00",
      "2026-05-13T22:10:27-05:00",
      "2026-05-13t22:10:27z",
      "2026-05-13T22:10:27z",
      "2026-05-13 22:10:27Z",
      "2026-5-13T22:10:27Z",
      " 2026-05-13T22:10:27Z",
      "2026-05-13T22:10:27Z\n",
      "+002026-05-13T22:10:27Z",
      "2026-02-29T00:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-05-00T00:00:00Z",
      "2026-05-13T24:00:00Z",
      "2026-05-13T23:60:00Z",
      "2026-06-30T23:59:60Z",
      "２026-05-13T22:10:27Z",
    ];
    for (const text of bad) expect(parseTime(text), JSON.stringify(text)).toBeUndefined();
  });

  it("adds calendar years in UTC, 29 February plus one year being 1 March", () => {
    const leap = new Date("2028-02-29T12:00:00Z");
    expect(formatTime(addYears(leap, 1))).toBe("2029-03-01T12:00:00Z");
    expect(formatTime(addYears(leap, 4))).toBe("2032-02-29T12:00:00Z");
    expect(formatTime(addYears(new Date("2026-05-13T22:10:27Z"), 100))).toBe(
      "2126-05-13T22:10:27Z",
    );
    expect(formatTime(addYears(new Date("2026-12-31T23:59:59Z"), 1))).toBe("2027-12-31T23:59:59Z");
    expect(leap.toISOString()).toBe("2028-02-29T12:00:00.000Z");
  });

  it("counts whole days left, rounding down, negative once expired", () => {
    const expires = new Date("2026-05-20T00:00:00Z");
    expect(daysLeft(expires, new Date("2026-05-13T00:00:00Z"))).toBe(7);
    expect(daysLeft(expires, new Date("2026-05-13T00:00:01Z"))).toBe(6);
    expect(daysLeft(expires, expires)).toBe(0);
    expect(daysLeft(expires, new Date("2026-05-20T00:00:01Z"))).toBe(-1);
  });
});

describe("identity comparison", () => {
  it("ignores case, surrounding and repeated whitespace and Unicode composition", () => {
    expect(sameIdentity("Ada  Lovelace ", "ada lovelace")).toBe(true);
    expect(sameIdentity("ADA@Example.com", "ada@example.com")).toBe(true);
    expect(sameIdentity("Zoe\u0308", "ZOË")).toBe(true);
    expect(sameIdentity("Ada Lovelace", "Ada Byron")).toBe(false);
    expect(normalizeIdentity("  Zoë\tÅngström ")).toBe("zoë ångström");
  });

  it("case-folds fully, so ß matches SS and a ligature matches its letters", () => {
    expect(sameIdentity("Jürgen Straße", "JÜRGEN STRASSE")).toBe(true);
    expect(sameIdentity("ﬁona@example.com", "FIONA@example.com")).toBe(true);
    expect(sameIdentity("ΟΔΥΣΣΕΥΣ", "οδυσσευσ")).toBe(true);
    expect(sameIdentity("Jürgen Straße", "Jurgen Strasse")).toBe(false);
  });

  it("treats non-breaking and other Unicode spaces as spaces", () => {
    expect(sameIdentity("Ada\u00a0Lovelace", "Ada Lovelace")).toBe(true);
    expect(sameIdentity("Ada\u3000 Lovelace", "ada lovelace")).toBe(true);
  });
});

describe("mintLicense", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function countingSigner(): Signer & { calls: number } {
    const wrapper = {
      kid: dev.kid,
      publicKey: dev.publicKey,
      calls: 0,
      sign(message: Uint8Array) {
        wrapper.calls++;
        return dev.sign(message);
      },
    };
    return wrapper;
  }

  it("signs the validated fields, issued at `now` truncated to the second", () => {
    const { payload, blob } = mintLicense(
      {
        name: "  Ada   Lovelace ",
        email: " ada@example.com ",
        tier: "pro",
        years: "2",
        licenseKey: "DT1-PRO-ACME-2026",
      },
      dev,
      NOW,
    );
    expect(payload).toEqual({
      v: 2,
      kid: dev.kid,
      license_key: "DT1-PRO-ACME-2026",
      name: "Ada Lovelace",
      email: "ada@example.com",
      tier: "pro",
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2028-05-13T22:10:27Z",
    });
    expect(verifyBlob(blob, new KeyRing([dev.publicKey])).payload).toEqual(payload);
  });

  it("defaults to core, one year and a generated key of that tier", () => {
    const { payload } = mintLicense({ name: "Ada", email: "ada@example.com" }, dev, NOW);
    expect(payload.tier).toBe("core");
    expect(payload.expires_at).toBe("2027-05-13T22:10:27Z");
    expect(payload.license_key).toMatch(GENERATED_KEY);
    expect(payload.license_key.startsWith("DT1-CORE-")).toBe(true);
    const lite = mintLicense({ name: "Ada", email: "ada@example.com", tier: "lite" }, dev, NOW);
    expect(lite.payload.license_key.startsWith("DT1-LITE-")).toBe(true);
  });

  it("expires a license issued on 29 February on 1 March", () => {
    const { payload } = mintLicense(
      { name: "Ada", email: "ada@example.com", years: 1 },
      dev,
      new Date("2028-02-29T08:00:00Z"),
    );
    expect(payload.expires_at).toBe("2029-03-01T08:00:00Z");
  });

  it("reads no clock of its own: the issue time is the `now` passed in", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2031-01-01T00:00:00Z"));
    const { payload } = mintLicense({ name: "Ada", email: "ada@example.com" }, dev, NOW);
    expect(payload.issued_at).toBe("2026-05-13T22:10:27Z");
  });

  it("is deterministic for a given key, input and time", () => {
    const input = { name: "Ada", email: "ada@example.com", licenseKey: "DT1-CORE-ACME" };
    expect(mintLicense(input, dev, NOW).blob).toBe(mintLicense(input, dev, NOW).blob);
  });

  it("refuses bad input with the field's code and signs nothing", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "" }, "NAME_INVALID"],
      [{ name: "  " }, "NAME_INVALID"],
      [{ email: "" }, "EMAIL_INVALID"],
      [{ email: "ada" }, "EMAIL_INVALID"],
      [{ tier: "enterprise" }, "TIER_UNKNOWN"],
      [{ years: 0 }, "YEARS_INVALID"],
      [{ years: "1.5" }, "YEARS_INVALID"],
      [{ years: "101" }, "YEARS_INVALID"],
      [{ licenseKey: "bad key!" }, "LICENSE_KEY_INVALID"],
      [{ licenseKey: "" }, "LICENSE_KEY_INVALID"],
    ];
    for (const [change, code] of cases) {
      const signer = countingSigner();
      const input = { name: "Ada", email: "ada@example.com", ...change } as Parameters<
        typeof mintLicense
      >[0];
      expect(
        codeOf(() => mintLicense(input, signer, NOW)),
        JSON.stringify(change),
      ).toBe(code);
      expect(signer.calls).toBe(0);
    }
  });
});
