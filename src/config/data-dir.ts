/**
 * The files a server keeps in its data folder for the commands pointed at the
 * same folder: `admin-token` (the first admin token) and `server.json` (the
 * running server's address and pid, while it listens). The embedded database
 * is locked by the server that has it open, so a command that finds a live
 * `server.json` uses that server's API instead. Node built-ins only, so the
 * commands can read it without loading the server.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./fs-safe.js";

/** The file the first admin token is written to, in the data folder. */
export const ADMIN_TOKEN_FILE = "admin-token";

/** The running server's address file, in the data folder. */
export const SERVER_FILE = "server.json";

/** What `server.json` holds. */
export interface ServerFile {
  /** Where commands on this machine reach the API, e.g. http://127.0.0.1:8090. */
  readonly url: string;
  /** The server's process id; a file whose process is gone is stale. */
  readonly pid: number;
}

/** Writes `<dataDir>/server.json` (mode 600, atomically) and returns its path. */
export function writeServerFile(dataDir: string, content: ServerFile): string {
  const file = join(dataDir, SERVER_FILE);
  writeFileAtomic(file, `${JSON.stringify({ url: content.url, pid: content.pid })}\n`, {
    mode: 0o600,
    overwrite: true,
  });
  return file;
}

function readServerFile(dataDir: string): ServerFile | undefined {
  try {
    const parsed = JSON.parse(
      readFileSync(join(dataDir, SERVER_FILE), "utf8"),
    ) as Partial<ServerFile>;
    if (typeof parsed.url !== "string" || !/^https?:\/\//.test(parsed.url)) return undefined;
    if (typeof parsed.pid !== "number" || !Number.isSafeInteger(parsed.pid) || parsed.pid <= 0) {
      return undefined;
    }
    return { url: parsed.url, pid: parsed.pid };
  } catch {
    return undefined;
  }
}

/** True when a process with this id exists (one of another user counts too). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The server running on this data folder, from its `server.json`; undefined
 * when there is none, or the file is unreadable, or its process is gone (a
 * server that was killed leaves a stale file behind).
 */
export function runningServer(dataDir: string): ServerFile | undefined {
  const found = readServerFile(dataDir);
  return found && processExists(found.pid) ? found : undefined;
}

/** Removes `<dataDir>/server.json` if it still names process `pid` (another server may have replaced it). */
export function removeServerFile(dataDir: string, pid: number): void {
  if (readServerFile(dataDir)?.pid !== pid) return;
  rmSync(join(dataDir, SERVER_FILE), { force: true });
}
