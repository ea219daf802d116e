/**
 * Reaching a license server's API from the command line: `--url` (or
 * $DATATOOLS_SERVER_URL) with an admin token, or the server that holds the
 * configured embedded database open (its data folder's server.json). An error
 * answer becomes a LicenseError with the server's code.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ERROR_CODES, LicenseError, type ErrorCode } from "../core/errors.js";
import { ADMIN_TOKEN_FILE, runningServer, SERVER_FILE } from "../config/data-dir.js";
import { readSecretFile } from "../config/secret-file.js";
import { loadDatabaseConfig } from "../config/server.js";
import type { CliContext } from "./context.js";

export const SERVER_URL_VAR = "DATATOOLS_SERVER_URL";
export const ADMIN_TOKEN_VAR = "DATATOOLS_ADMIN_TOKEN";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** How long an API call may take before the command gives up. */
const API_TIMEOUT_MS = 60_000;

/** How a command reaches the server's API, when it does. */
export interface ApiTarget {
  readonly url: string;
  readonly token: string;
}

export interface RemoteOptions {
  url?: string;
  tokenFile?: string;
  dataDir?: string;
}

/** Adds --url, --token-file and --data-dir to a command. */
export function remoteOptions(cmd: Command): Command {
  return cmd
    .option(
      "--url <url>",
      `use the server's API at this address (default $${SERVER_URL_VAR}); otherwise the API of ` +
        `the server running on the embedded database (its ${SERVER_FILE}), else the database directly`,
    )
    .option(
      "--token-file <file>",
      `admin token for the API, from a mode-600 file (default $${ADMIN_TOKEN_VAR}, else the data folder's ${ADMIN_TOKEN_FILE})`,
    )
    .option("--data-dir <dir>", "without --url: data folder of the embedded database");
}

/** The admin token from --token-file or $DATATOOLS_ADMIN_TOKEN; "" when neither is given. */
function givenToken(ctx: CliContext, opts: RemoteOptions): string {
  return opts.tokenFile
    ? readSecretFile(opts.tokenFile, "--token-file")
    : (ctx.env[ADMIN_TOKEN_VAR] ?? "").trim();
}

/**
 * The API of the server running on the configured embedded database (found in
 * its data folder's server.json), which holds that database locked; undefined
 * when the database is PostgreSQL or no server is running on it.
 */
function runningServerTarget(ctx: CliContext, opts: RemoteOptions): ApiTarget | undefined {
  const { dataDir, database } = loadDatabaseConfig(
    ctx.env,
    opts.dataDir ? { dataDir: opts.dataDir } : {},
    ctx.home,
  );
  if (database.kind !== "pglite") return undefined;
  const server = runningServer(dataDir);
  if (!server) return undefined;
  const tokenFile = join(dataDir, ADMIN_TOKEN_FILE);
  const token =
    givenToken(ctx, opts) ||
    (existsSync(tokenFile)
      ? readSecretFile(tokenFile, `the data folder's ${ADMIN_TOKEN_FILE}`)
      : "");
  if (token === "") {
    throw new LicenseError(
      "AUTH_MISSING",
      `the server running at ${server.url} (pid ${server.pid}) holds the embedded database in ${dataDir}, ` +
        `so this goes through its API, which needs an admin token: pass --token-file FILE or set ${ADMIN_TOKEN_VAR} ` +
        `(${tokenFile} does not exist)`,
    );
  }
  ctx.stderr.write(
    `dtlicense: using the API of the server running at ${server.url} (pid ${server.pid}), which holds the embedded database\n`,
  );
  return { url: server.url, token };
}

/**
 * The API target the options and environment name, or that of the server
 * running on the embedded database; undefined for direct database access.
 */
export function apiTarget(ctx: CliContext, opts: RemoteOptions): ApiTarget | undefined {
  const url = opts.url ?? (ctx.env[SERVER_URL_VAR] || undefined);
  if (url === undefined) return runningServerTarget(ctx, opts);
  let parsed: URL | undefined;
  try {
    parsed = /^https?:\/\/[^\s]+$/.test(url) ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    throw new LicenseError(
      "USAGE",
      `--url must be an http:// or https:// address, not "${url.slice(0, 60)}"`,
    );
  }
  // The admin token is a bearer credential: plain HTTP only where nobody can listen in.
  if (parsed.protocol === "http:" && !LOOPBACK_HOSTS.has(parsed.hostname)) {
    throw new LicenseError(
      "USAGE",
      `--url ${parsed.origin} would send the admin token unencrypted; use https:// (or http:// to 127.0.0.1 or localhost only)`,
    );
  }
  const token = givenToken(ctx, opts);
  if (token === "") {
    throw new LicenseError(
      "AUTH_MISSING",
      `the API needs an admin token: pass --token-file FILE or set ${ADMIN_TOKEN_VAR}`,
    );
  }
  return { url: url.replace(/\/+$/, ""), token };
}

/** Calls the API; an error response becomes a LicenseError with the server's code. */
export async function callApi<T>(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
  } catch (err) {
    throw new LicenseError(
      "SERVER_UNREACHABLE",
      `cannot reach ${target.url}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    const code = (e?.code && e.code in ERROR_CODES ? e.code : "INTERNAL") as ErrorCode;
    throw new LicenseError(
      code,
      `the server answered ${res.status}: ${e?.message ?? text.slice(0, 200)}`,
    );
  }
  return parsed as T;
}
