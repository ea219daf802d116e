/**
 * `dtlicense keys rotate | reissue | verify-db`: the operator's key commands.
 * rotate makes a new signing key in the secrets folder and puts its public
 * key in the ring; reissue re-signs every active license under the current
 * key (the key-loss recovery of ADMIN.md); verify-db checks every stored blob
 * against the ring (run by deploy/scripts/restore.sh after a restore).
 */
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { LicenseError } from "../core/errors.js";
import { b64uDecode, BLOB_PREFIX, encodeBlob, verifyBlob } from "../core/format.js";
import {
  DEV_KID,
  generateKeypair,
  importSigner,
  parseHexKey,
  type PublicKey,
  type Signer,
} from "../core/keys.js";
import { formatTime, generateLicenseKey, type LicensePayload } from "../core/license.js";
import { isTier } from "../core/catalogue.js";
import { ensurePrivateDir, fsyncDir, pathTaken, writeFileAtomic } from "../config/fs-safe.js";
import {
  parsePublicKeyList,
  PRIVKEY_VAR,
  PUBKEY_VAR,
  readPublicKeyFile,
  resolveKeys,
} from "../config/keys.js";
import { readSecretFile } from "../config/secret-file.js";
import type { CliContext } from "./context.js";
import { loadKeys } from "./keys.js";
import { openDeploymentDatabase } from "./ops-env.js";
import type { Wrap } from "./program.js";

/** File names in the secrets folder (docs/SETUP-LICENSE-SERVER.md, "Secrets"). */
export const SECRET_FILES = {
  signingKey: "license-signing-key",
  ring: "license-public-keys",
  next: "license-signing-key.next",
  retiredPrefix: "license-signing-key.retired-",
} as const;

/** The rotation lock, a folder proper-lockfile makes inside the secrets folder. */
export const ROTATE_LOCK = ".rotate.lock";

export const DEFAULT_SECRETS_DIR = "/srv/datatools-license/secrets";

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

// ---------------------------------------------------------------------------
// rotate

interface RotateResult {
  readonly kid: string;
  readonly previous_kid: string | null;
  readonly staged: boolean;
  readonly ring: { kid: string; public_key: string }[];
  /** What the next app build embeds as DATATOOLS_LICENSE_PUBKEY. */
  readonly embed: string;
  readonly files: string[];
}

function readSigner(path: string): Signer {
  return importSigner(parseHexKey(readSecretFile(path, path), path));
}

function ringText(keys: readonly PublicKey[], currentKid: string, now: Date): string {
  const lines = keys.map(
    (k) =>
      `${k.hex} # kid ${k.kid}${k.kid === currentKid ? ` (signing since ${formatTime(now)})` : ""}`,
  );
  return (
    "# Trusted license public keys, newest first (dtlicense keys rotate). Apps embed them all.\n" +
    lines.join("\n") +
    "\n"
  );
}

function dedupe(keys: readonly PublicKey[]): PublicKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => (seen.has(k.kid) ? false : (seen.add(k.kid), true)));
}

/** Takes the secrets folder's rotation lock, so two rotations cannot interleave their writes. */
async function lockSecrets(dir: string): Promise<() => Promise<void>> {
  const { lock } = await import("proper-lockfile");
  try {
    return await lock(dir, {
      lockfilePath: join(dir, ROTATE_LOCK),
      realpath: false,
      stale: 60_000,
    });
  } catch (err) {
    throw new LicenseError(
      "SECRETS_LOCKED",
      `another 'dtlicense keys rotate' holds ${join(dir, ROTATE_LOCK)}; wait for it, or remove that folder if no rotation is running`,
      { cause: err },
    );
  }
}

/**
 * Run as root (on the host, outside the container), the new files would belong
 * to root and the server's user could not read them at its next start: they
 * go to the secrets folder's owner, who is that user.
 */
function giveToFolderOwner(dir: string, files: readonly string[]): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(dir);
  for (const f of files) if (existsSync(f)) chownSync(f, uid, gid);
}

/**
 * Rotation writes in an order that is safe to interrupt anywhere, every step
 * one atomic file write: (1) the next private key to `.next`, which the server
 * never reads; (2) the ring, now trusting current and next; (3) a retired copy
 * of the current key; (4) the switch of the signing key; (5) `.next` removed.
 * Before (4) the server signs with the current key, which the ring holds; after
 * it, with the next key, which the ring also holds. Running rotate again after
 * a crash resumes with the staged key instead of making another.
 */
async function rotate(
  ctx: CliContext,
  opts: { secretsDir: string; stage?: boolean; json?: boolean },
) {
  const dir = opts.secretsDir;
  ensurePrivateDir(dir);
  const release = await lockSecrets(dir);
  let result: RotateResult;
  try {
    result = rotateLocked(dir, ctx.now(), Boolean(opts.stage));
    giveToFolderOwner(dir, result.files);
  } finally {
    await release();
  }
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

function rotateLocked(dir: string, now: Date, stageOnly: boolean): RotateResult {
  const signingPath = join(dir, SECRET_FILES.signingKey);
  const ringPath = join(dir, SECRET_FILES.ring);
  const nextPath = join(dir, SECRET_FILES.next);
  const ring = existsSync(ringPath)
    ? parsePublicKeyList(readPublicKeyFile(ringPath, ringPath), ringPath)
    : [];
  const current = existsSync(signingPath) ? readSigner(signingPath) : undefined;
  if (current?.kid === DEV_KID || ring.some((k) => k.kid === DEV_KID)) {
    throw new LicenseError(
      "DEV_KEY_IN_PRODUCTION",
      `${dir} holds the public development key; remove it from ${SECRET_FILES.ring} and ${SECRET_FILES.signingKey} first`,
    );
  }
  const currentKeys = current ? [current.publicKey] : [];
  let staged = existsSync(nextPath) ? readSigner(nextPath) : undefined;

  if (staged && staged.kid === current?.kid) {
    // An earlier rotation switched to the staged key and stopped before step (5).
    if (stageOnly) {
      throw new LicenseError(
        "FILE_EXISTS",
        `${nextPath} is the current signing key already; run 'dtlicense keys rotate' to finish that rotation`,
      );
    }
    const keys = dedupe([...currentKeys, ...ring]);
    writeFileAtomic(ringPath, ringText(keys, staged.kid, now), { mode: 0o400 });
    rmSync(nextPath, { force: true });
    fsyncDir(dir);
    const previous = keys.find((k) => k.kid !== staged!.kid)?.kid ?? null;
    return summary(staged.kid, previous, false, keys, [ringPath]);
  }
  if (stageOnly && staged) {
    throw new LicenseError(
      "FILE_EXISTS",
      `a next key is already staged in ${nextPath}; run 'dtlicense keys rotate' to switch to it`,
    );
  }

  const files: string[] = [];
  if (!staged) {
    // (1) The new private key is on disk before anything trusts it.
    const pair = generateKeypair();
    writeFileAtomic(nextPath, pair.privateKeyHex + "\n", { mode: 0o400, overwrite: false });
    staged = readSigner(nextPath);
    files.push(nextPath);
  }
  const next = staged;
  if (stageOnly) {
    // (2) only: signing stays on the current key, listed first.
    const keys = dedupe([...currentKeys, ...ring, next.publicKey]);
    writeFileAtomic(ringPath, ringText(keys, current?.kid ?? "", now), { mode: 0o400 });
    files.push(ringPath);
    return summary(next.kid, current?.kid ?? null, true, keys, files);
  }
  // (2) The ring trusts both keys before the switch.
  const keys = dedupe([next.publicKey, ...currentKeys, ...ring]);
  writeFileAtomic(ringPath, ringText(keys, next.kid, now), { mode: 0o400 });
  files.push(ringPath);
  if (current) {
    // (3) The outgoing key, kept until the operator moves it offline.
    const retired = join(dir, SECRET_FILES.retiredPrefix + current.kid);
    if (!pathTaken(retired)) {
      writeFileAtomic(retired, readFileSync(signingPath), { mode: 0o400, overwrite: false });
      files.push(retired);
    }
  }
  // (4) The switch, then (5) the staged copy goes.
  writeFileAtomic(signingPath, readFileSync(nextPath), { mode: 0o400 });
  files.push(signingPath);
  rmSync(nextPath, { force: true });
  fsyncDir(dir);
  return summary(next.kid, current?.kid ?? null, false, keys, files);
}

function summary(
  kid: string,
  previous: string | null,
  staged: boolean,
  keys: readonly PublicKey[],
  files: string[],
): RotateResult {
  return {
    kid,
    previous_kid: previous,
    staged,
    ring: keys.map((k) => ({ kid: k.kid, public_key: k.hex })),
    embed: keys.map((k) => k.hex).join(","),
    files,
  };
}

// ---------------------------------------------------------------------------
// reissue

interface ReissueOptions {
  fromDb?: boolean;
  fromLog?: string;
  output: string;
  format?: string;
  force?: boolean;
  dryRun?: boolean;
  dataDir?: string;
}

/** One line of the list sent to buyers. */
export interface ReissuedLicense {
  email: string;
  name: string;
  tier: string;
  expires_at: string;
  old_license_key: string;
  license_key: string;
  kid: string;
  blob: string;
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

/** The payload a re-issued license carries: same buyer, tier and expiry, the current key. */
function reissuedPayload(
  old: { name: string; email: string; tier: string; expires_at: string },
  licenseKey: string,
  signer: Signer,
  now: Date,
): LicensePayload {
  if (!isTier(old.tier)) throw new LicenseError("TIER_UNKNOWN", `unknown tier ${old.tier}`);
  return {
    v: 2,
    kid: signer.kid,
    license_key: licenseKey,
    name: old.name,
    email: old.email,
    tier: old.tier,
    issued_at: formatTime(now),
    expires_at: old.expires_at,
  };
}

/** The kid a blob names, read without verifying (the old key may be gone). */
function blobKid(blob: string): string | undefined {
  try {
    const text = blob.replace(/\s+/g, "");
    if (!text.startsWith(BLOB_PREFIX)) return undefined;
    const payload = text.slice(BLOB_PREFIX.length, text.indexOf("."));
    const parsed = JSON.parse(b64uDecode(payload, "payload").toString("utf8")) as { kid?: unknown };
    return typeof parsed.kid === "string" ? parsed.kid : undefined;
  } catch {
    return undefined;
  }
}

function outputFormat(opts: ReissueOptions): "csv" | "json" {
  const f = opts.format ?? (opts.output.toLowerCase().endsWith(".json") ? "json" : "csv");
  if (f !== "csv" && f !== "json") {
    throw new LicenseError("USAGE", `--format must be csv or json, not "${f.slice(0, 20)}"`);
  }
  return f;
}

// A spreadsheet opening the list treats a cell that starts with one of these as a formula
// (=HYPERLINK(…) in a buyer's name would run when the list is opened). As OWASP advises, such a
// field gets a leading ', which makes it text; the blob, key and kid columns never start so.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field: quoted, and neutralised when a spreadsheet would read it as a formula. */
function csvField(value: string): string {
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return `"${text.replace(/"/g, '""')}"`;
}

/**
 * The buyer list as CSV (header first, CRLF rows, every field quoted, a field that starts with
 * = + - @ tab or CR prefixed with ' so no spreadsheet runs it) or JSON (values as they are).
 */
export function renderReissued(list: readonly ReissuedLicense[], format: "csv" | "json"): string {
  if (format === "json") return JSON.stringify(list, null, 2) + "\n";
  const cols = [
    "email",
    "name",
    "tier",
    "expires_at",
    "old_license_key",
    "license_key",
    "kid",
    "blob",
  ] as const;
  return [cols.join(","), ...list.map((r) => cols.map((c) => csvField(r[c])).join(","))]
    .map((l) => l + "\r\n")
    .join("");
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
  const now = ctx.now();
  const { list, skipped, candidates } = opts.fromLog
    ? await reissueFromLog(ctx, opts.fromLog, signer, now, Boolean(opts.dryRun))
    : await reissueFromDb(ctx, opts.dataDir, signer, now, Boolean(opts.dryRun));

  if (opts.dryRun) {
    ctx.stderr.write(
      `dtlicense: dry run: ${candidates.length} active license(s) would be re-issued under key ${signer.kid}; ${skipped} already on it\n`,
    );
    for (const key of candidates) ctx.stdout.write(key + "\n");
    return 0;
  }
  writeFileAtomic(opts.output, renderReissued(list, format), { mode: 0o600, overwrite: true });
  ctx.stderr.write(
    `dtlicense: re-issued ${list.length} active license(s) under key ${signer.kid}` +
      (skipped > 0 ? ` (${skipped} already on that key)` : "") +
      `; the list to send to buyers is in ${opts.output}\n`,
  );
  return 0;
}

async function reissueFromDb(
  ctx: CliContext,
  dataDir: string | undefined,
  signer: Signer,
  now: Date,
  dryRun: boolean,
): Promise<{ list: ReissuedLicense[]; skipped: number; candidates: string[] }> {
  const { db } = await openDeploymentDatabase(ctx, dataDir, 2);
  try {
    const { assertSchemaCurrent } = await import("../store/migrations.js");
    const { getLicense, insertLicense, markSuperseded } = await import("../store/licenses.js");
    const { UNIQUE_VIOLATION, sqlState } = await import("../store/db.js");
    await assertSchemaCurrent(db);
    const active = `status = 'active' AND superseded_by IS NULL AND expires_at > $1`;
    const { rows } = await db.query<{ license_key: string }>(
      `SELECT license_key FROM licenses WHERE ${active} AND kid <> $2 ORDER BY id`,
      [now.toISOString(), signer.kid],
    );
    const onKey = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM licenses WHERE ${active} AND kid = $2`,
      [now.toISOString(), signer.kid],
    );
    const skipped = Number(onKey.rows[0]?.n ?? 0);
    const candidates = rows.map((r) => r.license_key);
    const list: ReissuedLicense[] = [];
    if (dryRun) return { list, skipped, candidates };
    for (const key of candidates) {
      for (let attempt = 1; ; attempt++) {
        try {
          const done = await db.transaction(async (tx) => {
            const before = await getLicense(tx, key, true);
            // Changed since the list was read (revoked, renewed, re-issued by another run).
            if (!before || before.status !== "active" || before.superseded_by) return undefined;
            const payload = reissuedPayload(before, generateLicenseKey(before.tier), signer, now);
            const blob = encodeBlob(payload, signer);
            const created = await insertLicense(
              tx,
              { ...payload, blob, source: "api", supersedes: key },
              ACTOR,
              now,
              "reissue",
            );
            await markSuperseded(tx, before, created.license_key, ACTOR, now);
            return {
              email: created.email,
              name: created.name,
              tier: created.tier,
              expires_at: created.expires_at,
              old_license_key: key,
              license_key: created.license_key,
              kid: created.kid,
              blob: created.blob,
            };
          });
          if (done) list.push(done);
          break;
        } catch (err) {
          // A generated license key that is taken (1 in 2^64): try another.
          if (sqlState(err) !== UNIQUE_VIOLATION || attempt >= 3) throw err;
        }
      }
    }
    return { list, skipped, candidates };
  } finally {
    await db.close();
  }
}

async function reissueFromLog(
  ctx: CliContext,
  path: string,
  signer: Signer,
  now: Date,
  dryRun: boolean,
): Promise<{ list: ReissuedLicense[]; skipped: number; candidates: string[] }> {
  const { IssuanceLog } = await import("../issuer/log.js");
  const { assertKeyFree } = await import("../issuer/issue.js");
  const log = new IssuanceLog(path);
  if (!log.exists()) throw new LicenseError("LOG_NOT_FOUND", `no issuance log at ${path}`);
  const { records, problems } = log.read();
  for (const p of problems) {
    ctx.stderr.write(`dtlicense: warning: ${path} line ${p.line}: ${p.reason}; skipped\n`);
  }
  // The last line for a license key is its current record (a renewal appends).
  const latest = new Map<string, (typeof records)[number]>();
  for (const r of records) latest.set(r.license_key, r);
  const list: ReissuedLicense[] = [];
  const candidates: string[] = [];
  let skipped = 0;
  for (const r of latest.values()) {
    if (r.expires_at <= formatTime(now)) continue;
    const kid = blobKid(r.blob);
    if (kid === signer.kid) {
      skipped++;
      continue;
    }
    candidates.push(r.license_key);
    if (dryRun) continue;
    const payload = reissuedPayload(r, r.license_key, signer, now);
    const blob = encodeBlob(payload, signer);
    // append() writes only the log's fields (not v and kid).
    await log.append({ ...payload, blob }, (current) => assertKeyFree(current, { ...r, blob }));
    list.push({
      email: r.email,
      name: r.name,
      tier: r.tier,
      expires_at: r.expires_at,
      old_license_key: r.license_key,
      license_key: r.license_key,
      kid: signer.kid,
      blob,
    });
  }
  return { list, skipped, candidates };
}

// ---------------------------------------------------------------------------
// verify-db

interface BlobProblem {
  readonly license_key: string;
  readonly code: string;
  readonly message: string;
}

async function verifyDb(ctx: CliContext, opts: { dataDir?: string; json?: boolean }) {
  const { ring } = loadKeys(ctx);
  const { db, where } = await openDeploymentDatabase(ctx, opts.dataDir, 2);
  const problems: BlobProblem[] = [];
  const byKid: Record<string, number> = {};
  let total = 0;
  try {
    // Every current blob, then every earlier blob of a key (a re-mint under the same key;
    // the table exists from schema version 2).
    const tables = ["licenses"];
    const { rows: found } = await db.query<{ t: string | null }>(
      "SELECT to_regclass('earlier_blobs')::text AS t",
    );
    if (found[0]?.t) tables.push("earlier_blobs");
    for (const table of tables) {
      let after = 0;
      for (;;) {
        const { rows } = await db.query<Record<string, unknown>>(
          `SELECT id, license_key, name, email, tier, issued_at, expires_at, kid, blob
           FROM ${table} WHERE id > $1 ORDER BY id LIMIT 1000`,
          [after],
        );
        if (rows.length === 0) break;
        for (const row of rows) {
          after = Number(row.id);
          total++;
          const key = String(row.license_key);
          const label = table === "licenses" ? key : `${key} (an earlier blob)`;
          try {
            const { payload } = verifyBlob(String(row.blob), ring);
            const stored: Record<string, string> = {
              license_key: key,
              name: String(row.name),
              email: String(row.email),
              tier: String(row.tier),
              kid: String(row.kid),
              issued_at: formatTime(new Date(row.issued_at as string)),
              expires_at: formatTime(new Date(row.expires_at as string)),
            };
            const differs = Object.keys(stored).filter(
              (f) => stored[f] !== (payload as unknown as Record<string, string>)[f],
            );
            if (differs.length > 0) {
              problems.push({
                license_key: label,
                code: "RECORD_MISMATCH",
                message: `the row's ${differs.join(", ")} differ from the blob's signed payload`,
              });
            }
            byKid[payload.kid] = (byKid[payload.kid] ?? 0) + 1;
          } catch (err) {
            if (!(err instanceof LicenseError)) throw err;
            problems.push({ license_key: label, code: err.code, message: err.message });
          }
        }
      }
    }
  } finally {
    await db.close();
  }
  const ok = problems.length === 0;
  if (opts.json) {
    ctx.stdout.write(
      JSON.stringify({ ok, total, by_kid: byKid, ring: ring.keys().map((k) => k.kid), problems }) +
        "\n",
    );
  } else {
    for (const p of problems.slice(0, 100)) {
      ctx.stderr.write(`dtlicense: ${p.license_key}: ${p.message} [${p.code}]\n`);
    }
    if (problems.length > 100) ctx.stderr.write(`dtlicense: … and ${problems.length - 100} more\n`);
    const kids = Object.entries(byKid)
      .map(([k, n]) => `${k}: ${n}`)
      .join(", ");
    ctx.stdout.write(
      `${ok ? "ok" : "FAILED"}: ${total - problems.length} of ${total} stored blobs verify under the ring ` +
        `(${ring.keys().length} key(s))${kids ? `; by key: ${kids}` : ""} — ${where}\n`,
    );
  }
  return ok ? 0 : 1;
}
