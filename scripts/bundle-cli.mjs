// Bundles the dtlicense executable into one CommonJS file, dist/cli/dtlicense-main.cjs, and
// its fast path for a bare `dtlicense status` into another, dist/cli/dtlicense-status.cjs,
// started by the bin dist/cli/dtlicense.cjs (a loader with a V8 code cache, below).
// Node 20 loads one CommonJS file several times faster than a tree of ES modules,
// which keeps a cold `dtlicense status` near the cost of starting Node itself.
// The server-side command groups stay out of the bundle and load from dist/ on demand.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WRAPPER_HEAD, WRAPPER_TAIL } from "./code-cache.mjs";
import { lazyBuiltins } from "./lazy-builtins.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "dist", "cli");
const LAZY_GROUPS = [
  "serve",
  "db",
  "admin",
  "import",
  "ledger",
  "keys",
  "doctor",
  "sales",
  "seats",
];

const EXTERNAL = [
  "pg",
  "@electric-sql/pglite",
  "fastify",
  "proper-lockfile",
  // Store sales: loaded by the server only when a webhook arrives or an e-mail is sent.
  "stripe",
  "nodemailer",
  "eta",
  ...LAZY_GROUPS.map((g) => `./commands/${g}.js`),
];

/** Bundles one entry into dist/cli/<name> (see the loader below for its import() calls). */
async function bundle(name, contents) {
  await build({
    stdin: { contents, resolveDir: ROOT, sourcefile: name.replace(/\.cjs$/, "-entry.js") },
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    outfile: join(OUT, name),
    external: EXTERNAL,
    plugins: [lazyBuiltins],
    logLevel: "warning",
  });
  // A script compiled from a V8 code cache on Node 20 loses its dynamic import() callback
  // ("A dynamic import callback was not specified"), so the bundle's import() calls go
  // through the loader's, which is compiled as usual.
  const file = join(OUT, name);
  const rewritten = readFileSync(file, "utf8").replace(/\bimport\(("[^"]+")\)/g, "__dtlImport($1)");
  writeFileSync(
    file,
    'var __dtlImport = typeof __dtlImport === "function" ? __dtlImport : (s) => import(s);\n' +
      rewritten,
  );
}

await bundle(
  "dtlicense-main.cjs",
  'import { processContext } from "./dist/cli/context.js";\n' +
    'import { runCli } from "./dist/cli/program.js";\n' +
    "runCli(process.argv.slice(2), processContext()).then((code) => {\n" +
    "  process.exitCode = code;\n" +
    "});\n",
);
// The fast path (src/cli/fast.ts): a bare `dtlicense status` without commander and the
// other command groups, in a bundle a third of the size.
await bundle(
  "dtlicense-status.cjs",
  'import { processContext } from "./dist/cli/context.js";\n' +
    'import { runFast } from "./dist/cli/fast.js";\n' +
    "runFast(process.argv.slice(2), processContext()).then((code) => {\n" +
    "  process.exitCode = code;\n" +
    "});\n",
);
const { FAST_COMMAND_LINES } = await import(pathToFileURL(join(OUT, "fast.js")).href);

// The bin: a loader that picks the bundle (the fast path's for its command lines) and
// compiles it with a V8 code cache, so a cold start does not parse and compile it again.
// Node >= 22.1 has its own cache (module.enableCompileCache); on Node 20 the loader passes
// the cache to vm.Script itself. The caches are made here by running the bin once per
// bundle; V8 refuses a cache made by another V8 version or for other source, and the loader
// then compiles as usual and tries to leave a fresh cache beside the bundle (ignoring a
// folder it cannot write to).
writeFileSync(
  join(OUT, "dtlicense.cjs"),
  `#!/usr/bin/env node
"use strict";
const args = process.argv.slice(2);
const fast = ${JSON.stringify(FAST_COMMAND_LINES)}.some(
  (line) => line.length === args.length && line.every((word, i) => word === args[i]),
);
// node:module costs a cold start a third of a millisecond: asked for only where Node may have
// its own cache.
const { enableCompileCache } =
  Number(process.versions.node.split(".")[0]) >= 22 ? require("node:module") : {};
const bundle = fast ? "dtlicense-status.cjs" : "dtlicense-main.cjs";
const main = require("node:path").join(__dirname, bundle);
if (typeof enableCompileCache === "function") {
  enableCompileCache();
  require(main);
} else {
  const fs = require("node:fs");
  const vm = require("node:vm");
  const cacheFile = main + ".cache";
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    // None yet: compiled as usual, and written below.
  }
  const script = new vm.Script(
    ${JSON.stringify(WRAPPER_HEAD)} +
      fs.readFileSync(main, "utf8") +
      ${JSON.stringify(WRAPPER_TAIL)},
    { filename: main, cachedData },
  );
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once("exit", () => {
      const tmp = cacheFile + "." + process.pid + ".tmp";
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        try {
          fs.rmSync(tmp, { force: true });
        } catch {}
      }
    });
  }
  const mod = { exports: {} };
  script.runInThisContext()(
    mod.exports,
    // The bundles sit beside this file, so its require() resolves what theirs would.
    require,
    mod,
    main,
    __dirname,
    (specifier) =>
      import(
        specifier.startsWith(".")
          ? require("node:url").pathToFileURL(require("node:path").join(__dirname, specifier)).href
          : specifier,
      ),
  );
}
`,
  { mode: 0o755 },
);
// The caches: each bundle run for the command lines and license states it serves
// (scripts/code-cache.mjs), in a process with no V8 flags of its own, as the bin's users run.
const work = mkdtempSync(join(tmpdir(), "dtl-code-cache-"));
try {
  const { generateKeypair, importSigner, mintLicense } = await import(
    pathToFileURL(join(ROOT, "dist", "core", "index.js")).href
  );
  const { LicenseClient } = await import(
    pathToFileURL(join(ROOT, "dist", "client", "index.js")).href
  );
  // A throwaway key and homes with an active license, none, and a damaged file.
  const pair = generateKeypair();
  const buyer = { name: "Code Cache", email: "cache@example.com" };
  const { blob } = mintLicense(
    buyer,
    importSigner(Buffer.from(pair.privateKeyHex, "hex")),
    new Date(),
  );
  const homes = {
    active: join(work, "active"),
    none: join(work, "none"),
    damaged: join(work, "damaged"),
  };
  for (const home of Object.values(homes)) mkdirSync(join(home, ".datatools"), { recursive: true });
  new LicenseClient({ publicKeys: [pair.publicKeyHex], home: homes.active }).activate(blob, buyer);
  writeFileSync(join(homes.damaged, ".datatools", "license.json"), "{not json");
  const env = (home) => ({
    PATH: process.env.PATH,
    HOME: home,
    DATATOOLS_LICENSE_PUBKEY: pair.publicKeyHex,
  });
  const bundles = {
    "dtlicense-status.cjs": Object.values(homes).flatMap((home) =>
      FAST_COMMAND_LINES.map((args) => ({ args, env: env(home) })),
    ),
    // `status --online` (no server is known) runs the command tree.
    "dtlicense-main.cjs": [{ args: ["status", "--online"], env: env(homes.none) }],
  };
  for (const [name, runs] of Object.entries(bundles)) {
    rmSync(join(OUT, `${name}.cache`), { force: true });
    const runsFile = join(work, `${name}.json`);
    writeFileSync(runsFile, JSON.stringify(runs));
    const r = spawnSync(
      process.execPath,
      [join(ROOT, "scripts", "code-cache.mjs"), join(OUT, name), runsFile],
      { env: { PATH: process.env.PATH }, stdio: ["ignore", "ignore", "inherit"] },
    );
    if (r.status !== 0) throw new Error(`the code cache of ${name} was not made (${r.status})`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
