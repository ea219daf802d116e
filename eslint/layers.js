// The import rule of src/, read from the README's Layout table: each folder may import
// only the folders (or files) its row names, npm packages only where the row says
// "packages", and a command file never another. A local ESLint rule, so that `npm run
// lint` refuses a forbidden arrow, static, re-exported or dynamic.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { builtinModules } from "node:module";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const SRC = join(ROOT, "src");

/**
 * Parses the README's Layout table into rows: `{ path, allowed: Set, packages, siblings }`,
 * `path` relative to src/ ("core/", "cli/commands/", "index.ts").
 */
export function readLayout(readme = readFileSync(join(ROOT, "README.md"), "utf8")) {
  const section = readme.split(/^## /m).find((s) => s.startsWith("Layout"));
  if (!section) throw new Error("README.md has no '## Layout' section");
  const rows = [];
  for (const line of section.split("\n")) {
    const m = /^\|\s*`src\/([^`]*)`\s*\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const parts = m[2].split(";").map((p) => p.trim());
    const names = parts[0] === "nothing" ? [] : parts[0].split(",").map((n) => n.trim());
    rows.push({
      path: m[1],
      allowed: new Set(names.filter((n) => n !== "")),
      packages: parts.includes("packages"),
      siblings: !parts.includes("not each other"),
    });
  }
  if (rows.length === 0) throw new Error("README.md's Layout table has no src/ rows");
  return rows;
}

/** The row a file of src/ (relative path) belongs to: the longest matching path. */
export function rowOf(rows, rel) {
  let best;
  for (const r of rows) {
    const hit = r.path.endsWith("/") ? rel.startsWith(r.path) : rel === r.path;
    if (hit && (!best || r.path.length > best.path.length)) best = r;
  }
  return best;
}

/** Every folder under src/ (relative, with a trailing slash). */
export function sourceFolders(dir = SRC, prefix = "") {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (!statSync(full).isDirectory()) continue;
    out.push(`${prefix}${name}/`, ...sourceFolders(full, `${prefix}${name}/`));
  }
  return out;
}

const BUILTINS = new Set(builtinModules);

/** Why importing `spec` from `file` (absolute) breaks the layout, or undefined. */
export function violation(rows, file, spec) {
  const from = relative(SRC, file).split(sep).join("/");
  const own = rowOf(rows, from);
  if (!own) return undefined;
  if (!spec.startsWith(".")) {
    if (spec.startsWith("node:") || BUILTINS.has(spec)) return undefined;
    return own.packages
      ? undefined
      : `src/${own.path} may import Node built-ins only, not the package "${spec}" (README.md, Layout)`;
  }
  const target = relative(SRC, resolve(dirname(file), spec))
    .split(sep)
    .join("/");
  if (target.startsWith("..")) return `src/${own.path} may not import ${spec}, outside src/`;
  const ts = target.replace(/\.js$/, ".ts");
  const row = rowOf(rows, ts);
  if (!row) return `${spec} is under no row of README.md's Layout table`;
  if (row === own) {
    return own.siblings
      ? undefined
      : `a file of src/${own.path} may not import another (${spec}) (README.md, Layout)`;
  }
  const folder = row.path.replace(/\/$/, "");
  const asFile = ts.replace(/\.ts$/, "");
  if (own.allowed.has(folder) || own.allowed.has(asFile)) return undefined;
  return `src/${own.path} may not import src/${ts} (allowed: ${[...own.allowed].join(", ") || "nothing"}; README.md, Layout)`;
}

const rule = {
  meta: {
    type: "problem",
    docs: { description: "imports follow README.md's Layout table" },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    if (!file.startsWith(SRC + sep) || !existsSync(join(ROOT, "README.md"))) return {};
    const rows = readLayout();
    const check = (node, source) => {
      if (!source) return;
      if (source.type !== "Literal" || typeof source.value !== "string") {
        context.report({
          node,
          message: "an import with a computed path cannot be checked against the layout",
        });
        return;
      }
      const why = violation(rows, file, source.value);
      if (why) context.report({ node, message: why });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
    };
  },
};

export default { rules: { layers: rule } };
