/**
 * `dtlicense keys rotate | reissue | verify-db`: the operator's key commands,
 * over the service operations (src/service/rotation.ts, reissue.ts,
 * integrity.ts). rotate makes a new signing key in the secrets folder and puts
 * its public key in the ring; reissue re-signs every active license under the
 * current key (the key-loss recovery of ADMIN.md); verify-db checks every
 * stored blob against the ring (run by deploy/scripts/restore.sh after a restore).
 */
import { accessSync, constants, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { LicenseError } from "../../core/errors.js";
import { KeyRing, type Signer } from "../../core/keys.js";
import { writeFileAtomic } from "../../config/fs-safe.js";
import { PRIVKEY_VAR, PUBKEY_VAR, resolveKeys } from "../../config/keys.js";
import { DEFAULT_SECRETS_DIR, SECRET_FILES } from "../../service/rotation.js";
import type { CliContext } from "../context.js";
import { loadKeys } from "../keys.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

export function registerKeysCommands(program: Command, ctx: CliContext, wrap: Wrap): void {
  const keys = program
    .command("keys")
    .description(
      "Operate the server's signing keys: rotate, re-issue after a key loss, check stored blobs.",
    );

  keys
    .command("rotate")
    .description(
      "Make a new signing key in the secrets folder, add its public key to the ring (newest " +
        "first) and switch signing to it; prints the public keys the next app build must embed.",
    )
    .option("--secrets-dir <dir>", "the deployment's secrets folder", DEFAULT_SECRETS_DIR)
    .option(
      "--stage",
      "only make the next key and add its public key to the ring (signing stays on the " +
        "current key); a later 'keys rotate' switches to it",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Files in --secrets-dir (all mode 400, owned by the user the server runs as):
  ${SECRET_FILES.signingKey}          the current private key (64 hex)
  ${SECRET_FILES.ring}          the trusted public keys, newest first
  ${SECRET_FILES.next}     a staged next key (rotate --stage)
  ${SECRET_FILES.retiredPrefix}<kid>  the previous private key, kept until you store it offline
Restart the server afterwards: it reads its keys at start-up.`,
    )
    .action(
      wrap((opts: { secretsDir: string; stage?: boolean; json?: boolean }) => rotate(ctx, opts)),
    );

  keys
    .command("reissue")
    .description(
      "Re-sign every active license under the current signing key, keeping buyer, tier and " +
        "expiry (key-loss recovery). Writes the list to send to buyers.",
    )
    .option("--from-db", "re-issue from the server's database (the default)")
    .option(
      "--from-log <file>",
      "re-issue from an issuance log instead, appending the new records to it",
    )
    .requiredOption("-o, --output <file>", "write the buyer list here (mode 600)")
    .option("--format <format>", "csv or json (default: from the file name, else csv)")
    .option("--force", "overwrite --output if it exists")
    .option("--dry-run", "list what would be re-issued; write nothing")
    .option("--data-dir <dir>", "data folder of an embedded database (no DATABASE_URL)")
    .addHelpText(
      "after",
      `
Active means: not revoked or suspended, not expired, not already superseded, and
signed by a key other than the current one, so running it again re-issues nothing.
From the database each license gets a new license key and is recorded as
superseding the old one (the old blob stays genuine while apps trust its key).
From a log the license key is kept and the new record appended to the log.`,
    )
    .action(wrap((opts: ReissueOptions) => reissue(ctx, opts)));

  keys
    .command("verify-db")
    .description(
      "Check that every stored license blob verifies under the configured key ring and " +
        "matches its row (run by deploy/scripts/restore.sh after a restore).",
    )
    .option("--data-dir <dir>", "data folder of an embedded database (no DATABASE_URL)")
    .option("--json", "print the summary as JSON")
    .action(wrap((opts: { dataDir?: string; json?: boolean }) => verifyDb(ctx, opts)));
}

async function rotate(
  ctx: CliContext,
  opts: { secretsDir: string; stage?: boolean; json?: boolean },
) {
  const dir = opts.secretsDir;
  const { rotateKeys } = await import("../../service/rotation.js");
  const result = await rotateKeys(dir, ctx.now(), { stage: Boolean(opts.stage) });
  const ringPath = join(dir, SECRET_FILES.ring);
  const nextPath = join(dir, SECRET_FILES.next);
  if (opts.json) {
    ctx.stdout.write(JSON.stringify(result) + "\n");
  } else {
    ctx.stdout.write(`${PUBKEY_VAR}=${result.embed}\n`);
    ctx.stderr.write(
      opts.stage
        ? `dtlicense: staged key ${result.kid} in ${nextPath}; signing stays on ${result.previous_kid ?? "(no key yet)"}.\n` +
            "Ship an app build that embeds the keys above, then run 'dtlicense keys rotate' to switch.\n"
        : `dtlicense: signing key is now ${result.kid}` +
            (result.previous_kid ? ` (was ${result.previous_kid})` : "") +
            `; the ring in ${ringPath} holds ${result.ring.length} key(s), newest first.\n` +
            "The next app build must embed the public keys above (old and new together), so licenses\n" +
            "signed by either key verify. Restart the server to sign with the new key:\n" +
            "  docker compose -p datatools-license restart api\n" +
            (result.previous_kid
              ? `Move ${SECRET_FILES.retiredPrefix}${result.previous_kid} to offline storage, then delete it here.\n`
              : ""),
    );
  }
}

interface ReissueOptions {
  fromDb?: boolean;
  fromLog?: string;
  output: string;
  format?: string;
  force?: boolean;
  dryRun?: boolean;
  dataDir?: string;
}

const ACTOR = { actor: "cli:keys-reissue" };

function currentSigner(ctx: CliContext): Signer {
  const keys = resolveKeys(ctx.env);
  if (!keys.signer) {
    throw new LicenseError(
      "KEY_MISSING",
      `re-issuing needs the new private key: set ${PRIVKEY_VAR}_FILE (or ${PRIVKEY_VAR})`,
    );
  }
  if (keys.usingDevKey) {
    throw new LicenseError(
      "DEV_KEY_IN_PRODUCTION",
      `no signing key is configured (or it is the development key); set ${PRIVKEY_VAR}_FILE to the new key`,
    );
  }
  return keys.signer;
}

function outputFormat(opts: ReissueOptions): "csv" | "json" {
  const f = opts.format ?? (opts.output.toLowerCase().endsWith(".json") ? "json" : "csv");
  if (f !== "csv" && f !== "json") {
    throw new LicenseError("USAGE", `--format must be csv or json, not "${f.slice(0, 20)}"`);
  }
  return f;
}

/**
 * The buyer list is written after the licenses are re-issued, and a second run
 * re-issues nothing: a list that cannot be written would be lost, so its folder
 * is checked before anything changes.
 */
function assertWritableFolder(output: string): void {
  const dir = dirname(resolve(output));
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new LicenseError(
      "FILE_UNWRITABLE",
      `cannot write the buyer list in ${dir} (${(err as NodeJS.ErrnoException).code ?? "error"}); nothing was re-issued`,
      { cause: err },
    );
  }
}

async function reissue(ctx: CliContext, opts: ReissueOptions): Promise<number> {
  if (opts.fromDb && opts.fromLog) {
    throw new LicenseError("USAGE", "give one of --from-db and --from-log, not both");
  }
  const format = outputFormat(opts);
  if (!opts.dryRun && !opts.force && existsSync(opts.output)) {
    throw new LicenseError(
      "FILE_EXISTS",
      `${opts.output} already exists; pass --force to overwrite it`,
    );
  }
  if (!opts.dryRun) assertWritableFolder(opts.output);
  const signer = currentSigner(ctx);
  const dryRun = Boolean(opts.dryRun);
  const service = await import("../../service/reissue.js");
  const { list, skipped, candidates } = opts.fromLog
    ? await service.reissueFromLog(opts.fromLog, signer, ctx.now(), {
        dryRun,
        onProblem: (line, reason) =>
          ctx.stderr.write(
            `dtlicense: warning: ${opts.fromLog} line ${line}: ${reason}; skipped\n`,
          ),
      })
    : await withService(
        ctx,
        {
          dataDir: opts.dataDir,
          schema: "migrate",
          keys: { signer, ring: new KeyRing([signer.publicKey]) },
        },
        (s) => service.reissueFromDatabase(s, ACTOR, { dryRun }),
      );

  if (opts.dryRun) {
    ctx.stderr.write(
      `dtlicense: dry run: ${candidates.length} active license(s) would be re-issued under key ${signer.kid}; ${skipped} already on it\n`,
    );
    for (const key of candidates) ctx.stdout.write(key + "\n");
    return 0;
  }
  writeFileAtomic(opts.output, service.renderBuyerList(list, format), {
    mode: 0o600,
    overwrite: true,
  });
  ctx.stderr.write(
    `dtlicense: re-issued ${list.length} active license(s) under key ${signer.kid}` +
      (skipped > 0 ? ` (${skipped} already on that key)` : "") +
      `; the list to send to buyers is in ${opts.output}\n`,
  );
  return 0;
}

async function verifyDb(ctx: CliContext, opts: { dataDir?: string; json?: boolean }) {
  const keys = loadKeys(ctx);
  const { verifyStoredBlobs } = await import("../../service/integrity.js");
  const { report, where } = await withService(
    ctx,
    { dataDir: opts.dataDir, schema: "none", keys },
    async (s, opened) => ({ report: await verifyStoredBlobs(s), where: opened.where }),
  );
  const { ok, total, problems } = report;
  if (opts.json) {
    ctx.stdout.write(JSON.stringify(report) + "\n");
  } else {
    for (const p of problems.slice(0, 100)) {
      ctx.stderr.write(`dtlicense: ${p.license_key}: ${p.message} [${p.code}]\n`);
    }
    if (problems.length > 100) ctx.stderr.write(`dtlicense: … and ${problems.length - 100} more\n`);
    const kids = Object.entries(report.by_kid)
      .map(([k, n]) => `${k}: ${n}`)
      .join(", ");
    ctx.stdout.write(
      `${ok ? "ok" : "FAILED"}: ${total - problems.length} of ${total} stored blobs verify under the ring ` +
        `(${report.ring.length} key(s))${kids ? `; by key: ${kids}` : ""} — ${where}\n`,
    );
  }
  return ok ? 0 : 1;
}
