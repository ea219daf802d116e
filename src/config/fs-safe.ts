/** Durable, private file writes: temp file, fsync, rename, then fsync the folder. */
import {
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { LicenseError } from "../core/errors.js";

/** Creates `dir` (and parents) with mode 700 when it does not exist. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** fsyncs a folder so a rename or a new file in it survives a crash. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a folder; the data itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * True when something is at `path`, a dangling symbolic link included
 * (existsSync follows the link and says false for one).
 */
export function pathTaken(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `data` to `path` atomically with the given mode: a reader sees the
 * old file or the new one, never a part. With `overwrite: false` an existing
 * file is refused with FILE_EXISTS (checked again at the rename by linking).
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { mode?: number; overwrite?: boolean } = {},
): void {
  const mode = options.mode ?? 0o600;
  const dir = dirname(path);
  if (options.overwrite === false && pathTaken(path)) {
    throw new LicenseError("FILE_EXISTS", `${path} already exists; pass --force to overwrite it`);
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.overwrite === false) {
      // link() fails when the target exists, so a file created meanwhile is not replaced.
      linkSync(tmp, path);
      rmSync(tmp, { force: true });
    } else {
      renameSync(tmp, path);
    }
    fsyncDir(dir);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    if (err instanceof LicenseError) throw err;
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new LicenseError("FILE_EXISTS", `${path} already exists; pass --force to overwrite it`);
    }
    // The errno code, not the message, which names the temporary file.
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new LicenseError("FILE_UNWRITABLE", `cannot write ${path} (${why})`, { cause: err });
  }
}
