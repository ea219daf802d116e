/** `dtlicense mint`: sign a license for a buyer and record it in the issuance log. */
import { statSync } from "node:fs";
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import { pathTaken, writeFileAtomic } from "../../config/fs-safe.js";
import { PRIVKEY_VAR } from "../../config/keys.js";
import { IssuanceLog, issuanceLogPath } from "../../issuer/log.js";
import { issueLicense, toRecord } from "../../issuer/issue.js";
import type { CliContext } from "../context.js";
import { loadKeys } from "../keys.js";
import type { Wrap } from "../program.js";

interface MintOptions {
  name: string;
  email: string;
  tier: string;
  years: string;
  key?: string;
  output?: string;
  force?: boolean;
  log: boolean;
  json?: boolean;
}

export function registerMint(program: Command, ctx: CliContext, wrap: Wrap): void {
  program
    .command("mint")
    .description(
      "Mint a signed DTLIC2 license for a buyer and append it to the issuance log.\n" +
        "Signs with $DATATOOLS_LICENSE_PRIVKEY, or the development key when no key is set.",
    )
    .requiredOption("--name <name>", "buyer's full name (signed into the license)")
    .requiredOption("--email <email>", "buyer's e-mail (signed into the license)")
    .option("--tier <tier>", "lite, core or pro", "core")
    .option("--years <n>", "lifetime in whole years", "1")
    .option("--key <license-key>", "use this license key instead of a generated one")
    .option("-o, --output <file>", "write the blob to this file (mode 600) instead of stdout")
    .option("--force", "overwrite --output if it exists")
    .option("--no-log", "do not record the license in the issuance log (test mints only)")
    .option("--json", "print the issued record as JSON instead of the bare blob")
    .addHelpText(
      "after",
      `
The log is ~/.datatools-creator/issued.jsonl, or $DATATOOLS_ISSUANCE_LOG.
Examples:
  dtlicense mint --name "Buyer Name" --email buyer@example.com --tier core --years 1 -o buyer.dtlic
  dtlicense mint --name "Acme Corp" --email ops@acme.com --tier pro --key DT1-PRO-ACME-2026
`,
    )
    .action(wrap((opts: MintOptions) => mint(ctx, opts)));
}

async function mint(ctx: CliContext, opts: MintOptions): Promise<number> {
  const keys = loadKeys(ctx);
  if (!keys.signer) {
    throw new LicenseError(
      "KEY_MISSING",
      `minting needs the private key: set ${PRIVKEY_VAR} (or ${PRIVKEY_VAR}_FILE)`,
    );
  }
  // Refuse before anything is signed or logged, so a refused mint leaves no trace.
  if (opts.output && !opts.force && pathTaken(opts.output)) {
    throw new LicenseError(
      "FILE_EXISTS",
      `${opts.output} already exists; pass --force to overwrite it`,
    );
  }
  const logPath = issuanceLogPath(ctx.env, ctx.home);
  const log = opts.log ? new IssuanceLog(logPath) : undefined;
  const minted = await issueLicense(
    {
      name: opts.name,
      email: opts.email,
      tier: opts.tier,
      years: opts.years,
      ...(opts.key !== undefined ? { licenseKey: opts.key } : {}),
    },
    keys.signer,
    ctx.now(),
    log,
  );
  const { payload, blob } = minted;
  if (opts.output) {
    try {
      writeFileAtomic(opts.output, `${blob}\n`, { mode: 0o600, overwrite: Boolean(opts.force) });
    } catch (err) {
      // The license is already in the ledger: say so, or a retry mints a second one.
      if (!log || !(err instanceof LicenseError)) throw err;
      throw new LicenseError(
        err.code,
        `${err.message}; license ${payload.license_key} was minted and recorded in ${logPath}: ` +
          `print it with dtlicense issued redeliver --email ${JSON.stringify(payload.email)} --key ${payload.license_key}`,
        { cause: err },
      );
    }
  }
  if (opts.json) ctx.stdout.write(`${JSON.stringify(toRecord(minted))}\n`);
  else if (!opts.output) ctx.stdout.write(`${blob}\n`);

  const where = opts.output ? `; blob written to ${opts.output}` : "";
  ctx.stderr.write(
    `dtlicense: minted ${payload.license_key} (${payload.tier}) for ${payload.name} <${payload.email}>, ` +
      `expires ${payload.expires_at}${where}\n`,
  );
  ctx.stderr.write(
    log
      ? `dtlicense: recorded in ${logPath}\n`
      : "dtlicense: --no-log: NOT recorded in the issuance log; never use this for a real buyer\n",
  );
  // A log made by hand or copied in may be readable by others; it lists every buyer.
  const mode = log ? statSync(logPath).mode & 0o777 : 0;
  if (mode & 0o077) {
    ctx.stderr.write(
      `dtlicense: warning: ${logPath} has mode ${mode.toString(8)}: other users can read the buyer list; run chmod 600 ${logPath}\n`,
    );
  }
  return 0;
}
