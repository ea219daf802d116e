// The buyer side's speed: cold `dtlicense status` wall time beside a bare `node -e ''`
// (target: at most 2x), for the packaged binary buyers run and for the npm-installed CLI
// (dist/cli/dtlicense.cjs, the installed bin); then in-process hasFeature checks per second after one load.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { generateKeypair, importSigner, mintLicense } from "../dist/core/index.js";
import { LicenseClient } from "../dist/client/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/dtlicense.cjs");
const SPAWNS = 15;
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
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  const series = {
    "node -e ''": () => time(process.execPath, ["-e", ""]),
    ...(haveBinary ? { "dtlicense status (packaged binary)": () => time(binary, ["status"]) } : {}),
    "dtlicense status (bin)": () => time(process.execPath, [CLI, "status"]),
  };
  const samples = Object.fromEntries(Object.keys(series).map((k) => [k, []]));
  for (const run of Object.values(series)) run(); // warm the file cache once
  // Interleaved, so load on the shared machine colours every series alike.
  for (let i = 0; i < SPAWNS; i++) {
    for (const [name, run] of Object.entries(series)) samples[name].push(run());
  }
  const bare = median(samples["node -e ''"]);
  for (const [name, xs] of Object.entries(samples)) {
    const ms = median(xs);
    const ratio = ms / bare;
    const verdict =
      name === "node -e ''" ? "" : ` (target <= 2x: ${ratio <= 2 ? "met" : "missed"})`;
    console.log(
      `${name.padEnd(38)} median of ${SPAWNS}: ${ms.toFixed(1).padStart(6)} ms  ${ratio.toFixed(2)}x${verdict}`,
    );
  }

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
