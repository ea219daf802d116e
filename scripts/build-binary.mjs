#!/usr/bin/env node
// Builds the buyer commands (activate, status, renew, deactivate) into one Node
// single-executable application, with the public keys of DATATOOLS_LICENSE_PUBKEY
// baked in. See docs/BUILD.md.
//
//   node scripts/build-binary.mjs [--out build/dtlicense]
//
// Environment at build time:
//   DATATOOLS_LICENSE_PUBKEY  the vendor's public key(s), 64 hex each, separated by commas
//                             or whitespace. Unset: the development key, and the binary
//                             refuses to start.
//   DATATOOLS_CATALOGUE       optional: a catalogue JSON file to bake in instead of the
//                             built-in tiers.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { inject } from "postject";
import { lazyBuiltins } from "./lazy-builtins.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// The fuse Node's own build leaves in its binary for postject to flip (Node's SEA docs).
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
// What program.ts imports that the binary keeps (the buyer commands and what runCli needs);
// every other command group it registers is stubbed out.
const BUYER_MODULES = new Set([
  "./commands/license.js",
  "./context.js",
  "./buyer.js",
  "./report.js",
]);

function fail(message) {
  process.stderr.write(`build-binary: ${message}\n`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0)
    fail(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`})`);
}

/** Bundles one TypeScript export of the sources and returns its value. */
async function sourceValue(file, name) {
  const out = await build({
    stdin: { contents: `export { ${name} } from "./${file}";`, resolveDir: ROOT, loader: "ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    logLevel: "silent",
  });
  const code = out.outputFiles[0].text;
  const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
  return mod[name];
}

/**
 * The keys to bake in, checked here with the commands' own parser (parsePublicKeyList), so a
 * typo or a weak key (KEY_INVALID, KEY_WEAK: a placeholder such as 64 zeros, with which anyone
 * could sign licenses) fails the build rather than the binary.
 */
async function keysToBake() {
  const text = process.env.DATATOOLS_LICENSE_PUBKEY;
  if (text === undefined || text.trim() === "") {
    return { keys: [await sourceValue("src/core/keys.ts", "DEV_PUBLIC_KEY_HEX")], dev: true };
  }
  const parsePublicKeyList = await sourceValue("src/config/keys.ts", "parsePublicKeyList");
  try {
    return {
      keys: parsePublicKeyList(text, "DATATOOLS_LICENSE_PUBKEY").map((k) => k.hex),
      dev: false,
    };
  } catch (err) {
    fail(err.code ? `${err.message} [${err.code}]` : err.message);
  }
}

/** The catalogue to bake in, validated here: a bad one would stop every run of the binary. */
async function catalogueToBake() {
  const path = process.env.DATATOOLS_CATALOGUE;
  if (!path) return undefined;
  let value;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    fail(`DATATOOLS_CATALOGUE: cannot read ${path} as JSON (${err.message})`);
  }
  const parseCatalogue = await sourceValue("src/core/catalogue.ts", "parseCatalogue");
  try {
    parseCatalogue(value, `DATATOOLS_CATALOGUE (${path})`);
  } catch (err) {
    fail(err.message);
  }
  return JSON.stringify(value);
}

const kidOf = (hex) =>
  createHash("sha256").update(Buffer.from(hex, "hex")).digest().subarray(0, 8).toString("hex");

/** Replaces the creator's and server's command groups with no-op registrations. */
const buyerOnly = {
  name: "buyer-only",
  setup(b) {
    b.onResolve({ filter: /^\.\/(commands\/)?[\w-]+\.js$/ }, (args) => {
      if (!args.importer.endsWith(join("src", "cli", "program.ts"))) return undefined;
      if (BUYER_MODULES.has(args.path)) return undefined;
      return {
        path: resolve(dirname(args.importer), args.path.replace(/\.js$/, ".ts")),
        namespace: "stub",
      };
    });
    b.onLoad({ filter: /.*/, namespace: "stub" }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const names = [...source.matchAll(/^export (?:async )?function (\w+)/gm)].map((m) => m[1]);
      return { contents: names.map((n) => `export function ${n}() {}`).join("\n"), loader: "js" };
    });
  },
};

const { values } = parseArgs({ options: { out: { type: "string" } } });
const out = values.out
  ? resolve(values.out)
  : join(ROOT, "build", process.platform === "win32" ? "dtlicense.exe" : "dtlicense");
const work = join(dirname(out), `.sea-${process.pid}`);
const { keys, dev } = await keysToBake();
const catalogue = await catalogueToBake();

mkdirSync(work, { recursive: true });
try {
  const main = join(work, "dtlicense.cjs");
  const define = { __DTLICENSE_BAKED_KEYS__: JSON.stringify(keys.join(",")) };
  if (catalogue !== undefined) define.__DTLICENSE_BAKED_CATALOGUE__ = JSON.stringify(catalogue);
  // A SEA's main script must be one CommonJS file without top-level await.
  await build({
    stdin: {
      contents:
        'import { processContext } from "./src/cli/context.ts";\n' +
        'import { fastStatusOptions, runFast } from "./src/cli/fast.ts";\n' +
        'import { runCli } from "./src/cli/program.ts";\n' +
        "const argv = process.argv.slice(2);\n" +
        // A bare status skips setting up commander (src/cli/fast.ts).
        "const run = fastStatusOptions(argv) ? runFast : runCli;\n" +
        "run(argv, processContext()).then((code) => { process.exitCode = code; });\n",
      resolveDir: ROOT,
      sourcefile: "sea-main.ts",
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    define,
    plugins: [buyerOnly, lazyBuiltins],
    outfile: main,
    logLevel: "warning",
  });

  // The code cache below loses a script's dynamic import() callback on Node 20; what the
  // binary imports dynamically is built in, which require() loads as well.
  const bundled = readFileSync(main, "utf8");
  writeFileSync(
    main,
    bundled.replace(/\bimport\(("node:[^"]+")\)/g, "Promise.resolve().then(()=>require($1))"),
  );
  if (/\bimport\(/.test(readFileSync(main, "utf8"))) fail("the bundle has a dynamic import()");

  const blob = join(work, "sea-prep.blob");
  const config = join(work, "sea-config.json");
  writeFileSync(
    config,
    // useCodeCache: V8's compiled code is stored with the script, so a cold start skips
    // parsing and compiling it.
    JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }),
  );
  run(process.execPath, ["--experimental-sea-config", config]);

  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  const macos = process.platform === "darwin";
  if (macos) run("codesign", ["--remove-signature", out]);
  await inject(out, "NODE_SEA_BLOB", readFileSync(blob), {
    sentinelFuse: SEA_FUSE,
    ...(macos ? { machoSegmentName: "NODE_SEA" } : {}),
  });
  if (macos) run("codesign", ["--sign", "-", out]);
} finally {
  rmSync(work, { recursive: true, force: true });
}

const size = (statSync(out).size / 1024 / 1024).toFixed(0);
process.stdout.write(
  `build-binary: wrote ${out} (${size} MiB), trusting key ${keys.map(kidOf).join(", ")}\n`,
);
if (dev) {
  process.stderr.write(
    "build-binary: warning: DATATOOLS_LICENSE_PUBKEY was not set, so this binary trusts the public " +
      "development key and refuses to start. Set it to the vendor's public key for a release build.\n",
  );
}
