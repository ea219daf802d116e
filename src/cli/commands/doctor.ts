/**
 * `dtlicense doctor`: prints the deployment check of src/service/doctor.ts —
 * each finding with how to fix it — and exits 1 when there is a problem.
 * Read-only: it changes nothing.
 */
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import type { Level } from "../../service/doctor.js";
import { DEFAULT_SECRETS_DIR } from "../../service/rotation.js";
import type { CliContext } from "../context.js";
import type { Wrap } from "../program.js";

interface DoctorOptions {
  secretsDir?: string;
  publishedKeys?: string;
  publishedKeysFile?: string;
  owner?: string;
  dataDir?: string;
  json?: boolean;
}

export function registerDoctor(program: Command, ctx: CliContext, wrap: Wrap): void {
  program
    .command("doctor")
    .description(
      "Check this deployment's configuration from the inside: secret files, the development " +
        "key, the database and its migrations, the signing key against the key ring, which " +
        "stores' webhooks are on and whether their license e-mails can be sent. " +
        "Prints each problem with how to fix it; exits 1 when there is one.",
    )
    .option(
      "--secrets-dir <dir>",
      `also check every file in this folder (default ${DEFAULT_SECRETS_DIR} when it exists)`,
    )
    .option(
      "--published-keys <hex,...>",
      "the public keys the shipped app embeds; the signing key must be one of them",
    )
    .option("--published-keys-file <file>", "the same, from a file")
    .option("--owner <uid>", "uid that must own the secret files (default: the current user)")
    .option("--data-dir <dir>", "data folder of an embedded database (no DATABASE_URL)")
    .option("--json", "print {ok, findings} as JSON")
    .action(wrap((opts: DoctorOptions) => doctor(ctx, opts)));
}

async function doctor(ctx: CliContext, opts: DoctorOptions): Promise<number> {
  const owner = opts.owner !== undefined ? Number(opts.owner) : undefined;
  if (owner !== undefined && !Number.isInteger(owner)) {
    throw new LicenseError("USAGE", `--owner must be a numeric uid, not "${opts.owner}"`);
  }
  const { runDoctor } = await import("../../service/doctor.js");
  const report = await runDoctor({
    env: ctx.env,
    home: ctx.home,
    ...(opts.secretsDir !== undefined ? { secretsDir: opts.secretsDir } : {}),
    ...(opts.publishedKeys !== undefined ? { publishedKeys: opts.publishedKeys } : {}),
    ...(opts.publishedKeysFile !== undefined ? { publishedKeysFile: opts.publishedKeysFile } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
  });
  const { problems, warnings } = report;
  if (opts.json) {
    ctx.stdout.write(JSON.stringify(report) + "\n");
  } else {
    const tag: Record<Level, string> = { ok: "ok   ", warning: "warn ", problem: "FAIL " };
    for (const f of report.findings) {
      ctx.stdout.write(`${tag[f.level]} ${f.check}: ${f.message}\n`);
      if (f.fix && f.level !== "ok") ctx.stdout.write(`      fix: ${f.fix}\n`);
    }
    ctx.stdout.write(
      problems === 0
        ? `dtlicense doctor: no problems${warnings ? ` (${warnings} warning(s))` : ""}\n`
        : `dtlicense doctor: ${problems} problem(s), ${warnings} warning(s)\n`,
    );
  }
  return problems === 0 ? 0 : 1;
}
