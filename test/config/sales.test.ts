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
  it("takes deploy/compose.yaml's empty placeholders for a store or SMTP account not in use as none", () => {
    const dir = mkdtempSync(join(tmpdir(), "dtl-sales-"));
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o400 });
      return path;
    };
    writeFileSync(join(dir, "products.json"), "{}\n");
    const placeholders = {
      DATATOOLS_PRODUCTS_FILE: join(dir, "products.json"),
      STRIPE_WEBHOOK_SECRET_FILE: file("stripe-webhook-secret", ""),
      LEMONSQUEEZY_WEBHOOK_SECRET_FILE: file("lemonsqueezy-webhook-secret", "\n"),
      SMTP_PASSWORD_FILE: file("smtp-password", ""),
      SMTP_URL: "",
      DATATOOLS_MAIL_FROM: "",
    };
    const config = loadSalesConfig(placeholders);
    expect(config).toMatchObject({
      products: { stripe: {}, lemonsqueezy: {} },
      stripeSecret: undefined,
      lemonSqueezySecret: undefined,
      smtp: undefined,
      mailFrom: undefined,
    });
    // SMTP without a password (a relay that needs none) with the empty password file.
    expect(
      loadSalesConfig({
        ...placeholders,
        SMTP_URL: "smtp://relay.example.com:25",
        DATATOOLS_MAIL_FROM: "DataTools <sales@example.com>",
      }).smtp,
    ).toEqual({ url: "smtp://relay.example.com:25" });
    // Filled in, each is used; a secret too short is still refused.
    const stripe = file("stripe-2", "whsec_0123456789abcdef0123\n");
    expect(
      loadSalesConfig({ ...placeholders, STRIPE_WEBHOOK_SECRET_FILE: stripe }).stripeSecret,
    ).toBe("whsec_0123456789abcdef0123");
    const short = refusal(() =>
      loadSalesConfig({ ...placeholders, STRIPE_WEBHOOK_SECRET_FILE: file("stripe-3", "whsec_x") }),
    );
    expect([short.code, short.message]).toEqual([
      "CONFIG_INVALID",
      expect.stringContaining("STRIPE_WEBHOOK_SECRET_FILE: is shorter than 16 characters"),
    ]);
    const smtp = loadSalesConfig({
      ...placeholders,
      SMTP_URL: "smtps://sales@mail.example.com:465",
      SMTP_PASSWORD_FILE: file("smtp-2", "s3cret\n"),
      DATATOOLS_MAIL_FROM: "sales@example.com",
    }).smtp;
    expect(smtp).toEqual({ url: "smtps://sales@mail.example.com:465", password: "s3cret" });
    // A password with no SMTP_URL is a mistake worth stopping for.
    const orphan = refusal(() =>
      loadSalesConfig({ ...placeholders, SMTP_PASSWORD_FILE: file("smtp-3", "s3cret") }),
    );
    expect([orphan.code, orphan.message]).toEqual([
      "CONFIG_INVALID",
      "SMTP_PASSWORD_FILE: holds a password but SMTP_URL is not set",
    ]);
  });
});
