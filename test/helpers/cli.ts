// Runs the dtlicense command line in-process (fast) or as a real process (dist/ must be built).
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli } from "../../src/cli/program.js";
import type { CliContext } from "../../src/cli/context.js";

// The executable as installed (package.json "bin"): the bundled CommonJS entry.
export const CLI_PATH = resolve(import.meta.dirname, "../../dist/cli/dtlicense.cjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fresh, empty home folder for one test. */
export function tempHome(prefix = "dtl-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface InProcessOptions {
  env?: Record<string, string | undefined>;
  home: string;
  now?: Date;
  interactive?: boolean;
  answers?: string[];
}

/** Runs `dtlicense argv…` in this process with a frozen clock and captured output. */
export async function runInProcess(argv: string[], opts: InProcessOptions): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const answers = [...(opts.answers ?? [])];
  const ctx: CliContext = {
    env: { HOME: opts.home, ...opts.env },
    stdout: { write: (t) => void (stdout += t) },
    stderr: { write: (t) => void (stderr += t) },
    now: () => opts.now ?? new Date(),
    home: opts.home,
    interactive: opts.interactive ?? false,
    prompt: async () => answers.shift() ?? "",
  };
  const code = await runCli(argv, ctx);
  return { code, stdout, stderr };
}

/** Runs the built `dtlicense` as a child process with only the given environment (plus PATH). */
export function spawnCli(
  argv: string[],
  env: Record<string, string | undefined>,
  input?: string,
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI_PATH, ...argv], {
      env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
