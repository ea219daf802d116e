// The V8 code caches of the bin's bundles (dist/cli/*.cjs.cache, see bundle-cli.mjs). V8 puts
// in a cache the functions compiled when it is made, so it is made after running the bundle:
// here, in one process, for each of the command lines and license states given, so that a
// cold start compiles none of the functions those runs used. A function left out is compiled
// on first call, as without a cache.
//
//   node scripts/code-cache.mjs <bundle.cjs> <runs.json>
//
// runs.json: [{ "args": ["status"], "env": { "HOME": "…", … } }, …]. The runs' output goes to
// this process's stdout and stderr. This process must run with the V8 flags of the bin's
// users (none: no NODE_OPTIONS), since V8 refuses a cache made under other flags.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";

/** The loader compiles a bundle wrapped in this function (its source must match to the byte). */
export const WRAPPER_HEAD =
  "(function (exports, require, module, __filename, __dirname, __dtlImport) {";
export const WRAPPER_TAIL = "\n})";

async function main([bundle, runsFile]) {
  const runs = JSON.parse(readFileSync(runsFile, "utf8"));
  const script = new vm.Script(WRAPPER_HEAD + readFileSync(bundle, "utf8") + WRAPPER_TAIL, {
    filename: bundle,
  });
  const wrapper = script.runInThisContext();
  const require = createRequire(bundle);
  const dir = dirname(bundle);
  for (const run of runs) {
    process.argv = [process.argv[0], join(dir, "dtlicense.cjs"), ...run.args];
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, run.env);
    const module = { exports: {} };
    wrapper(
      module.exports,
      require,
      module,
      bundle,
      dir,
      (specifier) =>
        import(specifier.startsWith(".") ? pathToFileURL(join(dir, specifier)).href : specifier),
    );
    // The command settles within a few turns of the event loop (it reads files synchronously).
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.exitCode = 0;
  const tmp = `${bundle}.cache.${process.pid}.tmp`;
  writeFileSync(tmp, script.createCachedData());
  renameSync(tmp, `${bundle}.cache`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
