/**
 * The admin console's sessions: signing in with an admin token starts one,
 * each request checks it (idle and absolute expiry, the token still live),
 * signing out or revoking the token ends it. The HTTP layer keeps the cookie;
 * this keeps the rules.
 */
import {
  endSession,
  findLiveSession,
  insertSession,
  listSessions as listStored,
  touchSession,
  type LiveSession,
  type SessionRow,
} from "../store/admin-sessions.js";
import type { ServiceContext } from "./context.js";
import { authenticateAdmin } from "./tokens.js";

export type { LiveSession, SessionRow } from "../store/admin-sessions.js";

/** How long a session lives without a request, and at most. */
export interface SessionLimits {
  readonly idleMs: number;
  readonly absoluteMs: number;
}

/** 30 minutes idle, 12 hours at most. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleMs: 30 * 60_000,
  absoluteMs: 12 * 3_600_000,
};

// last_seen_at is written at most this often per session, so page views stay cheap.
const TOUCH_EVERY_MS = 15_000;

/** A session just started: the id for the cookie, and who it is. */
export interface StartedSession {
  readonly sessionId: string;
  readonly tokenName: string;
  readonly expiresAt: Date;
}

/**
 * Starts a session for a presented admin token; AUTH_INVALID when the token
 * is not a live one.
 *
 * @example
 * ```ts
 * const { sessionId } = await signIn(ctx, presentedToken);
 * ```
 */
export async function signIn(
  ctx: ServiceContext,
  presented: string,
  limits: SessionLimits = DEFAULT_SESSION_LIMITS,
): Promise<StartedSession> {
  const token = await authenticateAdmin(ctx, presented.trim());
  const now = ctx.now();
  const expiresAt = new Date(now.getTime() + limits.absoluteMs);
  const { sessionId } = await insertSession(ctx.db, token.id, now, expiresAt);
  return { sessionId, tokenName: token.name, expiresAt };
}

/** The live session a cookie names, or undefined (unknown, ended, expired, idle, token revoked). */
export async function currentSession(
  ctx: ServiceContext,
  sessionId: string,
  limits: SessionLimits = DEFAULT_SESSION_LIMITS,
): Promise<LiveSession | undefined> {
  const now = ctx.now();
  const found = await findLiveSession(ctx.db, sessionId, now, limits.idleMs);
  if (found && now.getTime() - found.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    await touchSession(ctx.db, found.id, now);
  }
  return found;
}

/** Ends a session (sign-out). */
export function signOut(ctx: ServiceContext, session: LiveSession): Promise<void> {
  return endSession(ctx.db, session.id, ctx.now(), "signed out");
}

/** The most recent sessions, newest first. */
export function listSessions(ctx: ServiceContext, limit = 50): Promise<SessionRow[]> {
  return listStored(ctx.db, limit);
}
