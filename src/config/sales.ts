/**
 * The configuration of store sales: the products file (which store product
 * is issued as which tier for how many years), the webhook secrets and the
 * SMTP settings of license e-mails. Read once at start; every mistake fails
 * with a message that names the variable and the field. The products file
 * alone is read again where it is used (`currentProducts`), so a fixed file
 * takes effect without a restart.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { isTier, TIERS, type Tier } from "../core/catalogue.js";
import { LicenseError } from "../core/errors.js";
import { MAX_YEARS, validateEmail } from "../core/license.js";
import type { Env } from "./keys.js";
import { readSecretFile } from "./secret-file.js";

/** The variables read here, for docs and error messages. */
export const SALES_VARS = {
  PRODUCTS_FILE: "DATATOOLS_PRODUCTS_FILE",
  STRIPE_SECRET: "STRIPE_WEBHOOK_SECRET",
  STRIPE_SECRET_FILE: "STRIPE_WEBHOOK_SECRET_FILE",
  LEMONSQUEEZY_SECRET: "LEMONSQUEEZY_WEBHOOK_SECRET",
  LEMONSQUEEZY_SECRET_FILE: "LEMONSQUEEZY_WEBHOOK_SECRET_FILE",
  SMTP_URL: "SMTP_URL",
  SMTP_PASSWORD_FILE: "SMTP_PASSWORD_FILE",
  MAIL_FROM: "DATATOOLS_MAIL_FROM",
  MAIL_TEMPLATES_DIR: "DATATOOLS_MAIL_TEMPLATES_DIR",
  MAIL_RETRY_BASE: "DATATOOLS_MAIL_RETRY_BASE_MS",
  MAIL_RETRY_MAX: "DATATOOLS_MAIL_RETRY_MAX_MS",
  MAIL_POLL: "DATATOOLS_MAIL_POLL_MS",
} as const;

/** How the delivery worker paces itself. */
export interface DeliveryTiming {
  /** The wait after the first failed attempt; it doubles with each further failure. */
  readonly retryBaseMs: number;
  /** The longest wait between attempts. */
  readonly retryMaxMs: number;
  /** How often the outbox is looked at for due e-mails. */
  readonly pollMs: number;
}

export const DEFAULT_DELIVERY: DeliveryTiming = {
  retryBaseMs: 30_000,
  retryMaxMs: 3_600_000,
  pollMs: 2_000,
};

/** What one store product issues. */
export interface Product {
  readonly tier: Tier;
  readonly years: number;
}

/** Store product references to what they issue, per store. */
export interface Products {
  readonly stripe: Readonly<Record<string, Product>>;
  readonly lemonsqueezy: Readonly<Record<string, Product>>;
}

export const NO_PRODUCTS: Products = { stripe: {}, lemonsqueezy: {} };

/** SMTP settings for license e-mails. */
export interface SmtpConfig {
  /** smtp:// or smtps:// URL, without the password. */
  readonly url: string;
  readonly password?: string;
}

export interface SalesConfig {
  readonly products: Products;
  /** Where the products came from (for logs), or undefined when no file is configured. */
  readonly productsFile: string | undefined;
  readonly stripeSecret: string | undefined;
  readonly lemonSqueezySecret: string | undefined;
  /** Undefined: no SMTP configured, e-mails wait in the outbox. */
  readonly smtp: SmtpConfig | undefined;
  readonly mailFrom: { readonly name: string; readonly address: string } | undefined;
  /** A folder of vendor templates replacing the built-in ones. */
  readonly templatesDir: string | undefined;
  /** The vendor's templates found there, read at start. */
  readonly templates: VendorTemplates;
  readonly delivery: DeliveryTiming;
}

/** The template files a vendor may replace (each on its own; a missing one uses the built-in). */
export const TEMPLATE_FILES = {
  subject: "license-subject.eta",
  text: "license.txt.eta",
  html: "license.html.eta",
} as const;
export type VendorTemplates = Partial<Record<keyof typeof TEMPLATE_FILES, string>>;

/** Reads the vendor's templates from `dir` (those present). */
export function readVendorTemplates(dir: string): VendorTemplates {
  if (!existsSync(dir)) bad(SALES_VARS.MAIL_TEMPLATES_DIR, `${dir} does not exist`);
  const out: Record<string, string> = {};
  for (const [key, file] of Object.entries(TEMPLATE_FILES)) {
    const path = join(dir, file);
    if (existsSync(path)) out[key] = readFileSync(path, "utf8");
  }
  return out;
}

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";

function bad(label: string, why: string): never {
  throw new LicenseError("CONFIG_INVALID", `${label}: ${why}`);
}

/** Line and column (1-based) of a character offset in `text`. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line}, column ${offset - before.lastIndexOf("\n")}`;
}

/**
 * Checks the products file's text, naming the line of a JSON syntax error or
 * the field that is wrong (e.g. `stripe["core-1y"].years`).
 *
 * @example
 * ```ts
 * parseProducts('{"stripe": {"core-1y": {"tier": "core", "years": 1}}}', "products.json");
 * ```
 */
export function parseProducts(text: string, label: string): Products {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const where = m ? ` at ${lineColumn(text, Number(m[1]))}` : "";
    bad(label, `is not valid JSON${where}: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    bad(label, 'must be a JSON object like {"stripe": {…}, "lemonsqueezy": {…}}');
  }
  const out: { stripe: Record<string, Product>; lemonsqueezy: Record<string, Product> } = {
    stripe: {},
    lemonsqueezy: {},
  };
  for (const [store, entries] of Object.entries(value)) {
    if (store !== "stripe" && store !== "lemonsqueezy") {
      bad(label, `unknown store "${store.slice(0, 40)}"; use "stripe" or "lemonsqueezy"`);
    }
    if (entries === null || typeof entries !== "object" || Array.isArray(entries)) {
      bad(label, `${store} must be an object of product references`);
    }
    for (const [ref, p] of Object.entries(entries as Record<string, unknown>)) {
      const field = `${store}[${JSON.stringify(ref.slice(0, 80))}]`;
      if (ref.trim() === "" || ref.length > 200)
        bad(label, `${field}: the reference is empty or too long`);
      if (p === null || typeof p !== "object" || Array.isArray(p)) {
        bad(label, `${field} must be an object like {"tier": "core", "years": 1}`);
      }
      const { tier, years, ...rest } = p as Record<string, unknown>;
      const extra = Object.keys(rest)[0];
      if (extra !== undefined)
        bad(label, `${field}.${extra.slice(0, 40)} is not a known field (tier, years)`);
      if (typeof tier !== "string" || !isTier(tier)) {
        bad(label, `${field}.tier must be one of ${TIERS.join(", ")}`);
      }
      if (typeof years !== "number" || !Number.isInteger(years) || years < 1 || years > MAX_YEARS) {
        bad(label, `${field}.years must be a whole number from 1 to ${MAX_YEARS}`);
      }
      out[store][ref] = { tier, years };
    }
  }
  return out;
}

/**
 * The secret from `VAR` or `VAR_FILE` (only one may be set). An empty file
 * means none, so a deployment can mount an empty placeholder for a store it
 * does not sell through (deploy/compose.yaml does).
 */
function secret(env: Env, name: string, fileName: string): string | undefined {
  if (set(env[name]) && set(env[fileName])) bad(name, `set only one of ${name} and ${fileName}`);
  const fromFile = set(env[fileName]) ? readSecretFile(env[fileName]!, fileName) : undefined;
  const value =
    fromFile !== undefined
      ? fromFile === ""
        ? undefined
        : fromFile
      : set(env[name])
        ? env[name]!.trim()
        : undefined;
  if (value !== undefined && value.length < 16) {
    bad(
      set(env[fileName]) ? fileName : name,
      "is shorter than 16 characters; copy the whole signing secret from the store's dashboard",
    );
  }
  return value;
}

/** SMTP_URL's settings; an empty SMTP_PASSWORD_FILE (a deployment's placeholder) means no password. */
function smtpConfig(env: Env): SmtpConfig | undefined {
  const V = SALES_VARS;
  const fromFile = set(env[V.SMTP_PASSWORD_FILE])
    ? readSecretFile(env[V.SMTP_PASSWORD_FILE]!, V.SMTP_PASSWORD_FILE)
    : "";
  const password = fromFile === "" ? undefined : fromFile;
  if (!set(env[V.SMTP_URL])) {
    if (password !== undefined) {
      bad(V.SMTP_PASSWORD_FILE, `holds a password but ${V.SMTP_URL} is not set`);
    }
    return undefined;
  }
  const url = env[V.SMTP_URL]!.trim();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return bad(V.SMTP_URL, "is not a URL like smtp://user@mail.example.com:587");
  }
  if (parsed.protocol !== "smtp:" && parsed.protocol !== "smtps:") {
    bad(V.SMTP_URL, `must start with smtp:// or smtps:// (it starts with ${parsed.protocol}//)`);
  }
  if (parsed.password !== "") {
    bad(V.SMTP_URL, `holds a password; put it in a mode-600 file named by ${V.SMTP_PASSWORD_FILE}`);
  }
  return { url, ...(password !== undefined ? { password } : {}) };
}

function millis(env: Env, name: string, fallback: number): number {
  if (!set(env[name])) return fallback;
  const text = env[name]!.trim();
  const n = /^[0-9]{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 10 && n <= 86_400_000))
    bad(name, `"${text.slice(0, 20)}" is not a number of milliseconds from 10 to 86400000`);
  return n;
}

/** `Name <address>` or `address`, checked like a buyer's e-mail. */
function mailFrom(value: string): { name: string; address: string } {
  const m = /^\s*(?:"?([^"<>\r\n]*?)"?\s*<([^<>\s]+)>|([^<>\s]+))\s*$/.exec(value);
  if (!m) bad(SALES_VARS.MAIL_FROM, 'must be an address or "Name <address>"');
  try {
    return { name: (m[1] ?? "").trim(), address: validateEmail(m[2] ?? m[3]!) };
  } catch (err) {
    return bad(SALES_VARS.MAIL_FROM, (err as Error).message);
  }
}

/**
 * Reads the sales configuration. Nothing configured is valid: the webhook
 * endpoints then refuse every event and e-mails wait in the outbox.
 */
export function loadSalesConfig(env: Env, cwd = process.cwd()): SalesConfig {
  const V = SALES_VARS;
  const { products, productsFile } = loadProducts(env, cwd);
  const smtp = smtpConfig(env);
  const templatesDir = set(env[V.MAIL_TEMPLATES_DIR])
    ? resolve(cwd, env[V.MAIL_TEMPLATES_DIR]!.trim())
    : undefined;
  const from = set(env[V.MAIL_FROM]) ? mailFrom(env[V.MAIL_FROM]!) : undefined;
  if (smtp && !from) bad(V.MAIL_FROM, `is not set; ${V.SMTP_URL} needs a sender address`);
  return {
    products,
    productsFile,
    stripeSecret: secret(env, V.STRIPE_SECRET, V.STRIPE_SECRET_FILE),
    lemonSqueezySecret: secret(env, V.LEMONSQUEEZY_SECRET, V.LEMONSQUEEZY_SECRET_FILE),
    smtp,
    mailFrom: from,
    templatesDir,
    templates: templatesDir ? readVendorTemplates(templatesDir) : {},
    delivery: {
      retryBaseMs: millis(env, V.MAIL_RETRY_BASE, DEFAULT_DELIVERY.retryBaseMs),
      retryMaxMs: millis(env, V.MAIL_RETRY_MAX, DEFAULT_DELIVERY.retryMaxMs),
      pollMs: millis(env, V.MAIL_POLL, DEFAULT_DELIVERY.pollMs),
    },
  };
}

/** How errors name the products file: the variable and the path it points at. */
const productsLabel = (path: string) => `${SALES_VARS.PRODUCTS_FILE} (${path})`;

/**
 * The products as they are now: the products file read and checked again, as
 * at start (a mistake throws CONFIG_INVALID naming the line or the field,
 * FILE_UNREADABLE when it cannot be read), or, when no file is configured,
 * the products the configuration holds. Webhooks and replay call it before
 * they write anything, so the vendor's fix-then-replay needs no restart.
 *
 * @example
 * ```ts
 * const products = currentProducts(config.sales);
 * ```
 */
export function currentProducts(config: Pick<SalesConfig, "products" | "productsFile">): Products {
  return config.productsFile === undefined
    ? config.products
    : loadProductsFile(config.productsFile, productsLabel(config.productsFile));
}

/**
 * Only the products: DATATOOLS_PRODUCTS_FILE read and checked (no file
 * configured: none), for commands that need nothing else of the sales
 * configuration (`dtlicense webhooks replay`).
 */
export function loadProducts(
  env: Env,
  cwd = process.cwd(),
): { products: Products; productsFile: string | undefined } {
  if (!set(env[SALES_VARS.PRODUCTS_FILE]))
    return { products: NO_PRODUCTS, productsFile: undefined };
  const given = env[SALES_VARS.PRODUCTS_FILE]!.trim();
  const productsFile = isAbsolute(given) ? given : resolve(cwd, given);
  return { products: loadProductsFile(productsFile, productsLabel(productsFile)), productsFile };
}

/** Reads and checks a products file. */
export function loadProductsFile(path: string, label: string): Products {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `${label}: cannot read it`, { cause: err });
  }
  return parseProducts(text, label);
}
