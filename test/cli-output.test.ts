// The installed bin writes its output with fs.writeSync (src/cli/output.ts): a closed reader
// and a descriptor another process made non-blocking must behave as Node's streams did.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI_PATH, tempHome } from "./helpers/cli.js";

function sh(script: string, env: Record<string, string> = {}) {
  return spawnSync("sh", ["-c", script], {
    env: {
      PATH: process.env.PATH,
      HOME: tempHome("dtl-out-"),
      NODE: process.execPath,
      CLI: CLI_PATH,
      ...env,
    },
    encoding: "utf8",
  });
}

describe("the bin's output", () => {
  it("ignores a reader that closed early (EPIPE) and keeps its exit status", () => {
    // `true` has exited before dtlicense writes, so every write meets a closed pipe.
    for (const [args, code] of [
      ["status", 3],
      ["status --help", 0],
    ] as const) {
      const r = sh(`(sleep 0.3; "$NODE" "$CLI" ${args}; echo "exit $?" >&2) | true`);
      expect(r.stderr).toMatch(new RegExp(`(^|\\n)exit ${code}\\n$`));
      expect(r.stderr).not.toMatch(/EPIPE|INTERNAL|Error/);
    }
  });

  it("waits for a slow reader of a non-blocking pipe and loses nothing", () => {
    // A parent may leave the pipe non-blocking (Python's os.set_blocking here; Node's own
    // children get blocking ones); 100 KB on stderr fill it while the reader sleeps (EAGAIN).
    const word = "x".repeat(100_000);
    const r = sh(
      `python3 -c 'import os, sys; os.set_blocking(2, False); os.execv(sys.argv[1], sys.argv[1:])' "$NODE" "$CLI" ${word} 2>&1 >/dev/null | (sleep 1; cat)`,
    );
    const start = "dtlicense: unknown command '";
    expect(r.stdout.length).toBeGreaterThan(word.length + start.length);
    expect(r.stdout.startsWith(start + word + "'")).toBe(true);
    expect(r.stdout.endsWith(" [USAGE]\n")).toBe(true);
  });

  it("writes to a file and to a pipe alike", () => {
    const file = `${tempHome("dtl-out-file-")}/out.txt`;
    const r = sh(`"$NODE" "$CLI" status > "${file}"; cat "${file}"; "$NODE" "$CLI" status | cat`);
    const report = r.stdout.slice(0, r.stdout.length / 2);
    expect(report).toMatch(/^State: +none\n/);
    expect(r.stdout).toBe(report + report);
  });
});
