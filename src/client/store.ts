/**
 * The license file on disk, `<home>/.datatools/license.json`: where it lives,
 * its shape, and the locked, atomic ways to change it. Nothing here decides
 * whether a license is good; that is ./check.ts, which trusts only the blob.
 */
import { chmodSync, closeSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { LicenseError } from "../core/errors.js";
import { ensurePrivateDir, fsyncDir, writeFileAtomic } from "../config/fs-safe.js";

/** The folder under the home folder that holds the license. */
export const LICENSE_DIR = ".datatools";
/** The license file's name inside {@link LICENSE_DIR}. */
export const LICENSE_FILE = "license.json";
/** The version of the license file's layout (not of the blob inside it). */
export const LICENSE_FILE_VERSION = 1;

/** A license file is a few hundred bytes; anything far larger is not one. */
const MAX_FILE_BYTES = 65_536;
/** A lock older than this was left by a process that died; it is broken. */
const STALE_LOCK_MS = 10_000;
/** How long a change waits for another process's change to finish. */
const LOCK_WAIT_MS = 3_000;
const LOCK_POLL_MS = 25;

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
 */
export function writeRecord(path: string, record: LicenseFileRecord): void {
  const dir = join(path, "..");
  ensurePrivateDir(dir);
  try {
    // The folder may predate us (made by the product with a looser mode); it holds the license.
    chmodSync(dir, 0o700);
  } catch {
    // Not ours to change (another owner): the file itself is still written mode 600.
  }
  writeFileAtomic(path, serializeRecord(record), { mode: 0o600 });
}

/** Removes the license file; true when there was one. */
export function removeRecord(path: string): boolean {
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

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `fn` while holding `<path>.lock`, so that an activation, a renewal, a
 * removal and a status refresh never interleave (a refresh must not put back
 * a license that was just removed or replaced). With `wait: false` it returns
 * undefined at once when another process holds the lock.
 */
export function withLock<T>(path: string, wait: boolean, fn: () => T): T | undefined {
  const dir = join(path, "..");
  const lock = `${path}.lock`;
  ensurePrivateDir(dir);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(lock, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new LicenseError(
          "FILE_UNWRITABLE",
          `cannot lock ${path}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (isStale(lock)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!wait) return undefined;
      if (Date.now() > deadline) {
        throw new LicenseError(
          "FILE_UNWRITABLE",
          `another process is changing ${path}; try again in a moment (if none is running, delete ${lock})`,
        );
      }
      Atomics.wait(sleeper, 0, 0, LOCK_POLL_MS);
      continue;
    }
    closeSync(fd);
    try {
      return fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }
}

function isStale(lock: string): boolean {
  try {
    return Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}
