/**
 * The CLI's stdout and stderr as synchronous writes to their file descriptors. Reading
 * `process.stdout` builds a stream, which for a pipe or a terminal loads node:net, node:tty
 * and node:stream: a good part of a cold `dtlicense status`. A write here is done when it
 * returns, as Node's own writes to files and terminals are.
 */
import { writeSync } from "node:fs";
import type { Output } from "./context.js";

/**
 * Writes to `fd` with `fs.writeSync`. A closed reader (EPIPE: `dtlicense issued list | head`)
 * is not an error: the rest of the output is dropped, as before. A descriptor that another
 * process left non-blocking (EAGAIN) gets the rest of the output through `stream()`, Node's
 * stream, which waits for the reader. On Windows the stream is used throughout, since only
 * it writes Unicode to a console.
 */
export function fdOutput(fd: number, stream: () => NodeJS.WriteStream): Output {
  let fallback: NodeJS.WriteStream | undefined;
  let closed = false;
  const toStream = (): NodeJS.WriteStream => {
    if (fallback === undefined) {
      fallback = stream();
      fallback.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code !== "EPIPE") throw err;
      });
    }
    return fallback;
  };
  if (process.platform === "win32") return { write: (text) => void toStream().write(text) };
  return {
    write(text) {
      if (closed) return;
      if (fallback !== undefined) {
        fallback.write(text);
        return;
      }
      const bytes = Buffer.from(text, "utf8");
      let done = 0;
      try {
        while (done < bytes.length) done += writeSync(fd, bytes, done);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EPIPE") {
          closed = true;
          return;
        }
        if (code !== "EAGAIN") throw err;
        toStream().write(bytes.subarray(done));
      }
    },
  };
}
