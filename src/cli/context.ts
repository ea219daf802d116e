/**
 * What a command may use from the outside world, passed in by the entry
 * point: the environment (read once, at start), output streams, the clock and
 * whether stdin/stdout are terminals. Tests run commands in-process with their own.
 */
import { homedir } from "node:os";
import { isatty } from "node:tty";
import type { Env } from "../config/keys.js";

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
  // `dtlicense issued list | head` closes the pipe early: that is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
  return {
    env,
    stdout: { write: (t) => void process.stdout.write(t) },
    stderr: { write: (t) => void process.stderr.write(t) },
    now: () => new Date(),
    home: env.HOME && env.HOME !== "" ? env.HOME : homedir(),
    // isatty(0) rather than process.stdin.isTTY: creating the stdin stream costs a cold start
    // some milliseconds, and most commands never read it.
    interactive: isatty(0) && Boolean(process.stdout.isTTY),
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
