/**
 * A cross-process lock that belongs to a process, not to a lease: a lock file
 * created exclusively and naming its owner. Others take it over only when the
 * owner is provably gone (same host, pid no longer running), so a holder that
 * is paused (Ctrl-Z, a sleeping laptop) keeps it and one that was killed
 * loses it at once. Node built-ins only: the license client ships it.
 */
import {
  closeSync,
  constants,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { threadId } from "node:worker_threads";
import { LicenseError } from "../core/errors.js";

/** What a lock file holds. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** Unique to one acquisition: the holder checks it is still the one in the file. */
  readonly token: string;
  /** When the lock was taken (RFC 3339), for people. */
  readonly started: string;
  /** Linux: the boot the owner ran in, so a pid from before a reboot is not mistaken for a live one. */
  readonly boot_id?: string;
  /** Linux: the owner's start time in clock ticks, so a reused pid is not mistaken for the owner. */
  readonly pid_start?: string;
  /** The worker thread that holds it, when not the main thread. */
  readonly thread?: number;
}

/** The outcome of an attempt: the lock, or who holds it (undefined: a lock file that cannot be read). */
export type LockAttempt =
  | { readonly ok: true; readonly lock: FileLock }
  | { readonly ok: false; readonly holder: LockOwner | undefined };

export interface LockOptions {
  /** How long to wait for a live holder, in milliseconds; 0 tries once. */
  readonly waitMs: number;
}

/**
 * A lock file that cannot be read (a crash between creating and writing it,
 * or a lock folder of an older version) is abandoned once it is this old.
 */
export const UNREADABLE_LOCK_STALE_MS = 5_000;
/** Files a takeover moved aside and was killed before removing are swept after this. */
const ASIDE_STALE_MS = 60_000;
const ASIDE = /^(\.takeover)?\.[0-9a-f]{16}\.stale$/;

// One set per thread, shared by every copy of this module (the bundled CLI and dist/ may
// both be loaded): a lock file naming this thread but a token no copy holds was leaked.
const scope = globalThis as unknown as Record<symbol, Set<string> | undefined>;
const heldTokens = (scope[Symbol.for("datatools-license.heldLockTokens")] ??= new Set<string>());

/** A held lock. */
export class FileLock {
  #released = false;

  /** @internal Created by {@link acquireLockSync} and {@link acquireLock}. */
  constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  /**
   * True when the lock file still names this holder. Check it immediately
   * before a write the lock guards, and write nothing when it is false.
   */
  held(): boolean {
    if (this.#released) return false;
    const seen = look(this.path);
    return seen.kind === "owner" && seen.owner.token === this.owner.token;
  }

  /** Removes the lock file if it is still this holder's; never removes another's. */
  release(): void {
    if (this.#released) return;
    if (this.held()) rmSync(this.path, { force: true });
    this.#released = true;
    heldTokens.delete(this.owner.token);
  }
}

/**
 * Takes the lock at `path`, waiting up to `waitMs` for a live holder by
 * polling; blocks the thread (for synchronous callers such as the license
 * client).
 *
 * @example
 * ```ts
 * const attempt = acquireLockSync(`${file}.lock`, { waitMs: 3_000 });
 * if (!attempt.ok) throw new Error(`${describeHolder(attempt.holder)} holds the lock`);
 * try {
 *   if (!attempt.lock.held()) throw new Error("lost the lock");
 *   write(file);
 * } finally {
 *   attempt.lock.release();
 * }
 * ```
 */
export function acquireLockSync(path: string, options: LockOptions): LockAttempt {
  const deadline = Date.now() + options.waitMs;
  for (let n = 0; ; n++) {
    const attempt = tryLock(path, removeUnderGuard);
    if (attempt.ok || Date.now() >= deadline) return attempt;
    Atomics.wait(sleeper, 0, 0, pollDelay(n));
  }
}

/**
 * {@link acquireLockSync} without blocking the event loop between polls, for
 * code that serves other work meanwhile.
 *
 * @example
 * ```ts
 * const attempt = await acquireLock(`${log}.lock`, { waitMs: 10_000 });
 * ```
 */
export async function acquireLock(path: string, options: LockOptions): Promise<LockAttempt> {
  const deadline = Date.now() + options.waitMs;
  for (let n = 0; ; n++) {
    const attempt = tryLock(path, removeUnderGuard);
    if (attempt.ok || Date.now() >= deadline) return attempt;
    await new Promise((r) => setTimeout(r, pollDelay(n)));
  }
}

/**
 * Who holds a lock, for a message: `process 4242 (since 2026-05-13T22:10:27Z)`,
 * with ` on host H` when it is another machine's.
 *
 * @example
 * ```ts
 * describeHolder(undefined); // "a process that left a lock file that cannot be read"
 * ```
 */
export function describeHolder(holder: LockOwner | undefined): string {
  if (!holder) return "a process that left a lock file that cannot be read";
  const where = holder.host === hostName() ? "" : ` on host ${holder.host}`;
  return `process ${holder.pid}${where} (since ${holder.started})`;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** 5, 8, 11, 17 … up to 50 ms, with jitter so that waiters do not poll in step. */
function pollDelay(n: number): number {
  const base = Math.min(50, 5 * 1.5 ** n);
  return Math.max(1, Math.round(base * (0.5 + Math.random())));
}

type Seen =
  | { readonly kind: "missing" }
  | { readonly kind: "owner"; readonly owner: LockOwner; readonly fingerprint: string }
  | { readonly kind: "unreadable"; readonly old: boolean; readonly fingerprint: string };

/**
 * One attempt: create the lock, or find a live holder, or remove an abandoned
 * lock with `removeAbandoned` and try again.
 */
function tryLock(
  path: string,
  removeAbandoned: (path: string, fingerprint: string) => void,
): LockAttempt {
  // A bound keeps a pathological file system from spinning here; the caller polls on.
  for (let pass = 0; pass < 16; pass++) {
    const lock = create(path);
    if (lock) {
      sweepAside(path);
      return { ok: true, lock };
    }
    const seen = look(path);
    if (seen.kind === "missing") continue;
    if (seen.kind === "owner" && !ownerGone(seen.owner)) return { ok: false, holder: seen.owner };
    if (seen.kind === "unreadable" && !seen.old) return { ok: false, holder: undefined };
    removeAbandoned(path, seen.fingerprint);
  }
  const seen = look(path);
  return { ok: false, holder: seen.kind === "owner" ? seen.owner : undefined };
}

/** Creates the lock file exclusively; undefined when one exists. */
function create(path: string): FileLock | undefined {
  const owner = newOwner();
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw cannot("create", path, err);
  }
  heldTokens.add(owner.token);
  try {
    const buf = Buffer.from(`${JSON.stringify(owner)}\n`, "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch (err) {
    heldTokens.delete(owner.token);
    rmSync(path, { force: true });
    throw cannot("write", path, err);
  } finally {
    closeSync(fd);
  }
  return new FileLock(path, owner);
}

function cannot(what: string, path: string, err: unknown): LicenseError {
  const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new LicenseError("FILE_UNWRITABLE", `cannot ${what} the lock file ${path} (${why})`, {
    cause: err,
  });
}

function look(path: string): Seen {
  let stat;
  let text = "";
  try {
    stat = lstatSync(path);
    if (stat.isFile()) text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    // Unreadable (another user's file, say): judged by its age like a torn one.
  }
  const fingerprint = stat ? `${stat.ino}:${stat.mtimeMs}:${stat.size}:${text}` : text;
  const owner = parseOwner(text);
  if (owner) return { kind: "owner", owner, fingerprint };
  const old = stat !== undefined && Date.now() - stat.mtimeMs > UNREADABLE_LOCK_STALE_MS;
  return { kind: "unreadable", old, fingerprint };
}

function parseOwner(text: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const ok =
    Number.isSafeInteger(v.pid) &&
    (v.pid as number) > 0 &&
    typeof v.host === "string" &&
    typeof v.token === "string" &&
    v.token !== "" &&
    typeof v.started === "string" &&
    (v.boot_id === undefined || typeof v.boot_id === "string") &&
    (v.pid_start === undefined || typeof v.pid_start === "string") &&
    (v.thread === undefined || Number.isSafeInteger(v.thread));
  return ok ? (v as unknown as LockOwner) : undefined;
}

/**
 * True only when the owner certainly no longer runs. Another host's owner
 * cannot be checked from here, and a stopped process is alive.
 */
function ownerGone(owner: LockOwner): boolean {
  if (owner.host !== hostName()) return false;
  const boot = bootId();
  if (owner.boot_id !== undefined && boot !== undefined && owner.boot_id !== boot) return true;
  if (owner.pid === process.pid) {
    const mine = ownStart();
    if (owner.pid_start !== undefined && mine !== undefined && owner.pid_start !== mine) {
      return true;
    }
    // Another thread of this process keeps track of its own locks.
    if ((owner.thread ?? 0) !== threadId) return false;
    return !heldTokens.has(owner.token);
  }
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return true;
    // EPERM: it runs, as another user.
    if (code !== "EPERM") return false;
  }
  const stat = procStat(owner.pid);
  if (!stat) return false;
  // A zombie has exited and only waits for its parent to collect its status.
  if (stat.state === "Z") return true;
  return owner.pid_start !== undefined && stat.start !== owner.pid_start;
}

/**
 * Removes a lock judged abandoned. Between judging it and removing it another
 * waiter may have removed it and taken the lock anew, so the removal happens
 * under a second lock, `<path>.takeover`, after checking again that the file is
 * the one judged: no one else can replace it meanwhile (its owner is gone, and
 * a new lock cannot be created while it exists). That second lock is held for
 * microseconds; one abandoned by a waiter killed inside it is moved aside.
 */
function removeUnderGuard(path: string, fingerprint: string): void {
  const guard = tryLock(`${path}.takeover`, moveAside);
  if (!guard.ok) return;
  try {
    const seen = look(path);
    if (seen.kind !== "missing" && seen.fingerprint === fingerprint) {
      rmSync(path, { recursive: true, force: true });
    }
  } finally {
    guard.lock.release();
  }
}

/**
 * Removes an abandoned takeover lock without a lock of its own: move it to a
 * name of ours (only one waiter's rename succeeds), check it is the file
 * judged, and put it back if another waiter replaced it meanwhile.
 */
function moveAside(path: string, fingerprint: string): void {
  const aside = join(dirname(path), `${basename(path)}.${randomBytes(8).toString("hex")}.stale`);
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw cannot("remove the abandoned", path, err);
  }
  const moved = look(aside);
  if (moved.kind !== "missing" && moved.fingerprint !== fingerprint) {
    try {
      // link() fails when a new one appeared meanwhile; two waiters then hold the takeover
      // lock at once, which needs a waiter killed inside its microseconds there and three
      // more racing for it, and even then each checks the lock file again before removing it.
      if (lstatSync(aside).isDirectory()) renameSync(aside, path);
      else linkSync(aside, path);
    } catch {
      // Nothing to restore, or a newer one is in place.
    }
  }
  rmSync(aside, { recursive: true, force: true });
}

/** Removes what a takeover killed between its two steps left behind (never a fresh one: it may be in use). */
function sweepAside(path: string): void {
  const dir = dirname(path);
  const prefix = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !ASIDE.test(name.slice(prefix.length))) continue;
    try {
      const file = join(dir, name);
      if (Date.now() - lstatSync(file).ctimeMs > ASIDE_STALE_MS) {
        rmSync(file, { recursive: true, force: true });
      }
    } catch {
      // Gone already.
    }
  }
}

function newOwner(): LockOwner {
  const boot = bootId();
  const start = ownStart();
  return {
    pid: process.pid,
    host: hostName(),
    token: randomBytes(16).toString("hex"),
    started: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(boot !== undefined ? { boot_id: boot } : {}),
    ...(start !== undefined ? { pid_start: start } : {}),
    ...(threadId !== 0 ? { thread: threadId } : {}),
  };
}

let cachedHost: string | undefined;
function hostName(): string {
  return (cachedHost ??= hostname());
}

let cachedStart: string | null | undefined;
function ownStart(): string | undefined {
  if (cachedStart === undefined) cachedStart = procStat(process.pid)?.start ?? null;
  return cachedStart ?? undefined;
}

let cachedBoot: string | null | undefined;
/** Linux's boot id; undefined elsewhere. */
function bootId(): string | undefined {
  if (cachedBoot === undefined) {
    try {
      cachedBoot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
    } catch {
      cachedBoot = null;
    }
  }
  return cachedBoot ?? undefined;
}

/** State and start time of a process from Linux's /proc; undefined elsewhere or when it is gone. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const start = fields[19];
  return state && start ? { state, start } : undefined;
}
