// Runs every bench/*.bench.mjs in turn, each in its own process, so one benchmark's
// heap and JIT state cannot colour another's figures. Each prints its own ratios and
// reports its targets through targets.mjs; at the end this prints every target that is
// BELOW and every reference figure beside them, and exits non-zero when any benchmark did.
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => !only || f.includes(only))
  .sort();
const scratch = mkdtempSync(join(tmpdir(), "dtl-bench-run-"));
const failed = [];
const below = [];
const references = [];
let targets = 0;
try {
  for (const file of files) {
    console.log(`\n## ${file}`);
    const results = join(scratch, `${file}.jsonl`);
    const r = spawnSync(process.execPath, ["--expose-gc", join(here, file)], {
      stdio: "inherit",
      env: { ...process.env, BENCH_RESULTS: results },
    });
    if (r.status !== 0) failed.push(`${file} (exit ${r.status ?? r.signal})`);
    let lines = [];
    try {
      lines = readFileSync(results, "utf8").split("\n").filter(Boolean);
    } catch {
      // It reported no target.
    }
    // Kept in the caller's file too, when one was asked for.
    if (process.env.BENCH_RESULTS && lines.length) {
      appendFileSync(process.env.BENCH_RESULTS, lines.join("\n") + "\n");
    }
    for (const line of lines) {
      const t = JSON.parse(line);
      if (t.goal === null) {
        // A figure for comparison (targets.mjs: reference), not a target.
        references.push(`  ref    ${file}: ${t.name}: ${Number(t.value.toFixed(2))}${t.unit}`);
        continue;
      }
      targets++;
      if (!t.met) {
        const show = (n) => `${Number(n.toFixed(2))}${t.unit}`;
        below.push(
          `  BELOW  ${file}: ${t.name}: ${show(t.value)} (target ${t.higher ? ">=" : "<="} ${show(t.goal)})`,
        );
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

console.log(`\n## summary: ${targets - below.length} of ${targets} targets met`);
for (const line of below) console.log(line);
for (const line of references) console.log(line);
for (const f of failed) console.log(`  failed: ${f}`);
process.exitCode = failed.length === 0 ? 0 : 1;
