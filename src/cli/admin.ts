/**
 * `dtlicense admin token create|list|revoke|generate`: admin tokens, managed
 * over the API (with --url and an admin token, or the API of the server that
 * holds the embedded database open) or directly in the configured database.
 * `create` prints the new token alone on stdout; it is shown once.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ERROR_CODES, LicenseError, type ErrorCode } from "../core/errors.js";
import { readSecretFile } from "../config/secret-file.js";
import { loadDatabaseConfig } from "../config/server.js";
import { ADMIN_TOKEN_FILE, runningServer, SERVER_FILE } from "../server/server-file.js";
import type { CliContext } from "./context.js";
import { openDeploymentDatabase } from "./ops-env.js";
import type { Wrap } from "./program.js";

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

interface Token {
  id: number;
  name: string;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export function registerAdmin(program: Command, ctx: CliContext, wrap: Wrap): void {
  const admin = program.command("admin").description("License server administration");
  const token = admin
    .command("token")
    .description("Admin tokens for the server's API (stored only as hashes)");

  remoteOptions(
    token
      .command("create")
      .description("create an admin token and print it alone on stdout (it is shown only once)")
      .requiredOption(
        "--name <name>",
        "what the token is for, e.g. 'ops laptop' (shown in the audit trail)",
      ),
  ).action(
    wrap(async (opts: RemoteOptions & { name: string }) => {
      const target = apiTarget(ctx, opts);
      let created: Token & { token: string };
      if (target) {
        created = await callApi(target, "POST", "/v1/admin/tokens", { name: opts.name });
      } else {
        const { generateToken, insertToken } = await import("../store/tokens.js");
        const { migrate } = await import("../store/migrations.js");
        const db = (await openDeploymentDatabase(ctx, opts.dataDir)).db;
        try {
          await migrate(db);
          const t = generateToken();
          created = { ...(await insertToken(db, opts.name, t, "cli", ctx.now())), token: t };
        } finally {
          await db.close();
        }
      }
      ctx.stdout.write(`${created.token}\n`);
      ctx.stderr.write(
        `dtlicense: created admin token ${created.id} "${created.name}"; store it now, it is not shown again\n`,
      );
    }),
  );

  remoteOptions(
    token
      .command("list")
      .description("list admin tokens (never the tokens themselves)")
      .option("--json", "print JSON"),
  ).action(
    wrap(async (opts: RemoteOptions & { json?: boolean }) => {
      const target = apiTarget(ctx, opts);
      let tokens: Token[];
      if (target) {
        tokens = (await callApi<{ tokens: Token[] }>(target, "GET", "/v1/admin/tokens")).tokens;
      } else {
        const { listTokens } = await import("../store/tokens.js");
        const db = (await openDeploymentDatabase(ctx, opts.dataDir)).db;
        try {
          tokens = await listTokens(db);
        } finally {
          await db.close();
        }
      }
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
        return;
      }
      for (const t of tokens) {
        const state = t.revoked_at ? `revoked ${t.revoked_at}` : "live";
        ctx.stdout.write(
          `${String(t.id).padEnd(5)} ${t.name.padEnd(24)} ${state.padEnd(34)} last used ${t.last_used_at ?? "never"}\n`,
        );
      }
    }),
  );

  remoteOptions(
    token
      .command("revoke")
      .description("revoke a live token by id or name")
      .argument("<id-or-name>"),
  ).action(
    wrap(async (idOrName: string, opts: RemoteOptions) => {
      const target = apiTarget(ctx, opts);
      let revoked: Token;
      if (target) {
        revoked = await callApi(
          target,
          "POST",
          `/v1/admin/tokens/${encodeURIComponent(idOrName)}/revoke`,
        );
      } else {
        const { revokeToken } = await import("../store/tokens.js");
        const db = (await openDeploymentDatabase(ctx, opts.dataDir)).db;
        try {
          revoked = await revokeToken(db, idOrName, ctx.now());
        } finally {
          await db.close();
        }
      }
      ctx.stderr.write(`dtlicense: revoked admin token ${revoked.id} "${revoked.name}"\n`);
    }),
  );

  token
    .command("generate")
    .description(
      "print a new random token without storing it, for DATATOOLS_ADMIN_TOKEN_FILE " +
        "(the server stores its hash on first start)",
    )
    .action(
      wrap(async () => {
        const { generateToken } = await import("../store/tokens.js");
        ctx.stdout.write(`${generateToken()}\n`);
      }),
    );
}
