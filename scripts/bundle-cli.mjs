// Bundles the dtlicense executable into one CommonJS file, dist/cli/dtlicense-main.cjs, and
// its fast path for a bare `dtlicense status` into another, dist/cli/dtlicense-status.cjs,
// started by the bin dist/cli/dtlicense.cjs (a loader with a V8 code cache, below).
// Node 20 loads one CommonJS file several times faster than a tree of ES modules,
// which keeps a cold `dtlicense status` near the cost of starting Node itself.
// The server-side command groups stay out of the bundle and load from dist/ on demand.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
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
const main = require("node:path").join(
  __dirname,
  fast ? "dtlicense-status.cjs" : "dtlicense-main.cjs",
);
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
    "(function (exports, require, module, __filename, __dirname, __dtlImport) {" +
      fs.readFileSync(main, "utf8") +
      "\\n})",
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
const home = mkdtempSync(join(tmpdir(), "dtl-code-cache-"));
try {
  // `status` runs the fast path; `status --online` (no server is known) the command tree.
  for (const name of ["dtlicense-main.cjs", "dtlicense-status.cjs"]) {
    rmSync(join(OUT, `${name}.cache`), { force: true });
  }
  for (const args of [["status"], ["status", "--online"]]) {
    spawnSync(process.execPath, [join(OUT, "dtlicense.cjs"), ...args], {
      env: { PATH: process.env.PATH, HOME: home },
      stdio: "ignore",
    });
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
