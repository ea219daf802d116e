/**
 * The license file on disk, `<home>/.datatools/license.json`: where it lives,
 * its shape, and the locked, atomic ways to change it. Nothing here decides
 * whether a license is good; that is ./check.ts, which trusts only the blob.
 */
import { chmodSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { LicenseError } from "../core/errors.js";
import { ensurePrivateDir, fsyncDir, writeFileAtomic } from "../config/fs-safe.js";
import { acquireLockSync, describeHolder, type FileLock } from "../config/lock.js";

/** The folder under the home folder that holds the license. */
export const LICENSE_DIR = ".datatools";
/** The license file's name inside {@link LICENSE_DIR}. */
export const LICENSE_FILE = "license.json";
/** The version of the license file's layout (not of the blob inside it). */
export const LICENSE_FILE_VERSION = 1;

/** A license file is a few hundred bytes; anything far larger is not one. */
const MAX_FILE_BYTES = 65_536;
/** How long a change waits for another process's change to finish. */
const LOCK_WAIT_MS = 3_000;

/**
 * The stored record. Only `blob` is trusted, and only after it verifies; the
 * times are bookkeeping (`last_seen_at` feeds the clock-rollback check).
 */
export interface LicenseFileRecord {
  readonly version: typeof LICENSE_FILE_VERSION;
  /** The DTLIC2 blob exactly as it was verified at activation. */
  readonly blob: string;
  /** When this machine first activated a license of this buyer. */
  readonly activated_at: string;
  /** When the blob was last replaced by `renew`, if ever. */
  readonly renewed_at?: string;
  /** The latest clock reading at which the stored blob was checked and found genuine. */
  readonly last_seen_at: string;
}

/** What was found at the license path, before any verification. */
export type RawLicenseFile =
  | { readonly kind: "missing" }
  | { readonly kind: "unreadable"; readonly error: string }
  | { readonly kind: "text"; readonly text: string };

/**
 * Where the license of a home folder is stored.
 *
 * @example
 * ```ts
 * licensePath("/home/ada"); // "/home/ada/.datatools/license.json"
 * ```
 */
export function licensePath(home: string): string {
  return join(home, LICENSE_DIR, LICENSE_FILE);
}

/** Reads the license file's text without interpreting it. */
export function readLicenseFile(path: string): RawLicenseFile {
  try {
    if (statSync(path).size > MAX_FILE_BYTES) {
      return { kind: "text", text: "" };
    }
    return { kind: "text", text: readFileSync(path, "utf8") };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    return { kind: "unreadable", error: code ?? (err as Error).message };
  }
}

/** The file's text for a record: stable field order, two-space indent, final newline. */
export function serializeRecord(record: LicenseFileRecord): string {
  const out: Record<string, string | number> = {
    version: record.version,
    blob: record.blob,
    activated_at: record.activated_at,
  };
  if (record.renewed_at !== undefined) out.renewed_at = record.renewed_at;
  out.last_seen_at = record.last_seen_at;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * Writes the record atomically (temp file, fsync, rename) with mode 600 in a
 * folder of mode 700. A reader sees the old file or the new one, never a part.
 * Refuses, writing nothing, when `lock` (from {@link withLock}) is no longer held.
 */
export function writeRecord(path: string, record: LicenseFileRecord, lock: FileLock): void {
  const dir = join(path, "..");
  ensurePrivateDir(dir);
  try {
    // The folder may predate us (made by the product with a looser mode); it holds the license.
    chmodSync(dir, 0o700);
  } catch {
    // Not ours to change (another owner): the file itself is still written mode 600.
  }
  const text = serializeRecord(record);
  assertHeld(path, lock);
  writeFileAtomic(path, text, { mode: 0o600 });
}

/** Removes the license file; true when there was one. Refuses like {@link writeRecord}. */
export function removeRecord(path: string, lock: FileLock): boolean {
  assertHeld(path, lock);
  try {
    rmSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new LicenseError("FILE_UNWRITABLE", `cannot remove ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  fsyncDir(join(path, ".."));
  return true;
}

/**
 * Runs `fn` while holding `<path>.lock`, so that an activation, a renewal, a
 * removal and a status refresh never interleave (a refresh must not put back
 * a license that was just removed or replaced). A lock whose process is gone
 * (killed, crashed) is taken over at once; a live one, even a stopped one, is
 * waited for up to 3 s, then refused with FILE_UNWRITABLE naming it. With
 * `wait: false` it returns undefined at once when another process holds the
 * lock. Under the lock no other writer runs, so temporary files that a killed
 * write left next to the license are removed first. `fn` gets the lock to
 * pass to {@link writeRecord} and {@link removeRecord}.
 */
export function withLock<T>(path: string, wait: boolean, fn: (lock: FileLock) => T): T | undefined {
  const lockPath = `${path}.lock`;
  ensurePrivateDir(dirname(path));
  const attempt = acquireLockSync(lockPath, { waitMs: wait ? LOCK_WAIT_MS : 0 });
  if (!attempt.ok) {
    if (!wait) return undefined;
    throw new LicenseError(
      "FILE_UNWRITABLE",
      `another process is changing ${path}: ${describeHolder(attempt.holder)} holds ${lockPath}; ` +
        "try again when it has finished (if it is stopped, resume it with fg or end it)",
    );
  }
  try {
    removeStrayTemps(path);
    return fn(attempt.lock);
  } finally {
    attempt.lock.release();
  }
}

/** Refuses, before anything is written, when `lock` is no longer held. */
function assertHeld(path: string, lock: FileLock): void {
  if (!lock.held()) {
    throw new LicenseError(
      "FILE_UNWRITABLE",
      `the lock on ${path} was taken over by another process during this change; nothing was written: try again`,
    );
  }
}

/** Removes `.license.json.<hex>.tmp` files: writeFileAtomic's, left by a write that was killed. */
function removeStrayTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && /^[0-9a-f]+\.tmp$/.test(name.slice(prefix.length))) {
      rmSync(join(dir, name), { force: true });
    }
  }
}
