// Command-line mistakes: one line naming what was wrong and the help to read, ending in
// [USAGE], exit status 2, nothing written — in-process and from the real executable.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runInProcess, spawnCli, tempHome } from "./helpers/cli.js";

const cases: { argv: string[]; line: RegExp; kind: string }[] = [
  {
    kind: "missing required option",
    argv: ["mint", "--email", "a@example.com"],
    line: /^dtlicense: required option '--name <name>' not specified; see dtlicense mint --help \[USAGE\]$/,
  },
  {
    kind: "unknown option",
    argv: ["status", "--colour"],
    line: /^dtlicense: unknown option '--colour'; see dtlicense status --help \[USAGE\]$/,
  },
  {
    kind: "unknown option of a nested command",
    argv: ["admin", "token", "create", "--name", "x", "--bogus"],
    line: /^dtlicense: unknown option '--bogus'; see dtlicense admin token create --help \[USAGE\]$/,
  },
  {
    kind: "missing argument",
    argv: ["import"],
    line: /^dtlicense: missing required argument 'file'; see dtlicense import --help \[USAGE\]$/,
  },
  {
    kind: "too many arguments",
    argv: ["status", "extra"],
    line: /^dtlicense: too many arguments for 'status'\. Expected 0 arguments but got 1; see dtlicense status --help \[USAGE\]$/,
  },
  {
    kind: "unknown command",
    argv: ["frobnicate"],
    line: /^dtlicense: unknown command 'frobnicate'; see dtlicense --help \[USAGE\]$/,
  },
  {
    kind: "misspelt command",
    argv: ["stauts"],
    line: /^dtlicense: unknown command 'stauts' \(did you mean status\?\); see dtlicense --help \[USAGE\]$/,
  },
  {
    kind: "option value missing",
    argv: ["mint", "--name"],
    line: /^dtlicense: option '--name <name>' argument missing; see dtlicense mint --help \[USAGE\]$/,
  },
  {
    kind: "bare command group",
    argv: ["issued"],
    line: /^dtlicense: 'dtlicense issued' needs a subcommand \(list, count, expiring, redeliver\); see dtlicense issued --help \[USAGE\]$/,
  },
  {
    kind: "bare nested command group",
    argv: ["admin", "token"],
    line: /^dtlicense: 'dtlicense admin token' needs a subcommand \(create, list, revoke, generate\); see dtlicense admin token --help \[USAGE\]$/,
  },
  {
    kind: "no command at all",
    argv: [],
    line: /^dtlicense: 'dtlicense' needs a subcommand \(keypair, mint, .*doctor(, [a-z-]+)*\); see dtlicense --help \[USAGE\]$/,
  },
];

describe("usage errors", () => {
  for (const { kind, argv, line } of cases) {
    it(`${kind} (${argv.join(" ") || "no arguments"}): one line ending in [USAGE], exit 2, nothing written`, async () => {
      const home = tempHome();
      const r = await runInProcess(argv, { home });
      expect(r.stderr).toMatch(/^[^\n]*\n$/);
      expect(r.stderr.trimEnd()).toMatch(line);
      expect(r.stdout).toBe("");
      expect(r.code).toBe(2);
      expect(readdirSync(home)).toEqual([]);
    });
  }

  it("are the same single line from the real executable", async () => {
    const r = await spawnCli(["mint", "--email", "a@example.com"], { HOME: tempHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "dtlicense: required option '--name <name>' not specified; see dtlicense mint --help [USAGE]\n",
    );
  });

  it("leave help that was asked for alone: full text on stdout, exit 0", async () => {
    for (const argv of [["--help"], ["issued", "--help"], ["help", "mint"]]) {
      const r = await runInProcess(argv, { home: tempHome() });
      expect(r.code, argv.join(" ")).toBe(0);
      expect(r.stdout, argv.join(" ")).toMatch(/^Usage: dtlicense/);
      expect(r.stderr, argv.join(" ")).toBe("");
    }
  });
});
