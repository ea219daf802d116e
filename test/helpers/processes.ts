// Child processes for the lock tests: run a script against dist/, wait for it to stop or exit.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const DIST = resolve(import.meta.dirname, "../../dist");

/** The file: URL of a built module, for an `import` in a child script (dist/ must be built). */
export function distUrl(path: string): string {
  return pathToFileURL(resolve(DIST, path)).href;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Script {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited and been reaped. */
  readonly exited: Promise<Exit>;
}

/** Runs an ES module `source` in a new `node`; `args` are its `process.argv.slice(1)`. */
export function runScript(source: string, args: string[] = []): Script {
  const child = spawn(process.execPath, ["--input-type=module", "-e", source, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<Exit>((done, fail) => {
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
  if (child.pid === undefined) throw new Error("the child process did not start");
  return { child, pid: child.pid, exited };
}

/** The state letter of /proc/<pid>/stat (R, S, T for stopped, Z for a zombie), or undefined. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** Polls `condition` every 10 ms until it is true; fails after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until `script` has stopped itself (SIGSTOP), failing early if it exited instead. */
export async function untilStopped(script: Script): Promise<void> {
  let exit: Exit | undefined;
  void script.exited.then((e) => (exit = e));
  await until(() => exit !== undefined || procState(script.pid) === "T", `${script.pid} to stop`);
  if (exit) throw new Error(`the child exited instead of stopping: ${JSON.stringify(exit)}`);
}

/** Kills a stopped or running script and waits until it is reaped. */
export async function killed(script: Script): Promise<void> {
  script.child.kill("SIGKILL");
  await script.exited;
}

/**
 * A script that appends the record (JSON, argument 2) to the issuance log at argument 1 and
 * stops itself (SIGSTOP) while it holds the log's lock, as a mint suspended by Ctrl-Z would.
 */
export const PAUSED_LOG_HOLDER = `
  import { IssuanceLog } from ${JSON.stringify(distUrl("issuer/log.js"))};
  const [path, record] = process.argv.slice(1);
  await new IssuanceLog(path).append(JSON.parse(record), () => process.kill(process.pid, "SIGSTOP"));
`;

/**
 * A script that, inside the license store's lock for the home folder at argument 1, leaves a
 * temporary file as a killed write would, then stops itself (SIGSTOP).
 */
export const PAUSED_LICENSE_HOLDER = `
  import { writeFileSync } from "node:fs";
  import { dirname, join } from "node:path";
  import { licensePath, withLock } from ${JSON.stringify(distUrl("client/store.js"))};
  const path = licensePath(process.argv[1]);
  withLock(path, true, () => {
    writeFileSync(join(dirname(path), ".license.json.0123456789ab.tmp"), '{"vers');
    process.kill(process.pid, "SIGSTOP");
  });
`;
