/**
 * Rotating the server's signing key in its secrets folder (docs/SETUP-LICENSE-SERVER.md,
 * "Key rotation"): a new key is made, its public key put in the ring (newest
 * first) and, unless only staged, signing switched to it. Every step is one
 * atomic file write in an order that is safe to interrupt anywhere, under the
 * folder's rotation lock; running it again after a crash finishes the job.
 */
import { chownSync, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { LicenseError } from "../core/errors.js";
import {
  DEV_KID,
  generateKeypair,
  importSigner,
  parseHexKey,
  type PublicKey,
  type Signer,
} from "../core/keys.js";
import { formatTime } from "../core/license.js";
import { ensurePrivateDir, fsyncDir, pathTaken, writeFileAtomic } from "../config/fs-safe.js";
import { parsePublicKeyList, readPublicKeyFile } from "../config/keys.js";
import { readSecretFile } from "../config/secret-file.js";

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

/** What a rotation did. */
export interface RotateResult {
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
/**
 * Rotates (or, with `stage`, only stages) the signing key in `dir`, under the
 * folder's rotation lock. Run as root, the new files go to the folder's owner
 * (the user the server runs as).
 *
 * @example
 * ```ts
 * const result = await rotateKeys("/srv/datatools-license/secrets", new Date());
 * console.log(`DATATOOLS_LICENSE_PUBKEY=${result.embed}`);
 * ```
 */
export async function rotateKeys(
  dir: string,
  now: Date,
  options: { stage?: boolean } = {},
): Promise<RotateResult> {
  ensurePrivateDir(dir);
  const release = await lockSecrets(dir);
  try {
    const result = rotateLocked(dir, now, Boolean(options.stage));
    giveToFolderOwner(dir, result.files);
    return result;
  } finally {
    await release();
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
