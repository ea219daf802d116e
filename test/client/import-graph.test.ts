// The app-facing entries must stay small: no command-line, issuer, server or store code,
// and no package from node_modules. Checked on the built files in dist/.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const DIST = resolve(import.meta.dirname, "../../dist");
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm;
const BUILTINS = new Set(builtinModules);

/** Every file reachable from `entry` by static and literal dynamic imports, and the bare specifiers. */
function graph(entry: string): { files: string[]; external: string[] } {
  const files = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    // Comments hold usage examples with imports of their own.
    const code = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    for (const m of code.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else external.add(spec);
    }
  };
  visit(resolve(DIST, entry));
  return { files: [...files].map((f) => relative(DIST, f)).sort(), external: [...external] };
}

describe("the import graph of the app-facing entries", () => {
  it("has dist/ built", () => {
    expect(existsSync(resolve(DIST, "client/index.js"))).toBe(true);
  });

  for (const entry of ["client/index.js", "index.js"]) {
    it(`${entry} reaches only core, client and the safe-write helper, and only Node built-ins`, () => {
      const { files, external } = graph(entry);
      for (const file of files) {
        expect(file).toMatch(
          /^(index\.js|client\/[\w-]+\.js|core\/[\w-]+\.js|config\/(fs-safe|lock)\.js)$/,
        );
      }
      for (const spec of external) {
        expect(spec.startsWith("node:") || BUILTINS.has(spec), spec).toBe(true);
      }
      // A guard against the graph growing by accident: core (10: random.ts draws the
      // license keys' bytes), client (9: the online check-in added answers, online and
      // fingerprint), the two config helpers and index.js; raise it deliberately when a
      // file is added.
      expect(files.length).toBeLessThanOrEqual(22);
    });
  }

  it("loads no CommonJS package (commander, pg, fastify, proper-lockfile) when imported", () => {
    const script = `
      import { createRequire } from "node:module";
      await import(${JSON.stringify(pathToFileURL(resolve(DIST, "client/index.js")).href)});
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(cache));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("re-exports from dist/index.js everything the core and client entries export", async () => {
    const main = await import(pathToFileURL(resolve(DIST, "index.js")).href);
    for (const entry of ["core/index.js", "client/index.js"]) {
      const mod = await import(pathToFileURL(resolve(DIST, entry)).href);
      for (const name of Object.keys(mod)) {
        expect(main[name], `${entry} ${name}`).toBe(mod[name]);
      }
    }
  });
});
