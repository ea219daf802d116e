// Writes python/src/datatools_license/_catalogue_data.py from the TypeScript catalogue
// (DEFAULT_CATALOGUE in src/core/catalogue.ts), the one source of truth for tiers and
// features. A Python module rather than a data file, so a PyInstaller build bundles it
// without a hook. Run `npm run build` first; it imports dist/.
//   node python/tools/write-catalogue.mjs            write the file
//   node python/tools/write-catalogue.mjs --stdout   print what would be written
//   node python/tools/write-catalogue.mjs --check    exit 1 when the file is out of date
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_CATALOGUE } from "../../dist/core/index.js";

const OUT = fileURLToPath(new URL("../src/datatools_license/_catalogue_data.py", import.meta.url));

// JSON of strings, arrays and objects is also a Python literal.
const text =
  '"""The built-in catalogue: generated from src/core/catalogue.ts (DEFAULT_CATALOGUE) by\n' +
  'python/tools/write-catalogue.mjs; do not edit. CI checks that it is current."""\n\n' +
  `CATALOGUE = ${JSON.stringify(DEFAULT_CATALOGUE, null, 4)}\n`;

const mode = process.argv[2];
if (mode === "--stdout") {
  process.stdout.write(text);
} else if (mode === "--check") {
  let current = "";
  try {
    current = readFileSync(OUT, "utf8");
  } catch {
    // a missing file is simply out of date
  }
  if (current !== text) {
    console.error(`${OUT} is out of date; run node python/tools/write-catalogue.mjs`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT}`);
}
