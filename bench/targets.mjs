// The one way a benchmark reports a target: it prints the figure beside its goal
// with "met" or "BELOW", and a figure below its goal makes the benchmark (and so
// `npm run bench`) exit non-zero. Set BENCH_RESULTS=path to also append each
// figure as a JSON line (for the dated table in docs/LICENSE-SERVER.md).
import { appendFileSync } from "node:fs";

/**
 * @param {string} name   what was measured, e.g. "verify / bare node:http + Ed25519"
 * @param {number} value  the figure
 * @param {number} goal   the target
 * @param {{ higher?: boolean, unit?: string, digits?: number }} [options]
 *   higher: true when more is better (the default); unit: printed after both numbers
 * @returns {boolean} whether the target is met
 */
export function target(name, value, goal, { higher = true, unit = "", digits = 2 } = {}) {
  const met = higher ? value >= goal : value <= goal;
  const show = (n) => `${Number(n.toFixed(digits))}${unit}`;
  console.log(
    `  ${met ? "met  " : "BELOW"}  ${name}: ${show(value)} (target ${higher ? ">=" : "<="} ${show(goal)})`,
  );
  if (!met) process.exitCode = 1;
  if (process.env.BENCH_RESULTS) {
    appendFileSync(
      process.env.BENCH_RESULTS,
      JSON.stringify({ name, value, goal, higher, unit, met, at: new Date().toISOString() }) + "\n",
    );
  }
  return met;
}

/**
 * A figure printed beside the targets for comparison, with no goal of its own (for
 * example what the machine itself reaches without the code under test). It never
 * changes the exit code; with BENCH_RESULTS it is recorded with `goal: null`.
 *
 * @param {string} name
 * @param {number} value
 * @param {{ unit?: string, digits?: number }} [options]
 */
export function reference(name, value, { unit = "", digits = 2 } = {}) {
  console.log(`  ref    ${name}: ${Number(value.toFixed(digits))}${unit} (no target)`);
  if (process.env.BENCH_RESULTS) {
    appendFileSync(
      process.env.BENCH_RESULTS,
      JSON.stringify({ name, value, goal: null, unit, at: new Date().toISOString() }) + "\n",
    );
  }
}
