// Bundles the dtlicense executable into one CommonJS file, dist/cli/dtlicense.cjs.
// Node 20 loads one CommonJS file several times faster than a tree of ES modules,
// which keeps a cold `dtlicense status` near the cost of starting Node itself.
// The server-side command groups stay out of the bundle and load from dist/ on demand.
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const LAZY_GROUPS = ["serve", "db", "admin", "import", "ledger", "keys", "doctor", "sales"];

await build({
  stdin: {
    contents:
      'import { processContext } from "./dist/cli/context.js";\n' +
      'import { runCli } from "./dist/cli/program.js";\n' +
      "runCli(process.argv.slice(2), processContext()).then((code) => {\n" +
      "  process.exitCode = code;\n" +
      "});\n",
    resolveDir: ROOT,
    sourcefile: "dtlicense-entry.js",
  },
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  banner: { js: "#!/usr/bin/env node" },
  outfile: join(ROOT, "dist", "cli", "dtlicense.cjs"),
  external: [
    "pg",
    "@electric-sql/pglite",
    "fastify",
    "proper-lockfile",
    // Store sales: loaded by the server only when a webhook arrives or an e-mail is sent.
    "stripe",
    "nodemailer",
    "eta",
    ...LAZY_GROUPS.map((g) => `./commands/${g}.js`),
  ],
  logLevel: "warning",
});
