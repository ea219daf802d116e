// What the server benchmarks share: starting `dtlicense serve` as its own process and
// stopping it. Each benchmark keeps its own work folder and admin token.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/** The PostgreSQL server the benchmarks make their scratch databases on. */
export const BASE_URL =
  process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A number with thousands separators and `d` decimals. */
export const fmt = (n, d = 0) =>
  Number(n).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

/** Runs one statement on the database at `url` (default BASE_URL) over its own connection. */
export async function sql(text, url = BASE_URL) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** The CLI entry the benchmarks start servers with (after `npm run build`). */
export const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), ".."), "dist/cli/main.js");

/**
 * Starts `dtlicense serve` on a free port, with `token` as its first admin token and no
 * verify rate limit, and resolves with the child and its URL once it listens.
 *
 * @param {{ work: string, token: string, env?: Record<string, string>, dataDir?: string }} o
 *   work: a folder for its secrets (and data, unless dataDir is given); env: added variables
 * @returns {Promise<{ child: import("node:child_process").ChildProcess, url: string }>}
 */
export function startServer({ work, token, env = {}, dataDir }) {
  const secrets = mkdtempSync(join(work, "secrets-"));
  writeFileSync(join(secrets, "admin-token"), token, { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--port", "0", "--data-dir", dataDir ?? join(secrets, "data")],
    {
      env: {
        PATH: process.env.PATH,
        HOME: work,
        DATATOOLS_ADMIN_TOKEN_FILE: join(secrets, "admin-token"),
        DATATOOLS_VERIFY_RATE_LIMIT: "1000000000",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  return new Promise((ok, fail) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) ok({ child, url: m[1] });
    });
    child.on("exit", (code) => fail(new Error(`server exited ${code}: ${err}`)));
  });
}

/** Stops a server started by {@link startServer} (SIGTERM) and waits for it to exit. */
export async function stop(child) {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  await done;
}
