/**
 * Idempotency keys for POST requests: the first request with a key stores its
 * response; a retry with the same key and the same request gets that response
 * back; the same key with a different request is refused. The key row is
 * inserted inside the request's transaction, so a concurrent duplicate blocks
 * on the unique index until the first commits (or rolls back, freeing the key).
 */
import { createHash } from "node:crypto";
import { LicenseError } from "../core/errors.js";
import type { Queryable } from "./db.js";

/** A stored response. */
export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
}

/** The hash that says whether two requests are "the same": method, path and body. */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash("sha256")
    .update(`${method} ${path}\n${JSON.stringify(body ?? null)}`)
    .digest("hex");
}

/**
 * Claims `key` for a request in transaction `tx`. Returns undefined when this
 * request is the first (the caller does the work, then {@link completeKey});
 * the stored response when it is a retry; throws IDEMPOTENCY_KEY_REUSED when
 * the key was used for a different request.
 */
export async function claimKey(
  tx: Queryable,
  key: string,
  hash: string,
  now: Date,
): Promise<StoredResponse | undefined> {
  const claimed = await tx.query(
    `INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO NOTHING RETURNING key`,
    [key, hash, now.toISOString()],
  );
  if (claimed.rows.length === 1) return undefined;
  const { rows } = await tx.query<{ request_hash: string; status: number; response: string }>(
    "SELECT request_hash, status, response FROM idempotency_keys WHERE key = $1",
    [key],
  );
  const row = rows[0];
  if (!row || row.request_hash !== hash) {
    throw new LicenseError(
      "IDEMPOTENCY_KEY_REUSED",
      "this Idempotency-Key was already used for a different request; use a new key for a new request",
    );
  }
  // Stored as text, not jsonb, so a replay is byte-for-byte the first response.
  return { status: Number(row.status), body: JSON.parse(row.response) as unknown };
}

/** Stores the response of the request that claimed `key`. */
export async function completeKey(tx: Queryable, key: string, res: StoredResponse): Promise<void> {
  await tx.query("UPDATE idempotency_keys SET status = $2, response = $3 WHERE key = $1", [
    key,
    res.status,
    JSON.stringify(res.body),
  ]);
}
