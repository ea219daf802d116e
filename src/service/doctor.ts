/**
 * The deployment check behind `dtlicense doctor`: secret files' modes and
 * owners, the development key kept out of production, the server's
 * configuration, the database reachable with its migrations current, the
 * signing key in the published key ring, the stored licenses signed by trusted
 * keys, which stores' webhooks are on and whether license e-mails can leave.
 * Each finding says how to fix it. Read-only: it changes nothing.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { runtimeMode } from "../core/environment.js";
import { LicenseError, type ErrorCode } from "../core/errors.js";
import { DEV_KID, KeyRing, type Signer } from "../core/keys.js";
import {
  parsePublicKeyList,
  PRIVKEY_VAR,
  PUBKEY_VAR,
  readPublicKeyFile,
  resolveKeys,
  type Env,
} from "../config/keys.js";
import {
  loadDatabaseConfig,
  loadServerConfig,
  SERVER_VARS,
  type DatabaseConfig,
} from "../config/server.js";
import { SALES_VARS, type SalesConfig } from "../config/sales.js";
import { countByKid } from "../store/licenses.js";
import { schemaStatus, LATEST_VERSION } from "./health.js";
import { openService } from "./open.js";
import { DEFAULT_SECRETS_DIR, ROTATE_LOCK, SECRET_FILES } from "./rotation.js";

export type Level = "ok" | "warning" | "problem";

/** One finding: what was checked, what was found, and how to fix it. */
export interface Finding {
  readonly check: string;
  readonly level: Level;
  readonly message: string;
  readonly fix?: string;
}

/** The variables that name secret files (the public-key ring file is not secret, so not listed). */
const SECRET_FILE_VARS = [
  `${PRIVKEY_VAR}_FILE`,
  SERVER_VARS.DATABASE_PASSWORD_FILE,
  SERVER_VARS.DATABASE_URL_FILE,
  SERVER_VARS.ADMIN_TOKEN_FILE,
] as const;

/** What the checks look at. */
export interface DoctorInput {
  /** The environment the deployment runs with (the checks read it as the server would). */
  readonly env: Env;
  readonly home: string;
  /** A secrets folder whose every file is checked (default: the deployment's, when it exists). */
  readonly secretsDir?: string;
  /** The public keys the shipped app embeds, as text (comma- or space-separated hex). */
  readonly publishedKeys?: string;
  readonly publishedKeysFile?: string;
  /** The uid that must own the secret files (default: the current user). */
  readonly owner?: number;
  /** The data folder of an embedded database. */
  readonly dataDir?: string;
}

/** The whole report: every finding, and the counts. */
export interface DoctorReport {
  readonly ok: boolean;
  readonly problems: number;
  readonly warnings: number;
  readonly findings: Finding[];
}

/**
 * Checks a deployment from the inside — secret files' modes and owners, the
 * development key kept out of production, the database reachable with its
 * migrations current, the signing key in the published key ring — and says how
 * to fix each problem. Read-only: it changes nothing.
 *
 * @example
 * ```ts
 * const report = await runDoctor({ env: process.env, home: os.homedir() });
 * for (const f of report.findings) console.log(f.level, f.check, f.message, f.fix ?? "");
 * ```
 */
export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const mode = runtimeMode(input.env[SERVER_VARS.NODE_ENV]);
  const { production } = mode;
  const owner = input.owner ?? process.getuid?.();

  checkSecretFiles(input, owner, add);
  checkServerConfig(input, add);
  const keys = checkKeys(input, production, add);
  await checkDatabase(input, production, keys?.ring, add);
  if (!production) {
    add({
      check: "environment",
      level: "warning",
      message: `${mode.describe} counts as development: the development key would be accepted`,
      fix: "set NODE_ENV=production for the deployed server (deploy/compose.yaml does)",
    });
  }
  const problems = findings.filter((f) => f.level === "problem").length;
  const warnings = findings.filter((f) => f.level === "warning").length;
  return { ok: problems === 0, problems, warnings, findings };
}

function checkFile(
  path: string,
  label: string,
  owner: number | undefined,
  add: (f: Finding) => void,
): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    add({
      check: "secret files",
      level: "problem",
      message: `${label}: ${path} does not exist or cannot be read`,
      fix: `create it (docs/SETUP-LICENSE-SERVER.md, "Secrets") or correct ${label}`,
    });
    return;
  }
  const mode = st.mode & 0o777;
  if (!st.isFile()) {
    add({
      check: "secret files",
      level: "problem",
      message: `${label}: ${path} is not a file`,
      fix: `point ${label} at the secret file itself`,
    });
  } else if ((mode & 0o077) !== 0) {
    add({
      check: "secret files",
      level: "problem",
      message: `${label}: ${path} has mode ${mode.toString(8)}; group or others can read it (the server refuses it)`,
      fix: `chmod 400 ${path}`,
    });
  } else if (owner !== undefined && st.uid !== owner) {
    add({
      check: "secret files",
      level: "problem",
      message: `${label}: ${path} is owned by uid ${st.uid}, not ${owner}, so the server's user cannot read it`,
      fix: `chown ${owner} ${path} (the user the server runs as, datatools-license on the host)`,
    });
  } else if ((mode & 0o200) !== 0) {
    add({
      check: "secret files",
      level: "warning",
      message: `${label}: ${path} has mode ${mode.toString(8)}; secrets are kept read-only`,
      fix: `chmod 400 ${path}`,
    });
  } else {
    add({
      check: "secret files",
      level: "ok",
      message: `${label}: ${path} mode ${mode.toString(8)}, uid ${st.uid}`,
    });
  }
}

function checkSecretFiles(
  input: DoctorInput,
  owner: number | undefined,
  add: (f: Finding) => void,
): void {
  const seen = new Set<string>();
  for (const v of SECRET_FILE_VARS) {
    const path = input.env[v];
    if (path === undefined || path.trim() === "") continue;
    seen.add(path);
    checkFile(path, v, owner, add);
  }
  if (input.env[PRIVKEY_VAR]) {
    add({
      check: "secret files",
      level: "warning",
      message: `${PRIVKEY_VAR} holds the private key in the environment, where process listings and crash reports can show it`,
      fix: `write it to a mode-400 file and set ${PRIVKEY_VAR}_FILE instead`,
    });
  }
  const dir =
    input.secretsDir ?? (existsSync(DEFAULT_SECRETS_DIR) ? DEFAULT_SECRETS_DIR : undefined);
  if (dir === undefined) return;
  let st;
  try {
    st = statSync(dir);
  } catch {
    add({
      check: "secrets folder",
      level: "problem",
      message: `${dir} does not exist`,
      fix: `install -d -m 700 -o datatools-license -g datatools-license ${dir}`,
    });
    return;
  }
  if ((st.mode & 0o077) !== 0) {
    add({
      check: "secrets folder",
      level: "problem",
      message: `${dir} has mode ${(st.mode & 0o777).toString(8)}; others can list or enter it`,
      fix: `chmod 700 ${dir}`,
    });
  } else if (owner !== undefined && st.uid !== owner) {
    add({
      check: "secrets folder",
      level: "problem",
      message: `${dir} is owned by uid ${st.uid}, not ${owner}`,
      fix: `chown ${owner} ${dir}`,
    });
  } else {
    add({ check: "secrets folder", level: "ok", message: `${dir} mode 700, uid ${st.uid}` });
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    add({
      check: "secrets folder",
      level: "problem",
      message: `cannot list ${dir} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      fix: "run doctor as the server's user (or root), or pass --secrets-dir",
    });
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name === ROTATE_LOCK) continue;
    if (!seen.has(path)) checkFile(path, "secrets folder", owner, add);
    const leftover = leftoverSecret(name);
    if (leftover)
      add({
        check: "secrets folder",
        level: "warning",
        message: `${path}: ${leftover[0]}`,
        fix: leftover[1],
      });
  }
}

/** What a file in the secrets folder that should not stay there is, and what to do with it. */
function leftoverSecret(name: string): [string, string] | undefined {
  if (name.startsWith(SECRET_FILES.retiredPrefix)) {
    return [
      "a retired private key is still on the server",
      "move it to offline storage (docs/ADMIN.md, Recovery), then delete it here",
    ];
  }
  if (name === SECRET_FILES.next) {
    return [
      "a staged next key waits for 'dtlicense keys rotate'",
      "switch to it once the app build that embeds it ships (docs/SETUP-LICENSE-SERVER.md, Key rotation)",
    ];
  }
  if (/^\..*\.tmp$/.test(name)) {
    return [
      "a temporary file left by an interrupted write",
      "delete it; the file it was for was not changed",
    ];
  }
  return undefined;
}

/** True when a postgres:// URL carries a password. */
function passwordInUrl(url: string): boolean {
  try {
    return new URL(url).password !== "";
  } catch {
    return false;
  }
}

const FIXES: Partial<Record<ErrorCode, string>> = {
  DATABASE_UNAVAILABLE:
    "is PostgreSQL up (docker compose -p datatools-license ps)? Are the URL and password file right?",
  FILE_INSECURE: "chmod 400 the file named above",
  FILE_UNREADABLE: "check the path, and that the server's user owns the file",
  KEY_MISMATCH: `the ring (${PUBKEY_VAR} or ${PUBKEY_VAR}_FILE) must contain the signing key's public key; 'dtlicense keys rotate' keeps them together`,
  KEY_INVALID: "each key is 64 hex characters; regenerate with 'dtlicense keys rotate'",
  DEV_KEY_IN_PRODUCTION: `set ${PRIVKEY_VAR}_FILE and ${PUBKEY_VAR}_FILE to the production keys (docs/SETUP-LICENSE-SERVER.md)`,
  CONFIG_INVALID: "correct the variable named above",
};

/** A finding for a configuration error, with the fix its code calls for. */
function problemOf(check: string, err: unknown, prefix = ""): Finding {
  if (!(err instanceof LicenseError)) throw err;
  return {
    check,
    level: "problem",
    message: `${prefix}${err.message} [${err.code}]`,
    fix: FIXES[err.code] ?? "see the message",
  };
}

function checkServerConfig(input: DoctorInput, add: (f: Finding) => void): void {
  try {
    const config = loadServerConfig(input.env, {}, input.home);
    add({
      check: "configuration",
      level: "ok",
      message: `the server's configuration loads (listens on ${config.host}:${config.port}, database ${config.database.kind})`,
    });
    checkSales(config.sales, add);
  } catch (err) {
    add(problemOf("configuration", err, "the server would refuse to start: "));
  }
}

/** The stores' names and secrets; a store's webhook route is /v1/webhooks/<key>. */
const STORES = [
  {
    name: "Stripe",
    key: "stripe",
    secret: (s: SalesConfig) => s.stripeSecret,
    secretFile: SALES_VARS.STRIPE_SECRET_FILE,
  },
  {
    name: "Lemon Squeezy",
    key: "lemonsqueezy",
    secret: (s: SalesConfig) => s.lemonSqueezySecret,
    secretFile: SALES_VARS.LEMONSQUEEZY_SECRET_FILE,
  },
] as const;

/**
 * Which stores' webhooks are on (a signing secret is set; an empty secret file is a
 * deployment's placeholder for a store it does not sell through) and whether their
 * license e-mails can leave: a store whose products are listed but whose secret is
 * missing, or sales on with no SMTP server, is a warning, since the server starts
 * and answers either way.
 */
function checkSales(sales: SalesConfig, add: (f: Finding) => void): void {
  const on: string[] = [];
  for (const store of STORES) {
    const products = Object.keys(sales.products[store.key]).length;
    const listed = `${products} product${products === 1 ? "" : "s"} in ${SALES_VARS.PRODUCTS_FILE}`;
    if (store.secret(sales) !== undefined) {
      on.push(store.name);
      add(
        products > 0
          ? { check: "sales", level: "ok", message: `${store.name} webhooks are on (${listed})` }
          : {
              check: "sales",
              level: "warning",
              message: `${store.name} webhooks are on but ${SALES_VARS.PRODUCTS_FILE} lists no ${store.name} product: every sale is recorded as ignored (unknown product) and issues nothing`,
              fix: `list the store's products in ${SALES_VARS.PRODUCTS_FILE} (docs/SELLING.md), then replay the ignored events (dtlicense webhooks replay)`,
            },
      );
    } else if (products > 0) {
      add({
        check: "sales",
        level: "warning",
        message: `${store.name} webhooks are off (no signing secret, or an empty ${store.secretFile}) although ${listed}: /v1/webhooks/${store.key} refuses every event with WEBHOOK_NOT_CONFIGURED`,
        fix: `put the webhook's signing secret from the store's dashboard in the file ${store.secretFile} names, then restart the server`,
      });
    } else {
      add({
        check: "sales",
        level: "ok",
        message: `${store.name} webhooks are off (no signing secret)`,
      });
    }
  }
  if (sales.smtp) {
    add({
      check: "e-mail",
      level: "ok",
      message: `license e-mails go out through ${sales.smtp.url} from ${sales.mailFrom!.address}`,
    });
  } else if (on.length > 0) {
    add({
      check: "e-mail",
      level: "warning",
      message: `${SALES_VARS.SMTP_URL} is not set: the license e-mails of ${on.join(" and ")} sales wait in the outbox, unsent`,
      fix: `set ${SALES_VARS.SMTP_URL} and ${SALES_VARS.MAIL_FROM} (docs/SELLING.md); the waiting e-mails go out once the server restarts with them`,
    });
  }
}

function checkKeys(
  input: DoctorInput,
  production: boolean,
  add: (f: Finding) => void,
): { ring: KeyRing; signer: Signer | undefined } | undefined {
  let keys;
  try {
    keys = resolveKeys(input.env);
  } catch (err) {
    add(problemOf("keys", err));
    return undefined;
  }
  const { ring, signer } = keys;
  if (keys.usingDevKey) {
    add({
      check: "development key",
      level: production ? "problem" : "warning",
      message: !keys.configured
        ? "no key is configured, so the public development key signs and verifies"
        : `the key ring or signing key is the public development key (kid ${DEV_KID})`,
      fix: FIXES.DEV_KEY_IN_PRODUCTION!,
    });
  } else {
    add({ check: "development key", level: "ok", message: "not in use" });
  }
  if (!signer) {
    add({
      check: "signing key",
      level: "warning",
      message: "no private key is configured: the server verifies but cannot issue",
      fix: `set ${PRIVKEY_VAR}_FILE`,
    });
  } else {
    const first = ring.keys()[0];
    if (first && first.kid !== signer.kid) {
      add({
        check: "signing key",
        level: "warning",
        message: `the ring's first (current) key is ${first.kid} but signing uses ${signer.kid}`,
        fix: "list the signing key first in the ring ('dtlicense keys rotate' writes it so)",
      });
    } else {
      add({
        check: "signing key",
        level: "ok",
        message: `kid ${signer.kid}, first of ${ring.size} trusted key(s)`,
      });
    }
    const publishedText =
      input.publishedKeys ??
      (input.publishedKeysFile
        ? readPublicKeyFile(input.publishedKeysFile, "--published-keys-file")
        : undefined);
    if (publishedText !== undefined) {
      const published = parsePublicKeyList(publishedText, "the published keys");
      if (published.some((k) => k.kid === signer.kid)) {
        add({
          check: "published keys",
          level: "ok",
          message: `the shipped app trusts the signing key ${signer.kid}`,
        });
      } else {
        add({
          check: "published keys",
          level: "problem",
          message: `the shipped app does not trust the signing key ${signer.kid} (it trusts ${published.map((k) => k.kid).join(", ")}): new licenses would not activate`,
          fix: "ship an app build that embeds the keys 'dtlicense keys rotate' printed, or sign with a published key",
        });
      }
    }
  }
  return { ring, signer };
}

async function checkDatabase(
  input: DoctorInput,
  production: boolean,
  ring: KeyRing | undefined,
  add: (f: Finding) => void,
): Promise<void> {
  let database: DatabaseConfig;
  let dataDir: string;
  try {
    ({ database, dataDir } = loadDatabaseConfig(
      input.env,
      input.dataDir ? { dataDir: input.dataDir } : {},
      input.home,
    ));
  } catch (err) {
    add(problemOf("database", err));
    return;
  }
  const kind = database.kind;
  if (
    kind === "postgres" &&
    passwordInUrl(database.url) &&
    !input.env[SERVER_VARS.DATABASE_URL_FILE]
  ) {
    add({
      check: "database",
      level: "warning",
      message: `${SERVER_VARS.DATABASE_URL} holds the database password in the environment`,
      fix: `drop the password from the URL and put it in a mode-400 file named by ${SERVER_VARS.DATABASE_PASSWORD_FILE}`,
    });
  }
  if (kind === "pglite" && production) {
    add({
      check: "database",
      level: "warning",
      message: "no DATABASE_URL: the embedded database is in use",
      fix: "set DATABASE_URL and DATABASE_PASSWORD_FILE to the PostgreSQL of the compose project",
    });
  }
  let opened;
  try {
    opened = await openService({
      database,
      dataDir,
      keys: { signer: undefined, ring: ring ?? new KeyRing() },
      schema: "none",
      max: 2,
    });
  } catch (err) {
    if (err instanceof LicenseError && err.code === "DATA_DIR_LOCKED") {
      add({
        check: "database",
        level: "warning",
        message: "the embedded database is in use by a running server; not checked",
        fix: "check GET /readyz of that server instead",
      });
      return;
    }
    add(problemOf("database", err));
    return;
  }
  const { db, where } = opened;
  try {
    let version: number;
    try {
      version = (await schemaStatus(db)).version;
    } catch (err) {
      add({
        check: "database",
        level: "problem",
        message: `cannot reach ${where}: ${(err as Error).message}`,
        fix: FIXES.DATABASE_UNAVAILABLE!,
      });
      return;
    }
    add({ check: "database", level: "ok", message: `reachable: ${where}` });
    if (version < LATEST_VERSION) {
      add({
        check: "migrations",
        level: "problem",
        message: `schema version ${version}, this release needs ${LATEST_VERSION}`,
        fix: "dtlicense db migrate (the server also migrates at start-up)",
      });
    } else if (version > LATEST_VERSION) {
      add({
        check: "migrations",
        level: "warning",
        message: `schema version ${version} is newer than this release knows (${LATEST_VERSION}): a rolled-back release`,
        fix: "fine while the newer migrations only expanded the schema; otherwise restore (docs/SETUP-LICENSE-SERVER.md, Rollback)",
      });
    } else {
      add({ check: "migrations", level: "ok", message: `current (version ${version})` });
    }
    if (ring && version >= 1) {
      const rows = await countByKid(db);
      const untrusted = rows.filter((r) => !ring.has(r.kid));
      if (untrusted.length > 0) {
        add({
          check: "stored licenses",
          level: "problem",
          message: `stored licenses signed by keys the ring does not trust: ${untrusted.map((r) => `${r.kid} (${r.n})`).join(", ")}`,
          fix: "put those public keys back in the ring, or re-issue with 'dtlicense keys reissue'",
        });
      } else {
        const total = rows.reduce((s, r) => s + Number(r.n), 0);
        add({
          check: "stored licenses",
          level: "ok",
          message: `all ${total} signed by trusted keys`,
        });
      }
    }
  } finally {
    await db.close();
  }
}
