// Online check-in benchmark: activation (new seats and repeats) and check-in throughput beside
// verify, in the same run, against one `dtlicense serve` on a scratch PostgreSQL database on
// 127.0.0.1:5432 (dropped afterwards). Every answer of these routes is signed (DTL-Signature).
// The load runs in its own process: a closed loop of 50 connections, each request's body made
// from a template whose %i is the request's number, so each activation can bring a new machine.
/* global fetch */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateToken } from "../dist/store/tokens.js";
import { BASE_URL, fmt, sql, startServer as serve, stop } from "./support.mjs";
import { target } from "./targets.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 50;
const work = mkdtempSync(join(tmpdir(), "dtl-bench-checkin-"));
const token = generateToken();
/** Starts `dtlicense serve` (bench/support.mjs) with this run's folder and token. */
const startServer = (env, dataDir) =>
  serve({ work, token, env: { DATATOOLS_LOG_LEVEL: "warn", ...env }, dataDir });
const cleanups = [];

async function scratchDb() {
  const name = `dtl_bench_${process.pid}_checkin`;
  await sql(`CREATE DATABASE ${name}`);
  cleanups.push(() => sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

// Closed loop: `connections` workers, each sending its next request when the last answered.
const LOAD = `
import http from "node:http";
const [url, seconds, connections, template, okStatuses] = process.argv.slice(1);
const u = new URL(url);
const ok = new Set(JSON.parse(okStatuses));
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const parts = template.split("%i");
const lat = [];
let n = 0, errors = 0, signed = 0;
const end = performance.now() + Number(seconds) * 1000;
const one = () => new Promise((done) => {
  const payload = Buffer.from(parts.join(String(n++).padStart(10, "0")));
  const t = performance.now();
  const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: "POST",
    headers: { "content-type": "application/json", "content-length": payload.length } }, (res) => {
    res.resume();
    res.on("end", () => {
      if (!ok.has(res.statusCode)) errors++;
      else lat.push(performance.now() - t);
      if (res.headers["dtl-signature"]) signed++;
      done();
    });
  });
  req.on("error", () => { errors++; done(); });
  req.end(payload);
});
const start = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, async () => {
  while (performance.now() < end) await one();
}));
const secs = (performance.now() - start) / 1000;
lat.sort((a, b) => a - b);
const at = (q) => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] ?? NaN;
console.log(JSON.stringify({ rps: lat.length / secs, p50: at(0.5), p99: at(0.99), errors, signed, total: n }));
agent.destroy();
`;

function load(url, template, okStatuses) {
  const r = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      LOAD,
      url,
      String(SECONDS),
      String(CONNECTIONS),
      template,
      JSON.stringify(okStatuses),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const line = (label, r) =>
  console.log(
    `  ${label.padEnd(48)} ${fmt(r.rps).padStart(7)} req/s   p50 ${fmt(r.p50, 1).padStart(6)} ms   p99 ${fmt(r.p99, 1).padStart(6)} ms   signed ${fmt((100 * r.signed) / Math.max(1, r.total))}%${r.errors ? `   (${r.errors} errors)` : ""}`,
  );

async function issue(server, body) {
  const res = await fetch(`${server.url}/v1/licenses`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`issue failed: ${res.status} ${await res.text()}`);
  return res.json();
}

async function main() {
  console.log(
    `check-in benchmark: ${SECONDS} s per run, ${CONNECTIONS} connections, closed loop, PostgreSQL ${BASE_URL.replace(/\/[^/]*$/, "")}`,
  );
  const server = await startServer({ DATABASE_URL: await scratchDb() });
  cleanups.unshift(() => stop(server.child));
  const buyer = { name: "Bench Buyer", email: "bench@example.com", tier: "core" };
  const held = await issue(server, { ...buyer, seats: 1 });
  const open = await issue(server, buyer);
  const nonce = "bench-nonce-%i";
  const activateFirst = await fetch(`${server.url}/v1/activations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      blob: held.blob,
      fingerprint: "bench-machine-0",
      nonce: "bench-nonce-00000000",
    }),
  });
  if (activateFirst.status !== 201) throw new Error(`activation failed: ${activateFirst.status}`);
  const body = (fields) => JSON.stringify(fields).replace("NONCE", nonce);

  console.log("\nsaturation");
  const verify = load(
    `${server.url}/v1/licenses/verify`,
    body({ blob: held.blob, nonce: "NONCE" }),
    [200],
  );
  line("POST /v1/licenses/verify (with nonce)", verify);
  const checkIn = load(
    `${server.url}/v1/check-in`,
    body({ blob: held.blob, fingerprint: "bench-machine-0", nonce: "NONCE" }),
    [200],
  );
  line("POST /v1/check-in (VALID)", checkIn);
  const repeat = load(
    `${server.url}/v1/activations`,
    body({ blob: held.blob, fingerprint: "bench-machine-0", nonce: "NONCE" }),
    [200],
  );
  line("POST /v1/activations, repeat (ALREADY_ACTIVE)", repeat);
  const fresh = load(
    `${server.url}/v1/activations`,
    body({ blob: open.blob, fingerprint: "bench-machine-%i", nonce: "NONCE" }),
    [201],
  );
  line("POST /v1/activations, new seat (ACTIVATED)", fresh);
  await stop(server.child);

  console.log("\ntargets");
  // Ratios to verify in the same run, so the machine's load cancels out. A check-in is two
  // statements (a read; an update that also counts the seats) where verify is one batched
  // read; a repeat activation is the same without a lock; a new seat is a transaction holding
  // the license's row lock that also appends an audit event to the one hash chain, so new
  // seats of all licenses take turns (this run puts them all on one license, the worst case).
  target("check-in / verify throughput", checkIn.rps / verify.rps, 0.3);
  target("repeat activation / verify throughput", repeat.rps / verify.rps, 0.3);
  // A machine takes a seat once; 50 new seats a second is over four million a day.
  target("new seats a second", fresh.rps, 50, { digits: 0 });
  target(
    "answers signed",
    (verify.signed + checkIn.signed + repeat.signed + fresh.signed) /
      (verify.total + checkIn.total + repeat.total + fresh.total),
    1,
  );
}

try {
  await main();
} finally {
  for (const c of cleanups) await c().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
