/**
 * The admin console's sessions. The cookie holds a random session id; only its
 * SHA-256 is stored (like admin tokens), with the token that signed in, the
 * session's CSRF secret and its times. A session is live while it is not
 * ended, not past its absolute expiry, not idle too long, and its token is not
 * revoked: the lookup joins the token, so a revocation ends every session of
 * the token on every process at once.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Queryable } from "./db.js";

/** A new random session id (32 bytes, base64url). */
export function generateSessionId(): string {
  return randomBytes(32).toString("base64url");
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function hashSessionId(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("hex");
}

/** A live session as a request sees it. */
export interface LiveSession {
  readonly id: number;
  readonly tokenId: number;
  readonly tokenName: string;
  readonly csrf: string;
  readonly lastSeenAt: Date;
}

/** A session as listed (never its id or CSRF secret). */
export interface SessionRow {
  readonly id: number;
  readonly token_id: number;
  readonly token_name: string;
  readonly created_at: string;
  readonly last_seen_at: string;
  readonly expires_at: string;
  readonly ended_at: string | null;
  readonly ended_reason: string | null;
  readonly token_revoked: boolean;
}

type Row = Record<string, unknown>;
const toDate = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
const isoOrNull = (v: unknown) => (v === null || v === undefined ? null : toDate(v).toISOString());

/** Stores a new session for `tokenId`; returns the session id for the cookie. */
export async function insertSession(
  q: Queryable,
  tokenId: number,
  now: Date,
  expiresAt: Date,
): Promise<{ sessionId: string; csrf: string }> {
  const sessionId = generateSessionId();
  const csrf = randomBytes(32).toString("base64url");
  await q.query(
    `INSERT INTO admin_sessions (hash, token_id, csrf, created_at, last_seen_at, expires_at)
     VALUES ($1, $2, $3, $4, $4, $5)`,
    [hashSessionId(sessionId), tokenId, csrf, now.toISOString(), expiresAt.toISOString()],
  );
  return { sessionId, csrf };
}

/**
 * The live session with this id, or undefined. A session found idle for more
 * than `idleMs` or past its expiry is ended here (and not returned).
 */
export async function findLiveSession(
  q: Queryable,
  sessionId: string,
  now: Date,
  idleMs: number,
): Promise<LiveSession | undefined> {
  if (!SESSION_ID.test(sessionId)) return undefined;
  const hash = hashSessionId(sessionId);
  const { rows } = await q.query<Row>(
    `SELECT s.id, s.hash, s.token_id, t.name, s.csrf, s.last_seen_at, s.expires_at
     FROM admin_sessions s JOIN admin_tokens t ON t.id = s.token_id
     WHERE s.hash = $1 AND s.ended_at IS NULL AND t.revoked_at IS NULL`,
    [hash],
  );
  const r = rows[0];
  if (!r) return undefined;
  if (!timingSafeEqual(Buffer.from(String(r.hash), "hex"), Buffer.from(hash, "hex"))) {
    return undefined;
  }
  const lastSeenAt = toDate(r.last_seen_at);
  const expired = toDate(r.expires_at).getTime() <= now.getTime();
  const idle = now.getTime() - lastSeenAt.getTime() > idleMs;
  if (expired || idle) {
    await endSession(q, Number(r.id), now, expired ? "expired" : "idle");
    return undefined;
  }
  return {
    id: Number(r.id),
    tokenId: Number(r.token_id),
    tokenName: String(r.name),
    csrf: String(r.csrf),
    lastSeenAt,
  };
}

/** Records that a session was used now. */
export async function touchSession(q: Queryable, id: number, now: Date): Promise<void> {
  await q.query("UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1", [
    id,
    now.toISOString(),
  ]);
}

/** Ends one session (sign-out, expiry); a session already ended stays as it was. */
export async function endSession(
  q: Queryable,
  id: number,
  now: Date,
  reason: string,
): Promise<void> {
  await q.query(
    "UPDATE admin_sessions SET ended_at = $2, ended_reason = $3 WHERE id = $1 AND ended_at IS NULL",
    [id, now.toISOString(), reason],
  );
}

/** Ends every open session of a token (its revocation); returns how many. */
export async function endTokenSessions(
  q: Queryable,
  tokenId: number,
  now: Date,
  reason: string,
): Promise<number> {
  const { rows } = await q.query<Row>(
    `UPDATE admin_sessions SET ended_at = $2, ended_reason = $3
     WHERE token_id = $1 AND ended_at IS NULL RETURNING id`,
    [tokenId, now.toISOString(), reason],
  );
  return rows.length;
}

/** The most recent sessions, newest first. */
export async function listSessions(q: Queryable, limit: number): Promise<SessionRow[]> {
  const { rows } = await q.query<Row>(
    `SELECT s.id, s.token_id, t.name, s.created_at, s.last_seen_at, s.expires_at, s.ended_at,
       s.ended_reason, t.revoked_at IS NOT NULL AS token_revoked
     FROM admin_sessions s JOIN admin_tokens t ON t.id = s.token_id
     ORDER BY s.id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    token_id: Number(r.token_id),
    token_name: String(r.name),
    created_at: toDate(r.created_at).toISOString(),
    last_seen_at: toDate(r.last_seen_at).toISOString(),
    expires_at: toDate(r.expires_at).toISOString(),
    ended_at: isoOrNull(r.ended_at),
    ended_reason: r.ended_reason === null ? null : String(r.ended_reason),
    token_revoked: r.token_revoked === true,
  }));
}
