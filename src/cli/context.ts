/**
 * What a command may use from the outside world, passed in by the entry
 * point: the environment (read once, at start), output streams, the clock and
 * whether stdin/stdout are terminals. Tests run commands in-process with their own.
 */
import { homedir } from "node:os";
import { isatty } from "node:tty";
import type { Env } from "../config/keys.js";
import { fdOutput } from "./output.js";

export interface Output {
  write(text: string): void;
}

export interface CliContext {
  readonly env: Env;
  readonly stdout: Output;
  readonly stderr: Output;
  /** The current time; tests freeze it. */
  now(): Date;
  /** The user's home folder (`$HOME` when set). */
  readonly home: string;
  /** True when stdin and stdout are terminals (interactive prompts, progress bars). */
  readonly interactive: boolean;
  /** Reads one line from the terminal, for confirmations. */
  prompt?(question: string): Promise<string>;
}

/** The context of a real process. */
export function processContext(): CliContext {
  const env = { ...process.env };
  let interactive: boolean | undefined;
  return {
    env,
    // Not process.stdout and process.stderr: see output.ts.
    stdout: fdOutput(1, () => process.stdout),
    stderr: fdOutput(2, () => process.stderr),
    now: () => new Date(),
    home: env.HOME && env.HOME !== "" ? env.HOME : homedir(),
    // Asked only by the commands that prompt, since it loads node:tty. isatty rather than
    // process.stdin.isTTY and process.stdout.isTTY, which would create the streams.
    get interactive() {
      interactive ??= isatty(0) && isatty(1);
      return interactive;
    },
    prompt: async (question) => {
      const { createInterface } = await import("node:readline/promises");
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}
