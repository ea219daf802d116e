/**
 * The license server's configuration: read once from the environment (and
 * the command line's flags, which win), validated here, failing with one line
 * that names the variable. Secrets may come from files (`*_FILE`), which are
 * refused when group or others can read them.
 */
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { devKeyRefusal, runtimeMode } from "../core/environment.js";
import { LicenseError } from "../core/errors.js";
import { DEV_KID } from "../core/keys.js";
import { PRIVKEY_VAR, PUBKEY_VAR, resolveKeys, type Env, type ResolvedKeys } from "./keys.js";
import { loadSalesConfig, type SalesConfig } from "./sales.js";
import { readSecretFile } from "./secret-file.js";
import type { Catalogue } from "../core/catalogue.js";
import { loadCatalogue } from "./catalogue.js";

/** Every variable the server reads, for docs and error messages. */
export const SERVER_VARS = {
  DATABASE_URL: "DATABASE_URL",
  DATABASE_URL_FILE: "DATABASE_URL_FILE",
  DATABASE_PASSWORD_FILE: "DATABASE_PASSWORD_FILE",
  POOL_MAX: "DATATOOLS_DB_POOL_MAX",
  DB_CONNECT_TIMEOUT: "DATATOOLS_DB_CONNECT_TIMEOUT_MS",
  DB_QUERY_TIMEOUT: "DATATOOLS_DB_QUERY_TIMEOUT_MS",
  DATA_DIR: "DATATOOLS_DATA_DIR",
  HOST: "DATATOOLS_SERVER_HOST",
  PORT: "DATATOOLS_SERVER_PORT",
  ADMIN_TOKEN_FILE: "DATATOOLS_ADMIN_TOKEN_FILE",
  TRUSTED_PROXIES: "DATATOOLS_TRUSTED_PROXIES",
  VERIFY_RATE_LIMIT: "DATATOOLS_VERIFY_RATE_LIMIT",
  LOG_LEVEL: "DATATOOLS_LOG_LEVEL",
  PUBKEY_FILE: `${PUBKEY_VAR}_FILE`,
  NODE_ENV: "NODE_ENV",
  REVOCATIONS_MAX_AGE: "DATATOOLS_REVOCATIONS_MAX_AGE_S",
  SEAT_RECLAIM_DAYS: "DATATOOLS_SEAT_RECLAIM_DAYS",
  VERIFY_CACHE_ENTRIES: "DATATOOLS_VERIFY_CACHE_ENTRIES",
} as const;

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8090;
export const DEFAULT_VERIFY_RATE_LIMIT = 120;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const ADMIN_TOKEN = /^dtl_admin_[A-Za-z0-9_-]{43}$/;

/** Where the server keeps its data. */
export type DatabaseConfig =
  | {
      readonly kind: "postgres";
      readonly url: string;
      readonly password?: string;
      readonly max: number;
      /** Longest wait for a connection, in ms (unset: the adapter's default). */
      readonly connectTimeoutMs?: number;
      /** Longest wait for one statement's answer, in ms (unset: the adapter's default). */
      readonly queryTimeoutMs?: number;
    }
  | { readonly kind: "pglite"; readonly dir: string };

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** Holds pgdata/ (embedded database) and admin-token. */
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  readonly keys: ResolvedKeys;
  /** The initial admin token from DATATOOLS_ADMIN_TOKEN_FILE, used only on first start. */
  readonly adminTokenSeed: string | undefined;
  readonly trustedProxies: readonly string[];
  readonly verifyRateLimit: number;
  readonly production: boolean;
  readonly logLevel: string;
  /** Store sales: products file, webhook secrets, SMTP (src/config/sales.ts). */
  readonly sales: SalesConfig;
  /** How long the revocation list may be cached, in seconds. */
  readonly revocationsMaxAgeS: number;
  /** Seats unseen for this many days are freed; undefined: never. */
  readonly seatReclaimDays: number | undefined;
  /** DATATOOLS_CATALOGUE's catalogue, or the built-in one: new licenses' default seat limits. */
  readonly catalogue: Catalogue;
  /** Most blobs the verified-signature cache keeps (0: no cache); undefined: the default. */
  readonly verifyCacheEntries?: number;
}

/** Command-line flags that override the environment. */
export interface ServerFlags {
  readonly host?: string;
  readonly port?: string;
  readonly dataDir?: string;
}

function bad(variable: string, why: string): never {
  throw new LicenseError("CONFIG_INVALID", `${variable}: ${why}`);
}

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";

function parsePort(value: string, label: string): number {
  const n = /^[0-9]{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n > 65_535)
    bad(label, `"${value.slice(0, 20)}" is not a port number (0-65535)`);
  return n;
}

function parseWhole(value: string, label: string, min: number, max: number): number {
  const n = /^[0-9]{1,12}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    bad(label, `"${value.slice(0, 20)}" is not a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A timeout in milliseconds: whole, and long enough that a value meant in seconds is caught. */
function parseMillis(value: string, label: string): number {
  const n = /^[0-9]{1,7}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 100 || n > 600_000) {
    bad(label, `"${value.slice(0, 20)}" is not a number of milliseconds from 100 to 600000`);
  }
  return n;
}

function parseProxies(value: string): string[] {
  const list = value.split(/[\s,]+/).filter((s) => s !== "");
  for (const entry of list) {
    if (["loopback", "linklocal", "uniquelocal"].includes(entry)) continue;
    const [addr, prefix, more] = entry.split("/");
    const family = isIP(addr ?? "");
    const maxPrefix = family === 6 ? 128 : 32;
    const prefixOk =
      prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || more !== undefined) {
      bad(
        SERVER_VARS.TRUSTED_PROXIES,
        `"${entry.slice(0, 60)}" is not an IP address, a CIDR range or one of loopback, linklocal, uniquelocal`,
      );
    }
  }
  if (list.length === 0) bad(SERVER_VARS.TRUSTED_PROXIES, "is set but empty");
  return list;
}

function databaseConfig(env: Env, dataDir: string): DatabaseConfig {
  const V = SERVER_VARS;
  // Checked even for the embedded database, so a typo fails now rather than after a move to PostgreSQL.
  const timeouts = {
    ...(set(env[V.DB_CONNECT_TIMEOUT])
      ? { connectTimeoutMs: parseMillis(env[V.DB_CONNECT_TIMEOUT]!, V.DB_CONNECT_TIMEOUT) }
      : {}),
    ...(set(env[V.DB_QUERY_TIMEOUT])
      ? { queryTimeoutMs: parseMillis(env[V.DB_QUERY_TIMEOUT]!, V.DB_QUERY_TIMEOUT) }
      : {}),
  };
  if (set(env[V.DATABASE_URL]) && set(env[V.DATABASE_URL_FILE])) {
    bad(V.DATABASE_URL, `set only one of ${V.DATABASE_URL} and ${V.DATABASE_URL_FILE}`);
  }
  const fromFile = set(env[V.DATABASE_URL_FILE]);
  const url = fromFile
    ? readSecretFile(env[V.DATABASE_URL_FILE]!, V.DATABASE_URL_FILE)
    : env[V.DATABASE_URL]?.trim();
  const label = fromFile ? V.DATABASE_URL_FILE : V.DATABASE_URL;
  if (!set(url)) {
    if (set(env[V.DATABASE_PASSWORD_FILE])) {
      bad(
        V.DATABASE_PASSWORD_FILE,
        `is set but ${V.DATABASE_URL} is not; the password is for its user`,
      );
    }
    return { kind: "pglite", dir: join(dataDir, "pgdata") };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return bad(label, "is not a URL like postgres://user@127.0.0.1:5433/licenses");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    bad(label, `must start with postgres:// (it starts with ${parsed.protocol}//)`);
  }
  if (parsed.pathname === "" || parsed.pathname === "/") {
    bad(label, "names no database; add it as the path, e.g. postgres://user@host:5433/licenses");
  }
  const password = set(env[V.DATABASE_PASSWORD_FILE])
    ? readSecretFile(env[V.DATABASE_PASSWORD_FILE]!, V.DATABASE_PASSWORD_FILE)
    : undefined;
  const max = set(env[V.POOL_MAX]) ? parseWhole(env[V.POOL_MAX]!, V.POOL_MAX, 1, 1000) : 10;
  return {
    kind: "postgres",
    url,
    max,
    ...timeouts,
    ...(password !== undefined ? { password } : {}),
  };
}

/**
 * Throws `DEV_KEY_IN_PRODUCTION` when `keys` sign with or trust the public
 * development key where the production rule (src/core/environment.ts) refuses
 * it: in production, or in a server listening on `listenHost` that other
 * machines can reach. Every command that signs or trusts keys calls it.
 *
 * @example
 * ```ts
 * assertDevKeyAllowed(resolveKeys(env), env); // a command that listens nowhere
 * ```
 */
export function assertDevKeyAllowed(keys: ResolvedKeys, env: Env, listenHost?: string): void {
  if (!keys.usingDevKey) return;
  const why = devKeyRefusal(env[SERVER_VARS.NODE_ENV], listenHost);
  if (why === undefined) return;
  const fix = !keys.configured
    ? `neither ${PRIVKEY_VAR}(_FILE) nor ${PUBKEY_VAR}(_FILE) is set; set them to the production keys`
    : keys.signer?.kid === DEV_KID
      ? `${PRIVKEY_VAR}(_FILE) is the development key; sign with the production key`
      : `${PUBKEY_VAR}(_FILE) trusts it (kid ${DEV_KID}); remove it`;
  throw new LicenseError(
    "DEV_KEY_IN_PRODUCTION",
    `the public development key is refused: ${why}; ${fix}`,
  );
}

/**
 * Reads and checks the whole configuration. `home` is the user's home folder
 * (for the default data folder).
 *
 * @example
 * ```ts
 * const config = loadServerConfig(ctx.env, { port: "8091" }, ctx.home);
 * ```
 */
export function loadServerConfig(env: Env, flags: ServerFlags, home: string): ServerConfig {
  const V = SERVER_VARS;
  const { production } = runtimeMode(env[V.NODE_ENV]);
  const host = flags.host ?? (set(env[V.HOST]) ? env[V.HOST]!.trim() : DEFAULT_HOST);
  if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) {
    bad(
      flags.host !== undefined ? "--host" : V.HOST,
      `"${host.slice(0, 60)}" is not a host name or address`,
    );
  }
  const port =
    flags.port !== undefined
      ? parsePort(flags.port, "--port")
      : set(env[V.PORT])
        ? parsePort(env[V.PORT]!, V.PORT)
        : DEFAULT_PORT;
  const { dataDir, database } = loadDatabaseConfig(env, flags, home);
  const keys = resolveKeys(env);
  assertDevKeyAllowed(keys, env, host);
  let adminTokenSeed: string | undefined;
  if (set(env[V.ADMIN_TOKEN_FILE])) {
    adminTokenSeed = readSecretFile(env[V.ADMIN_TOKEN_FILE]!, V.ADMIN_TOKEN_FILE);
    if (!ADMIN_TOKEN.test(adminTokenSeed)) {
      bad(
        V.ADMIN_TOKEN_FILE,
        "the file must hold one token of the form dtl_admin_<43 base64url characters>; make one with: dtlicense admin token generate",
      );
    }
  }
  const trustedProxies = set(env[V.TRUSTED_PROXIES])
    ? parseProxies(env[V.TRUSTED_PROXIES]!)
    : ["loopback"];
  const verifyRateLimit = set(env[V.VERIFY_RATE_LIMIT])
    ? parseWhole(env[V.VERIFY_RATE_LIMIT]!, V.VERIFY_RATE_LIMIT, 1, 1_000_000_000)
    : DEFAULT_VERIFY_RATE_LIMIT;
  const logLevel = set(env[V.LOG_LEVEL]) ? env[V.LOG_LEVEL]!.trim() : "info";
  if (!LOG_LEVELS.includes(logLevel)) bad(V.LOG_LEVEL, `must be one of ${LOG_LEVELS.join(", ")}`);
  const revocationsMaxAgeS = set(env[V.REVOCATIONS_MAX_AGE])
    ? parseWhole(env[V.REVOCATIONS_MAX_AGE]!, V.REVOCATIONS_MAX_AGE, 60, 604_800)
    : 3600;
  const seatReclaimDays = set(env[V.SEAT_RECLAIM_DAYS])
    ? parseWhole(env[V.SEAT_RECLAIM_DAYS]!, V.SEAT_RECLAIM_DAYS, 1, 36_500)
    : undefined;
  const verifyCacheEntries = set(env[V.VERIFY_CACHE_ENTRIES])
    ? parseWhole(env[V.VERIFY_CACHE_ENTRIES]!, V.VERIFY_CACHE_ENTRIES, 0, 10_000_000)
    : undefined;
  return {
    host,
    port,
    dataDir,
    database,
    keys,
    adminTokenSeed,
    trustedProxies,
    verifyRateLimit,
    production,
    logLevel,
    sales: loadSalesConfig(env),
    revocationsMaxAgeS,
    seatReclaimDays,
    catalogue: loadCatalogue(env),
    ...(verifyCacheEntries !== undefined ? { verifyCacheEntries } : {}),
  };
}

/** Only the database part, for commands that need nothing else (db migrate, admin, import). */
export function loadDatabaseConfig(
  env: Env,
  flags: { dataDir?: string },
  home: string,
): {
  dataDir: string;
  database: DatabaseConfig;
} {
  const configured = env[SERVER_VARS.DATA_DIR];
  const dataDir = resolve(
    flags.dataDir ?? (set(configured) ? configured : join(home, ".datatools-license")),
  );
  return { dataDir, database: databaseConfig(env, dataDir) };
}
