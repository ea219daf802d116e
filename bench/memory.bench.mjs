// The license server's resident memory (VmHWM, the peak the kernel saw) on the embedded
// PGlite database: on a first start that creates the database, reopened, and steady after
// verify and issue at saturation; beside the same server on PostgreSQL (a scratch database
// on 127.0.0.1:5432, dropped afterwards; skipped with a note when none answers). A first
// start also samples the server and its children together, since the database is created
// in a short-lived child process. Targets: first start <= 400 MiB, steady <= 300 MiB.
/* global fetch */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { generateToken } from "../dist/store/tokens.js";
import { target } from "./targets.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/dtlicense.cjs");
const AUTOCANNON = join(ROOT, "node_modules/autocannon/autocannon.js");
const BASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? 5);
const work = mkdtempSync(join(tmpdir(), "dtl-bench-mem-"));
const token = generateToken();
const tokenFile = join(work, "admin-token");
writeFileSync(tokenFile, token, { mode: 0o600 });
const cleanups = [];
const fmt = (n) => `${Math.round(n)} MiB`;

function status(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    );
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // gone
  }
}

/** Resident memory of a process and its descendants now, in MiB. */
function treeRss(pid) {
  let kids = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
  } catch {
    // gone, or no children list
  }
  return status(pid, "VmRSS") + kids.filter(Boolean).reduce((s, k) => s + treeRss(Number(k)), 0);
}

/** Starts `dtlicense serve` on `dataDir`; resolves once it listens, with the tree's sampled peak. */
function serve(dataDir, env = {}) {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--data-dir", dataDir], {
    env: {
      PATH: process.env.PATH,
      HOME: work,
      DATATOOLS_ADMIN_TOKEN_FILE: tokenFile,
      DATATOOLS_VERIFY_RATE_LIMIT: "1000000000",
      DATATOOLS_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let treePeak = 0;
  const sampler = setInterval(() => (treePeak = Math.max(treePeak, treeRss(child.pid))), 20);
  let err = "";
  return new Promise((ok, fail) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearInterval(sampler);
        ok({ child, url: m[1], treePeak, peak: () => status(child.pid, "VmHWM") });
      }
    });
    child.on("exit", (code) => {
      clearInterval(sampler);
      fail(new Error(`server exited ${code}: ${err}`));
    });
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  await done;
}

function cannon(url, body, headers = {}) {
  const args = [AUTOCANNON, "--json", "-c", "50", "-d", String(SECONDS), "-m", "POST"];
  args.push("-H", "content-type=application/json");
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}=${v}`);
  args.push("-b", JSON.stringify(body), url);
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`autocannon failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  return { rps: j.requests.average, errors: j.errors + j.timeouts + (j.non2xx ?? 0) };
}

/** Verify then issue at saturation; the server's peak after. */
async function load(server) {
  const auth = { authorization: `Bearer ${token}` };
  const issueBody = { name: "Bench Buyer", email: "bench@example.com", tier: "core" };
  const first = await fetch(`${server.url}/v1/licenses`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(issueBody),
  }).then((r) => r.json());
  const v = cannon(`${server.url}/v1/licenses/verify`, { blob: first.blob });
  const i = cannon(`${server.url}/v1/licenses`, issueBody, auth);
  console.log(
    `  (under load: verify ${Math.round(v.rps)} req/s, issue ${Math.round(i.rps)} req/s, ` +
      `${v.errors + i.errors} errors)`,
  );
  return server.peak();
}

async function scratchDb() {
  const name = `dtl_bench_mem_${process.pid}`;
  const admin = new pg.Client({ connectionString: BASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    console.log(`  PostgreSQL at ${BASE_URL} not usable, skipped: ${err.message}`);
    return undefined;
  } finally {
    await admin.end().catch(() => undefined);
  }
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: BASE_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function main() {
  console.log(`server memory (VmHWM), ${SECONDS} s per load run, 50 connections`);
  const dataDir = join(work, "data");

  const first = await serve(dataDir);
  cleanups.unshift(() => stop(first.child));
  const firstPeak = first.peak();
  await stop(first.child);
  console.log(
    `  PGlite first start:  ${fmt(firstPeak)}  (server with its children, sampled: ${fmt(first.treePeak)})`,
  );

  const again = await serve(dataDir);
  cleanups.unshift(() => stop(again.child));
  const reopenPeak = again.peak();
  console.log(`  PGlite reopened:     ${fmt(reopenPeak)}`);
  const steady = await load(again);
  await stop(again.child);
  console.log(`  PGlite under load:   ${fmt(steady)}`);

  const url = await scratchDb();
  let pgSteady;
  if (url) {
    const pgServer = await serve(join(work, "data-pg"), { DATABASE_URL: url });
    cleanups.unshift(() => stop(pgServer.child));
    const pgStart = pgServer.peak();
    pgSteady = await load(pgServer);
    await stop(pgServer.child);
    console.log(`  PostgreSQL started:  ${fmt(pgStart)}`);
    console.log(`  PostgreSQL under load: ${fmt(pgSteady)}`);
  }

  console.log("\ntargets");
  target("server peak on PGlite, first start (creates the database)", firstPeak, 400, {
    higher: false,
    unit: " MiB",
    digits: 0,
  });
  target("server peak on PGlite, steady under load", steady, 300, {
    higher: false,
    unit: " MiB",
    digits: 0,
  });
  if (pgSteady !== undefined) {
    console.log(`  (beside PostgreSQL under load: ${fmt(pgSteady)})`);
  }
}

try {
  await main();
} finally {
  for (const c of cleanups) await c().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
