// The sales configuration: the products file is checked at start, naming the line or field.
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSalesConfig, parseProducts } from "../../src/config/sales.js";
import { LicenseError } from "../../src/core/errors.js";

function refusal(fn: () => unknown): LicenseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LicenseError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("the products file", () => {
  it("reads the documented shape", () => {
    const p = parseProducts(
      '{"stripe": {"core-1y": {"tier": "core", "years": 1}, "plink_1Abc": {"tier": "pro", "years": 2}}, "lemonsqueezy": {"123456": {"tier": "lite", "years": 1}}}',
      "products.json",
    );
    expect(p.stripe["plink_1Abc"]).toEqual({ tier: "pro", years: 2 });
    expect(p.lemonsqueezy["123456"]).toEqual({ tier: "lite", years: 1 });
  });

  it("refuses each mistake with CONFIG_INVALID naming the line or the field", () => {
    const cases: [string, string][] = [
      ['{\n  "stripe": {\n    "a": {"tier": "core" "years": 1}\n  }\n}', "line 3"],
      ['{"paddle": {}}', 'unknown store "paddle"'],
      ['{"stripe": []}', "stripe must be an object"],
      ['{"stripe": {"core-1y": {"tier": "gold", "years": 1}}}', 'stripe["core-1y"].tier'],
      ['{"stripe": {"core-1y": {"tier": "core", "years": 0}}}', 'stripe["core-1y"].years'],
      ['{"stripe": {"core-1y": {"tier": "core", "years": 1.5}}}', 'stripe["core-1y"].years'],
      [
        '{"lemonsqueezy": {"1": {"tier": "core", "years": 1, "seats": 2}}}',
        'lemonsqueezy["1"].seats',
      ],
      ["[]", "must be a JSON object"],
    ];
    for (const [text, named] of cases) {
      const err = refusal(() => parseProducts(text, "DATATOOLS_PRODUCTS_FILE (p.json)"));
      expect(err.code, text).toBe("CONFIG_INVALID");
      expect(err.message, text).toContain("DATATOOLS_PRODUCTS_FILE");
      expect(err.message, text).toContain(named);
    }
  });

  it("is read at start with the secrets from mode-600 files", () => {
    const dir = mkdtempSync(join(tmpdir(), "dtl-sales-"));
    writeFileSync(join(dir, "products.json"), '{"stripe": {"x": {"tier": "pro", "years": 1}}}');
    const secret = join(dir, "stripe-secret");
    writeFileSync(secret, "whsec_0123456789abcdef0123\n");
    chmodSync(secret, 0o400);
    const config = loadSalesConfig({
      DATATOOLS_PRODUCTS_FILE: join(dir, "products.json"),
      STRIPE_WEBHOOK_SECRET_FILE: secret,
    });
    expect(config.products.stripe["x"]).toEqual({ tier: "pro", years: 1 });
    expect(config.stripeSecret).toBe("whsec_0123456789abcdef0123");
    expect(config.smtp).toBeUndefined();
    chmodSync(secret, 0o644);
    expect(refusal(() => loadSalesConfig({ STRIPE_WEBHOOK_SECRET_FILE: secret })).code).toBe(
      "FILE_INSECURE",
    );
    expect(
      refusal(() => loadSalesConfig({ SMTP_URL: "smtp://u:pw@mail.example.com:587" })).message,
    ).toContain("SMTP_PASSWORD_FILE");
    expect(
      refusal(() => loadSalesConfig({ SMTP_URL: "smtp://mail.example.com" })).message,
    ).toContain("DATATOOLS_MAIL_FROM");
  });
});
