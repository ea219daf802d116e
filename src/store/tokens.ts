/**
 * Admin tokens: `dtl_admin_` + 43 base64url characters (32 random bytes).
 * Only the SHA-256 of a token is stored — enough for a high-entropy random
 * secret, and a leaked table gives no usable token. A token is looked up by
 * its hash and the hashes are compared again in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { LicenseError } from "../core/errors.js";
import { Batcher } from "./batch.js";
import type { Queryable } from "./db.js";
import { UNIQUE_VIOLATION, sqlState } from "./db.js";

export const TOKEN_PREFIX = "dtl_admin_";
const TOKEN_PATTERN = /^dtl_admin_[A-Za-z0-9_-]{43}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;

/** A new random admin token. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** True when `text` has the shape of an admin token. */
export function isTokenShaped(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** The stored form of a token: lower-case hex SHA-256. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Checks a token name: 1-64 of letters, digits, space and `._@-`. */
export function validateTokenName(name: string): string {
  const n = name.trim();
  if (!NAME_PATTERN.test(n)) {
    throw new LicenseError(
      "REQUEST_INVALID",
      `token name "${n.slice(0, 70)}" must be 1-64 letters, digits, spaces or . _ @ -, starting with a letter or digit`,
    );
  }
  return n;
}

/** A token as listed (never the token itself). */
export interface AdminToken {
  readonly id: number;
  readonly name: string;
  readonly created_by: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
}

type Row = Record<string, unknown>;
const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown) => (v === null || v === undefined ? null : iso(v));

function toToken(r: Row): AdminToken {
  return {
    id: Number(r.id),
    name: String(r.name),
    created_by: String(r.created_by),
    created_at: iso(r.created_at),
    last_used_at: isoOrNull(r.last_used_at),
    revoked_at: isoOrNull(r.revoked_at),
  };
}

const TOKEN_COLUMNS = "id, name, created_by, created_at, last_used_at, revoked_at";

/**
 * Stores a token's hash under a name; a live token of the same name is
 * refused with REQUEST_INVALID (names identify tokens in the audit trail).
 */
export async function insertToken(
  q: Queryable,
  name: string,
  token: string,
  createdBy: string,
  now: Date,
): Promise<AdminToken> {
  try {
    const { rows } = await q.query<Row>(
      `INSERT INTO admin_tokens (name, hash, created_by, created_at) VALUES ($1, $2, $3, $4)
       RETURNING ${TOKEN_COLUMNS}`,
      [validateTokenName(name), hashToken(token), createdBy, now.toISOString()],
    );
    return toToken(rows[0]!);
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION) {
      throw new LicenseError(
        "REQUEST_INVALID",
        `a live admin token named "${name}" already exists; revoke it or choose another name`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Every token, live and revoked, oldest first. */
export async function listTokens(q: Queryable): Promise<AdminToken[]> {
  const { rows } = await q.query<Row>(`SELECT ${TOKEN_COLUMNS} FROM admin_tokens ORDER BY id`);
  return rows.map(toToken);
}

/** How many tokens exist, live or revoked (0 means the first start). */
export async function tokenCount(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>("SELECT count(*)::int AS n FROM admin_tokens");
  return Number(rows[0]?.n ?? 0);
}

/**
 * Revokes the live token with this id (digits) or name. NOT_FOUND when there
 * is none. Revoking keeps the row, so the audit trail still names it.
 */
export async function revokeToken(q: Queryable, idOrName: string, now: Date): Promise<AdminToken> {
  const byId = /^[0-9]{1,15}$/.test(idOrName);
  const { rows } = await q.query<Row>(
    `UPDATE admin_tokens SET revoked_at = $2
     WHERE ${byId ? "id = $1::bigint" : "name = $1"} AND revoked_at IS NULL
     RETURNING ${TOKEN_COLUMNS}`,
    [idOrName, now.toISOString()],
  );
  if (!rows[0]) {
    throw new LicenseError(
      "NOT_FOUND",
      `no live admin token with ${byId ? "id" : "name"} ${idOrName}`,
    );
  }
  return toToken(rows[0]);
}

/** A live token as authentication sees it. */
export interface AuthenticatedToken {
  readonly id: number;
  readonly name: string;
  readonly lastUsedAt: Date | null;
}

type TokenRow = { id: unknown; name: unknown; hash: unknown; last_used_at: unknown };

// The index lookup already matched; this compare keeps the decision itself constant-time.
function admit(r: TokenRow | undefined, hash: string): AuthenticatedToken | undefined {
  if (!r) return undefined;
  if (!timingSafeEqual(Buffer.from(String(r.hash), "hex"), Buffer.from(hash, "hex"))) {
    return undefined;
  }
  const last = r.last_used_at;
  return {
    id: Number(r.id),
    name: String(r.name),
    lastUsedAt: last === null || last === undefined ? null : new Date(iso(last)),
  };
}

/** The live token a presented bearer token matches, or undefined. */
export async function authenticateToken(
  q: Queryable,
  presented: string,
): Promise<AuthenticatedToken | undefined> {
  if (!isTokenShaped(presented)) return undefined;
  const hash = hashToken(presented);
  const { rows } = await q.query<TokenRow>(
    "SELECT id, name, hash, last_used_at FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL",
    [hash],
    "authenticate_token",
  );
  return admit(rows[0], hash);
}

/**
 * {@link authenticateToken} for a server: concurrent requests' lookups share
 * one query (see batch.ts). No token is cached, so a revocation applies to
 * every request that arrives after it commits, on every process.
 */
export function tokenAuthenticator(
  q: Queryable,
): (presented: string) => Promise<AuthenticatedToken | undefined> {
  const rows = new Batcher<string, TokenRow>(async (hashes) => {
    const { rows } = await q.query<TokenRow>(
      `SELECT id, name, hash, last_used_at FROM admin_tokens
       WHERE hash = ANY($1::text[]) AND revoked_at IS NULL`,
      [hashes],
      "authenticate_tokens",
    );
    return new Map(rows.map((r) => [String(r.hash), r]));
  });
  return async (presented) => {
    if (!isTokenShaped(presented)) return undefined;
    const hash = hashToken(presented);
    return admit(await rows.get(hash), hash);
  };
}

/** Records that a token was used (callers throttle this to keep reads cheap). */
export async function touchToken(q: Queryable, id: number, now: Date): Promise<void> {
  await q.query("UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1", [id, now.toISOString()]);
}

// An arbitrary constant naming "datatools-license first admin token" among advisory locks.
const BOOTSTRAP_LOCK = "7243012946113906";

/**
 * Serialises the first-start token check across servers sharing one database,
 * until the caller's transaction ends.
 */
export async function lockTokenBootstrap(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`);
}
