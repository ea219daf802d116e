/**
 * Where the server's JSON log lines go when no stream is given: standard
 * output, in one write per turn of the event loop. pino's own default writes
 * each line with its own system call before the response goes out; under load
 * a turn answers many requests, and their lines now leave together, after the
 * answers. Lines keep their order; what is pending is written when the process
 * exits.
 */

/** A line sink for the logger: `write` keeps the line, one write per turn sends them. */
export class CoalescedLines {
  #pending: string[] = [];
  #scheduled = false;

  constructor(private readonly out: { write(text: string): unknown } = process.stdout) {
    process.once("exit", () => this.flush());
  }

  write(line: string): void {
    this.#pending.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is pending now (also run at exit). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join("");
    this.#pending = [];
    this.out.write(text);
  }
}

let stdoutLines: CoalescedLines | undefined;

/** The one sink on standard output that every app of this process without a stream shares. */
export function standardOutputLines(): CoalescedLines {
  stdoutLines ??= new CoalescedLines();
  return stdoutLines;
}
