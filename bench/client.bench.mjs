// The buyer side's speed: cold `dtlicense status` wall time beside a bare `node -e ''`,
// for the npm-installed CLI (dist/cli/dtlicense.cjs, the installed bin) and the packaged
// binary buyers run. Whole processes in pairs, each `dtlicense status` beside a `node -e ''`
// run just before or after it (the order alternates), one ratio per pair, the median of
// the pairs' ratios (target: at most 1.15x); then in-process hasFeature checks per second
// after one load.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { generateKeypair, importSigner, mintLicense } from "../dist/core/index.js";
import { LicenseClient } from "../dist/client/index.js";
import { target } from "./targets.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/dtlicense.cjs");
const PAIRS = Number(process.env.BENCH_PAIRS ?? 21);
const COLD_TARGET = 1.15;
const BUYER = { name: "Bench Buyer", email: "bench@example.com" };

const work = mkdtempSync(join(tmpdir(), "dtl-bench-"));
try {
  // A throwaway vendor key: the packaged binary refuses the development key.
  const pair = generateKeypair();
  const signer = importSigner(Buffer.from(pair.privateKeyHex, "hex"));
  const { blob } = mintLicense(BUYER, signer, new Date());
  const home = join(work, "home");
  const client = new LicenseClient({ publicKeys: [pair.publicKeyHex], home });
  client.activate(blob, BUYER);

  const binary = join(work, "dtlicense");
  const built = spawnSync(
    process.execPath,
    [join(ROOT, "scripts/build-binary.mjs"), "--out", binary],
    {
      env: { ...process.env, DATATOOLS_LICENSE_PUBKEY: pair.publicKeyHex },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const haveBinary = built.status === 0;
  if (!haveBinary) console.log(`packaged binary not built, skipped: ${built.stderr}`);

  const env = { PATH: process.env.PATH, HOME: home, DATATOOLS_LICENSE_PUBKEY: pair.publicKeyHex };
  const time = (cmd, args) => {
    const start = performance.now();
    const r = spawnSync(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const ms = performance.now() - start;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return ms;
  };
  const median = (xs) => {
    const v = [...xs].sort((x, y) => x - y);
    const mid = v.length >> 1;
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  };

  const bare = () => time(process.execPath, ["-e", ""]);
  const series = {
    "dtlicense status (bin)": () => time(process.execPath, [CLI, "status"]),
    ...(haveBinary ? { "dtlicense status (packaged binary)": () => time(binary, ["status"]) } : {}),
    // No target: the bound under them. Checking a signature needs node:crypto, whose loading
    // (with node:stream under it) Node 20 does not have in its start-up snapshot.
    "node:crypto loaded (floor, no target)": () =>
      time(process.execPath, ["-e", 'require("node:crypto")']),
  };
  const pairs = Object.fromEntries(Object.keys(series).map((k) => [k, []]));
  bare(); // warm the file cache once
  for (const run of Object.values(series)) run();
  // A, B, A, B ...: each pair shares the machine's load of its moment, and the order
  // alternates so neither side is always the one that runs second.
  for (let i = 0; i < PAIRS; i++) {
    for (const [name, run] of Object.entries(series)) {
      let a, b;
      if (i % 2 === 0) {
        a = bare();
        b = run();
      } else {
        b = run();
        a = bare();
      }
      pairs[name].push({ a, b });
    }
  }
  console.log(`cold start, ${PAIRS} pairs each (medians)`);
  for (const [name, ps] of Object.entries(pairs)) {
    const ratios = ps.map((p) => p.b / p.a);
    console.log(
      `  ${name.padEnd(38)} ${median(ps.map((p) => p.b))
        .toFixed(1)
        .padStart(6)} ms  ` +
        `node -e '' ${median(ps.map((p) => p.a))
          .toFixed(1)
          .padStart(6)} ms  ` +
        `ratio ${median(ratios).toFixed(2)}x (pairs ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`,
    );
  }
  console.log("\ntargets");
  for (const [name, ps] of Object.entries(pairs)) {
    if (name.includes("no target")) continue;
    target(`${name} / node -e ''`, median(ps.map((p) => p.b / p.a)), COLD_TARGET, {
      higher: false,
      unit: "x",
    });
  }
  console.log("");

  // One load, then the check a product makes on every gated action.
  const loadStart = performance.now();
  const license = new LicenseClient({ publicKeys: [pair.publicKeyHex], home }).status();
  const loadMs = performance.now() - loadStart;
  const ids = ["deduplicator", "pivot-builder", "automation", "no-such-feature"];
  const N = 5_000_000;
  let hits = 0;
  const start = performance.now();
  for (let i = 0; i < N; i++) if (license.hasFeature(ids[i & 3])) hits++;
  const seconds = (performance.now() - start) / 1000;
  // Baseline in the same run: the same loop over a plain Set.
  const plain = new Set(license.features.map((f) => f.id));
  let baseHits = 0;
  const baseStart = performance.now();
  for (let i = 0; i < N; i++) if (plain.has(ids[i & 3])) baseHits++;
  const baseSeconds = (performance.now() - baseStart) / 1000;
  if (hits !== baseHits) throw new Error("hasFeature disagrees with the feature list");
  console.log(`load + verify in process (LicenseClient.status): ${loadMs.toFixed(2)} ms`);
  console.log(
    `hasFeature after load: ${(N / seconds / 1e6).toFixed(1)} M checks/s ` +
      `(plain Set.has: ${(N / baseSeconds / 1e6).toFixed(1)} M/s; ${(seconds / baseSeconds).toFixed(2)}x its time)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
