/**
 * The `dtlicense` command tree and its single error boundary. Each command
 * group lives in its own file and registers itself here; the heavy parts of a
 * command are imported inside its action, so `dtlicense status` loads only
 * what status needs.
 */
import { Command, CommanderError } from "commander";
import type { CliContext } from "./context.js";
import { assertCliProductionSafe, isPackagedCli } from "./buyer.js";
import { reportFailure } from "./report.js";

/** A command group's registration function (each lives in its own file). */
type Register = (program: Command, ctx: CliContext, wrap: Wrap) => void;

/**
 * The command groups, in help order, each loaded only when needed: a command
 * line that names a command loads just that command's group, so `dtlicense
 * status` never loads the issuer, the server or their dependencies.
 */
const GROUPS: readonly { commands: readonly string[]; load: () => Promise<Register> }[] = [
  {
    commands: ["keypair"],
    load: async () => (await import("./commands/keypair.js")).registerKeypair,
  },
  { commands: ["mint"], load: async () => (await import("./commands/mint.js")).registerMint },
  { commands: ["issued"], load: async () => (await import("./commands/issued.js")).registerIssued },
  {
    commands: ["activate", "status", "renew", "deactivate", "check-in"],
    load: async () => (await import("./commands/license.js")).registerLicense,
  },
  { commands: ["serve"], load: async () => (await import("./commands/serve.js")).registerServe },
  { commands: ["db"], load: async () => (await import("./commands/db.js")).registerDb },
  { commands: ["admin"], load: async () => (await import("./commands/admin.js")).registerAdmin },
  { commands: ["import"], load: async () => (await import("./commands/import.js")).registerImport },
  { commands: ["ledger"], load: async () => (await import("./commands/ledger.js")).registerLedger },
  {
    commands: ["keys"],
    load: async () => (await import("./commands/keys.js")).registerKeysCommands,
  },
  { commands: ["doctor"], load: async () => (await import("./commands/doctor.js")).registerDoctor },
  {
    commands: ["webhooks", "deliver"],
    load: async () => (await import("./commands/sales.js")).registerSales,
  },
  { commands: ["seats"], load: async () => (await import("./commands/seats.js")).registerSeats },
];

/** Exit statuses. Commands may return their own (see `status`). */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
} as const;

/** Holds the exit status the action returned, for {@link runCli}. */
export interface RunState {
  code: number;
}

/**
 * Builds the program for a command line. `state.code` receives each action's
 * exit status.
 */
export async function buildProgram(
  argv: readonly string[],
  ctx: CliContext,
  state: RunState,
): Promise<Command> {
  const program = new Command("dtlicense")
    .description(
      "Mint, record and check DataTools licenses (DTLIC2 blobs signed with Ed25519).\n" +
        "Run 'dtlicense <command> --help' for the flags of a command.",
    )
    .version(VERSION, "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (t) => ctx.stdout.write(t),
      // Commander writes usage mistakes (and the help it shows for a bare command group) here;
      // runCli turns them into one line instead, from the CommanderError it throws.
      writeErr: () => undefined,
      outputError: () => undefined,
    });
  // Every subcommand inherits exitOverride and output through copyInheritedSettings.
  const wrap =
    <A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) =>
    async (...args: A) => {
      const code = await fn(...args);
      state.code = typeof code === "number" ? code : EXIT.OK;
    };
  const named = GROUPS.find((g) => g.commands.includes(argv[0] ?? ""));
  if (named) (await named.load())(program, ctx, wrap);
  // No command named, or a build that leaves the named group out: load them all,
  // so help lists everything and an absent command is reported as unknown.
  if (program.commands.length === 0) {
    for (const group of GROUPS) (await group.load())(program, ctx, wrap);
  }
  return program;
}

/** Wraps an action so its returned exit status is recorded. */
export type Wrap = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | void> | number | void,
) => (...args: A) => Promise<void>;

export const VERSION = "0.1.0";

/** The command a command line names: the deepest subcommand its words reach. */
function namedCommand(program: Command, argv: readonly string[]): Command {
  let cmd = program;
  for (const word of argv) {
    if (word === "--") break;
    if (word.startsWith("-")) continue;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

/** The full name of a command, e.g. `dtlicense admin token create`. */
function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * A usage mistake as one line: what commander found wrong and which help to
 * read, e.g. `required option '--name <name>' not specified; see dtlicense mint --help`.
 */
function usageLine(
  err: CommanderError,
  program: Command | undefined,
  argv: readonly string[],
): string {
  const cmd = program ? namedCommand(program, argv) : undefined;
  const name = cmd ? fullName(cmd) : "dtlicense";
  if (err.code === "commander.help" && cmd) {
    const subs = cmd.commands.map((c) => c.name()).join(", ");
    return `'${name}' needs a subcommand (${subs}); see ${name} --help`;
  }
  const what = err.message
    .replace(/^error: /, "")
    .replace(/\n\(Did you mean (.*)\)$/s, " (did you mean $1)")
    .replace(/\s*\n\s*/g, " ")
    .replace(/\.$/, "");
  return `${what}; see ${name} --help`;
}

/**
 * Runs the command line and returns the exit status. The only place errors
 * become messages: a {@link LicenseError} prints one line with its code; an
 * unexpected error prints one line and asks for a report, never a stack
 * (set DTLICENSE_DEBUG=1 to see it).
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const state: RunState = { code: EXIT.OK };
  let program: Command | undefined;
  try {
    program = await buildProgram(argv, ctx, state);
    // The packaged buyer binary that trusts the development key refuses to run at all.
    // From source, only the commands that sign or trust keys apply the production rule
    // (loadKeys, the buyer commands, serve), so help, version, keypair, admin token
    // generate, keys rotate, db and doctor work in the production image without keys.
    if (isPackagedCli()) assertCliProductionSafe(ctx);
    await program.parseAsync([...argv], { from: "user" });
    return state.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help that was asked for exits 0; help shown because a subcommand is missing
      // (`dtlicense issued`) comes with exitCode 1 and is a usage mistake.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") {
        return EXIT.OK;
      }
      if (err.exitCode === 0) return EXIT.OK;
      ctx.stderr.write(`dtlicense: ${usageLine(err, program, argv)} [USAGE]\n`);
      return EXIT.USAGE;
    }
    return reportFailure(err, ctx);
  }
}
