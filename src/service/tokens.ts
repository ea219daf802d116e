/**
 * Admin tokens: created (shown once), listed, revoked and checked, the same
 * way for the API, the command line and the server's first start. Only the
 * SHA-256 of a token is stored.
 */
import { join } from "node:path";
import { LicenseError } from "../core/errors.js";
import { ADMIN_TOKEN_FILE } from "../config/data-dir.js";
import { ensurePrivateDir, writeFileAtomic } from "../config/fs-safe.js";
import {
  generateToken,
  insertToken,
  listTokens as listStored,
  lockTokenBootstrap,
  revokeToken as revokeStored,
  tokenCount,
  touchToken,
  type AdminToken,
  type AuthenticatedToken,
} from "../store/tokens.js";
import { endTokenSessions } from "../store/admin-sessions.js";
import type { ServiceContext } from "./context.js";

export type { AdminToken, AuthenticatedToken } from "../store/tokens.js";
export { generateToken } from "../store/tokens.js";

/** A token just created: the record and the token itself, which is shown this once. */
export interface CreatedToken extends AdminToken {
  readonly token: string;
}

/**
 * Creates a named admin token. A live token of the same name is refused
 * (REQUEST_INVALID): names identify tokens in the audit trail.
 *
 * @example
 * ```ts
 * const { token } = await createToken(ctx, "ops laptop", "cli");
 * ```
 */
export async function createToken(
  ctx: ServiceContext,
  name: string,
  createdBy: string,
): Promise<CreatedToken> {
  const token = generateToken();
  const record = await insertToken(ctx.db, name, token, createdBy, ctx.now());
  return { ...record, token };
}

/** Every token, live and revoked, oldest first (never the tokens themselves). */
export function listTokens(ctx: ServiceContext): Promise<AdminToken[]> {
  return listStored(ctx.db);
}

/**
 * Revokes the live token with this id or name, ending its console sessions;
 * NOT_FOUND when there is none.
 */
export function revokeToken(ctx: ServiceContext, idOrName: string): Promise<AdminToken> {
  return ctx.db.transaction(async (tx) => {
    const now = ctx.now();
    const revoked = await revokeStored(tx, idOrName, now);
    await endTokenSessions(tx, revoked.id, now, "token revoked");
    return revoked;
  });
}

// last_used_at is written at most this often per token, so reads stay reads
// (docs/LICENSE-SERVER.md: it is accurate to the minute).
const TOUCH_EVERY_MS = 60_000;
// Tokens whose last_used_at this process is writing now: concurrent requests
// that all read the old value write it once, not once each.
const touching = new WeakMap<ServiceContext, Set<number>>();

/**
 * The live token a presented bearer token is, or AUTH_INVALID; records its use
 * (at most once a minute per token, never failing the request).
 */
export async function authenticateAdmin(
  ctx: ServiceContext,
  presented: string,
  onTouchError: (err: unknown) => void = () => undefined,
): Promise<AuthenticatedToken> {
  const found = await ctx.hot.authenticate(presented);
  if (!found) {
    throw new LicenseError(
      "AUTH_INVALID",
      "the admin token is not valid (unknown, malformed or revoked)",
    );
  }
  const now = ctx.now();
  const stale = !found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() >= TOUCH_EVERY_MS;
  let mine = touching.get(ctx);
  if (!mine) touching.set(ctx, (mine = new Set()));
  if (stale && !mine.has(found.id)) {
    const set = mine;
    set.add(found.id);
    touchToken(ctx.db, found.id, now)
      .catch(onTouchError)
      .finally(() => set.delete(found.id));
  }
  return found;
}

/**
 * Creates the first admin token when the database has none: `seed` (from
 * DATATOOLS_ADMIN_TOKEN_FILE), or a new one written to `<dataDir>/admin-token`
 * (mode 600) before the commit, so no token is stored that nobody can read.
 */
export async function ensureInitialToken(
  ctx: ServiceContext,
  seed: string | undefined,
  dataDir: string,
): Promise<{ created: boolean; file: string | undefined }> {
  return ctx.db.transaction(async (tx) => {
    await lockTokenBootstrap(tx);
    if ((await tokenCount(tx)) > 0) return { created: false, file: undefined };
    const token = seed ?? generateToken();
    await insertToken(tx, "initial", token, "server", ctx.now());
    if (seed !== undefined) return { created: true, file: undefined };
    ensurePrivateDir(dataDir);
    const file = join(dataDir, ADMIN_TOKEN_FILE);
    writeFileAtomic(file, `${token}\n`, { mode: 0o600 });
    return { created: true, file };
  });
}
