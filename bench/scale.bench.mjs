// A million licenses: seeds N licenses (one INSERT … SELECT generate_series per 100,000
// rows, run by the database itself — the bench's set-up, not the product's import) on
// PostgreSQL and on PGlite, then measures at a single client, through a real server
// process, the p99 of: search by e-mail, by text (q), by state, expiring-within, the
// counts, a deep keyset page, and verify; and prints each query's plan (EXPLAIN ANALYZE).
// Sizes: 10,000 and BENCH_SCALE_ROWS (default 100,000; `--rows 1000000` or
// BENCH_SCALE_ROWS=1000000 for the full million), PGlite up to BENCH_SCALE_PGLITE_ROWS
// (default the same, at most 200,000: PGlite keeps its database in WebAssembly memory).
/* global performance */
import { createHash } from "node:crypto";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEV_PRIVATE_KEY_HEX, importSigner } from "../dist/core/keys.js";
import { mintLicense } from "../dist/core/mint.js";
import { openPglite } from "../dist/store/pglite.js";
import { openPostgres } from "../dist/store/pg.js";
import { migrate } from "../dist/store/migrations.js";
import * as L from "../dist/store/licenses.js";
import { generateToken } from "../dist/store/tokens.js";
import { BASE_URL, fmt, sql, startServer as serve, stop } from "./support.mjs";
import { target } from "./targets.mjs";

const arg = process.argv.indexOf("--rows");
const TOP = Number(arg > 0 ? process.argv[arg + 1] : (process.env.BENCH_SCALE_ROWS ?? 100_000));
const LITE_TOP = Number(process.env.BENCH_SCALE_PGLITE_ROWS ?? Math.min(TOP, 200_000));
const SAMPLES = Number(process.env.BENCH_SCALE_SAMPLES ?? 300);
const CHUNK = 100_000;
const REAL = 100;
const P99_GOAL_MS = 20;
const work = mkdtempSync(join(tmpdir(), "dtl-scale-"));
const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const token = generateToken();
/** Starts `dtlicense serve` (bench/support.mjs) with this run's folder and token. */
const startServer = (env, dataDir) =>
  serve({ work, token, env: { DATATOOLS_LOG_LEVEL: "warn", ...env }, dataDir });
const NOW = new Date();
const cleanups = [];

async function scratchDb(suffix) {
  const name = `dtl_scale_${process.pid}_${suffix}`;
  await sql(`CREATE DATABASE ${name}`);
  cleanups.push(() => sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Seeds licenses from..to in the database: names and e-mails made of hex words (so their
 * trigrams vary as real ones do), three tiers, 2% suspended, 3% revoked, issued
 * over the two years before now and expiring from two years before to two years after it.
 * Straight into the table, without events (as a `\copy` would).
 */
async function seed(db, from, to) {
  await db.query(
    `INSERT INTO licenses (license_key, name, email, email_norm, tier, issued_at, expires_at,
       kid, blob, status, source, created_at, updated_at)
     SELECT 'DTL-SEED-' || lpad(i::text, 9, '0'),
       initcap(substr(md5(i::text), 1, 6)) || ' ' || initcap(substr(md5(i::text), 20, 9)),
       substr(md5(i::text), 7, 8) || '.' || i || '@' || (ARRAY['example.com', 'mail.test',
         'corp.example', 'example.org', 'studio.test'])[1 + i % 5],
       substr(md5(i::text), 7, 8) || '.' || i || '@' || (ARRAY['example.com', 'mail.test',
         'corp.example', 'example.org', 'studio.test'])[1 + i % 5],
       (ARRAY['lite', 'core', 'pro'])[1 + i % 3],
       $1::timestamptz - interval '1 hour' * (i % 17520),
       $1::timestamptz + interval '1 hour' * ((i::bigint * 7919) % 35040 - 17520),
       '0123456789abcdef', 'DTLIC2:' || repeat(md5(i::text), 12),
       CASE WHEN i % 50 = 0 THEN 'suspended' WHEN i % 33 = 0 THEN 'revoked' ELSE 'active' END,
       'import', $1::timestamptz, $1::timestamptz
     FROM generate_series($2::int, $3::int) AS i`,
    [NOW.toISOString(), from, to],
  );
}

/** Grows the database to `rows` seeded licenses (plus the real ones), then analyzes it. */
async function grow(db, had, rows) {
  const t = performance.now();
  for (let from = had + 1; from <= rows; from += CHUNK) {
    await seed(db, from, Math.min(rows, from + CHUNK - 1));
  }
  await db.query(db.kind === "postgres" ? "VACUUM ANALYZE licenses" : "ANALYZE licenses");
  return (performance.now() - t) / 1000;
}

/** Real, verifiable licenses, inserted through the store's write path (with events). */
async function insertReal(db) {
  const blobs = [];
  const writes = [];
  for (let i = 0; i < REAL; i++) {
    const { payload, blob } = mintLicense(
      { name: `Real Buyer ${i}`, email: `real${i}@example.com`, tier: "pro" },
      signer,
      NOW,
    );
    blobs.push(blob);
    writes.push({
      license: { ...payload, blob, source: "api" },
      action: "issue",
      who: { actor: "bench" },
      at: NOW,
    });
  }
  await L.insertLicenses(db, writes);
  return blobs;
}

/** The query shapes: each a request to the server and the store call it makes. */
function shapes(rows) {
  const pick = () => 1 + Math.floor(Math.random() * rows);
  const DOMAINS = ["example.com", "mail.test", "corp.example", "example.org", "studio.test"];
  const hex = (i) => createHash("md5").update(String(i)).digest("hex");
  const email = (i) => `${hex(i).slice(6, 14)}.${i}@${DOMAINS[i % 5]}`;
  // A part of someone's name, as a person searching types it.
  const text = (i) => hex(i).slice(19, 25);
  const deep = Math.max(1, Math.floor(rows / 100));
  return [
    {
      name: "search by e-mail",
      path: () => `/v1/licenses?email=${encodeURIComponent(email(pick()))}`,
      store: (q) => L.listLicenses(q, { email: email(pick()), limit: 50 }, NOW),
    },
    {
      name: "search by text (q)",
      path: () => `/v1/licenses?q=${text(pick())}`,
      store: (q) => L.listLicenses(q, { search: text(pick()), limit: 50 }, NOW),
    },
    ...["active", "expired", "suspended", "revoked"].map((state) => ({
      name: `list by state ${state}`,
      path: () => `/v1/licenses?state=${state}`,
      store: (q) => L.listLicenses(q, { state, limit: 50 }, NOW),
    })),
    {
      name: "expiring within 30 days",
      path: () => "/v1/licenses?expiring_within_days=30",
      store: (q) => L.listLicenses(q, { expiringWithinDays: 30, limit: 50 }, NOW),
    },
    {
      name: "counts",
      path: () => "/v1/counts",
      store: (q) => L.countLicenses(q, NOW),
    },
    {
      name: "deep keyset page",
      path: () => `/v1/licenses?cursor=${Buffer.from(String(deep)).toString("base64url")}`,
      store: (q) => L.listLicenses(q, { after: deep, limit: 50 }, NOW),
    },
  ];
}

/** The statements `run` sends, without running them. */
async function statementsOf(run) {
  const seen = [];
  await run({
    query: async (sql, params = []) => {
      seen.push({ sql, params });
      return { rows: [], rowCount: 0 };
    },
  });
  return seen;
}

/** EXPLAIN ANALYZE of each shape's statements: the scan nodes and the execution time. */
async function plans(db, rows) {
  const out = [];
  for (const s of [
    ...shapes(rows),
    { name: "verify", store: (q) => L.getVerifyRow(q, "DTL-SEED-000000042") },
  ]) {
    for (const { sql, params } of await statementsOf(s.store)) {
      // The second run (the first warms the caches), as the server would run it: a text
      // search with sequential and plain index scans off (see store/licenses.ts listLicenses).
      const { rows: lines } = await db.transaction(async (tx) => {
        if (/ILIKE/.test(sql)) {
          await tx.query("SET LOCAL enable_seqscan = off");
          await tx.query("SET LOCAL enable_indexscan = off");
        }
        await tx.query(sql, params);
        return tx.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${sql}`, params);
      });
      const text = lines.map((r) => Object.values(r)[0]);
      const scans = text
        .filter((l) => /Scan|Index Cond|Recheck Cond/.test(l) && !/Heap Blocks/.test(l))
        .map((l) => l.trim().replace(/\s+\(actual.*$/, ""));
      const time = text.find((l) => /Execution Time/.test(l)) ?? "";
      out.push(`    ${s.name}: ${time.trim()}\n      ${scans.join("\n      ")}`);
      if (text.some((l) => /Seq Scan on licenses/.test(l))) {
        out.push(`      !! a sequential scan of licenses`);
        process.exitCode = 1;
      }
    }
  }
  return out.join("\n");
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One request over the single kept-alive connection; resolves with the status. */
function request(base, method, path, body) {
  const u = new URL(path, base);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((ok, fail) => {
    const req = http.request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload
            ? { "content-type": "application/json", "content-length": payload.length }
            : {}),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => ok(res.statusCode));
      },
    );
    req.on("error", fail);
    req.end(payload);
  });
}

/** p50 and p99 in ms of `n` requests one after another (after a tenth as many unrecorded). */
async function latency(send, n = SAMPLES) {
  for (let i = 0; i < Math.ceil(n / 10); i++) await send();
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const status = await send();
    lat.push(performance.now() - t);
    if (status !== 200) throw new Error(`answered ${status}`);
  }
  lat.sort((a, b) => a - b);
  const at = (q) => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))];
  return { p50: at(0.5), p99: at(0.99) };
}

/** Measures every shape (and verify) against a running server. */
async function measure(url, rows, blobs) {
  const out = {};
  for (const s of shapes(rows)) out[s.name] = await latency(() => request(url, "GET", s.path()));
  out.verify = await latency(() =>
    request(url, "POST", "/v1/licenses/verify", {
      blob: blobs[Math.floor(Math.random() * blobs.length)],
    }),
  );
  return out;
}

async function runBackend(kind, sizes) {
  const results = [];
  let url;
  let dataDir = join(work, `data-${kind}`);
  if (kind === "postgres") url = await scratchDb("pg");
  const open = () =>
    kind === "postgres"
      ? openPostgres({ url, queryTimeoutMs: 3_600_000 })
      : openPglite(join(dataDir, "pgdata"));
  let had = 0;
  let blobs;
  for (const rows of sizes) {
    const db = await open();
    try {
      if (had === 0) {
        await migrate(db);
        blobs = await insertReal(db);
      }
      const secs = await grow(db, had, rows);
      had = rows;
      // What the server's first counts request would do: compact the seeding's tally rows.
      await L.compactTally(db, NOW);
      console.log(`\n${kind} at ${fmt(rows)} licenses (seeded in ${fmt(secs, 1)} s)`);
      console.log(await plans(db, rows));
    } finally {
      await db.close();
    }
    const server = await startServer(kind === "postgres" ? { DATABASE_URL: url } : {}, dataDir);
    try {
      const r = await measure(server.url, rows, blobs);
      for (const [name, { p50, p99 }] of Object.entries(r)) {
        console.log(
          `  ${name.padEnd(28)} p50 ${fmt(p50, 2).padStart(7)} ms   p99 ${fmt(p99, 2).padStart(7)} ms`,
        );
      }
      results.push({ rows, r });
    } finally {
      await stop(server.child);
    }
  }
  return results;
}

async function main() {
  console.log(
    `scale benchmark: ${SAMPLES} requests per query at a single client; PostgreSQL at ${[10_000, TOP].map((n) => fmt(n)).join(" and ")}, PGlite at ${[10_000, LITE_TOP].map((n) => fmt(n)).join(" and ")} licenses`,
  );
  const pgResults = await runBackend("postgres", [...new Set([10_000, TOP])]);
  const liteResults = await runBackend("pglite", [...new Set([10_000, LITE_TOP])]);

  const table = (label, results) => {
    const [small, big] = [results[0], results[results.length - 1]];
    console.log(
      `\n${label}: p99 (ms) at ${fmt(small.rows)} → ${fmt(big.rows)} licenses, and the growth`,
    );
    for (const name of Object.keys(big.r)) {
      const a = small.r[name].p99;
      const b = big.r[name].p99;
      console.log(
        `  ${name.padEnd(28)} ${fmt(a, 2).padStart(7)} → ${fmt(b, 2).padStart(7)}   ×${fmt(b / a, 2)}`,
      );
    }
  };
  table("PostgreSQL", pgResults);
  table("PGlite", liteResults);

  const top = pgResults[pgResults.length - 1];
  console.log(`\ntargets (PostgreSQL at ${fmt(top.rows)} licenses, one client)`);
  for (const [name, { p99 }] of Object.entries(top.r)) {
    target(`p99 ${name} at ${fmt(top.rows)} licenses on PostgreSQL`, p99, P99_GOAL_MS, {
      higher: false,
      unit: " ms",
    });
  }
}

try {
  await main();
} finally {
  agent.destroy();
  for (const c of cleanups) await c().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
