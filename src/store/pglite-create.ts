/**
 * Creating the embedded database's folder in a short-lived child process.
 * PGlite's first start runs initdb in a second PostgreSQL instance and copies
 * its result into the first, which peaks near 800 MiB; done in a child, that
 * memory is returned to the system when the child exits, and the server that
 * opens the folder afterwards stays near its reopened size.
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LicenseError } from "../core/errors.js";

/**
 * PGlite's own start parameters plus a smaller shared buffer pool: PostgreSQL's
 * default 128 MB pool is touched whole at start, and the license tables are
 * read through the operating system's file cache anyway.
 */
export const PGLITE_SHARED_BUFFERS = "16MB";

/**
 * V8's flag that compiles WebAssembly with its baseline compiler (Liftoff) only.
 * By default V8 recompiles PGlite's hot functions with its optimizing compiler on
 * background threads; that compilation left about 55 MiB of native memory in the
 * threads' malloc arenas (a server reopened its database at 240 MiB resident instead
 * of 180; after two rounds of verify and issue at saturation, medians of 4 runs, 275
 * instead of 253). The baseline code is slower per statement, but the recompilation's
 * own CPU is saved: over 7 paired runs on a loaded machine the CPU per request was
 * 1.04x (verify) and 1.06x (issue), within the noise (docs/LICENSE-SERVER.md).
 */
export const WASM_BASELINE_FLAG = "--liftoff-only";

// CommonJS, so that it runs from `node -e` wherever the parent was loaded from
// (dist/, the bundled CLI or the TypeScript sources under test).
const CREATE = `
const [, modulePath, dir, params, parent, template] = process.argv;
// A server killed meanwhile leaves nothing to rename the result into place: stop too.
setInterval(() => process.ppid !== Number(parent) && process.exit(1), 250).unref();
const { PGlite } = require(modulePath);
const options = { startParams: JSON.parse(params) };
if (template) options.loadDataDir = new Blob([require("node:fs").readFileSync(template)]);
PGlite.create(dir, options)
  .then((db) => db.close())
  .catch((err) => {
    process.stderr.write(String((err && err.stack) || err) + "\\n");
    process.exitCode = 1;
  });
`;

/**
 * A database as initdb makes it, for this PGlite version, made at build time
 * (scripts/make-pgdata-template.mjs): loading it instead of running initdb keeps
 * the creating process near 330 MiB instead of 800. Undefined when there is none
 * for the installed version (then initdb runs).
 */
export function pgdataTemplate(modulePath: string): string | undefined {
  try {
    const pkg = join(dirname(modulePath), "..", "package.json");
    const { version } = JSON.parse(readFileSync(pkg, "utf8")) as { version?: unknown };
    if (typeof version !== "string") return undefined;
    const file = fileURLToPath(new URL(`./${templateName(version)}`, import.meta.url));
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** The template's file name beside this module, for PGlite `version`. */
export function templateName(version: string): string {
  return `pgdata-template-${version}.tar.gz`;
}

/** True when `dir` holds a created database (PostgreSQL writes PG_VERSION during initdb). */
export function hasDatabase(dir: string): boolean {
  return existsSync(join(dir, "PG_VERSION"));
}

/** True when `dir` is missing or empty: nothing there a creation could overwrite. */
export function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
}

/** The folder a creation builds in before it is renamed into place. */
export function creationDir(dir: string): string {
  return join(dirname(dir), `${basename(dir)}.creating`);
}

/**
 * Creates the database for the empty folder `dir` in a child process: it is
 * built in `<dir>.creating` and renamed into place only once complete, so an
 * interrupted creation leaves `dir` empty and the next start creates it again.
 * The caller holds the folder's lock.
 */
export async function createPgliteDir(dir: string, startParams: readonly string[]): Promise<void> {
  const building = creationDir(dir);
  // Left by an interrupted creation (the lock says no one else is building it now).
  rmSync(building, { recursive: true, force: true });
  const modulePath = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          WASM_BASELINE_FLAG,
          "-e",
          CREATE,
          modulePath,
          building,
          JSON.stringify(startParams),
          String(process.pid),
          pgdataTemplate(modulePath) ?? "",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        if (err.length < 8_000) err += d;
      });
      child.on("error", reject);
      child.on("close", (c, signal) => resolve({ code: signal ? null : c, stderr: err }));
    },
  ).catch((err: unknown) => ({ code: null, stderr: (err as Error).message }));
  if (code !== 0 || !hasDatabase(building)) {
    rmSync(building, { recursive: true, force: true });
    const why = stderr.trim().split("\n")[0] || `the creating process exited with ${code}`;
    throw new LicenseError(
      "DATABASE_UNAVAILABLE",
      `cannot create the embedded database in ${dir}: ${why}; ` +
        "check the free memory and disk space, then start again",
    );
  }
  // rename() replaces an empty folder atomically; the parent folder's entry is then synced.
  renameSync(building, dir);
  syncDir(dirname(dir));
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems cannot sync a folder; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
