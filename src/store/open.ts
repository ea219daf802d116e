/** Opening the configured database: a PostgreSQL server, or PGlite in the data folder. */
import { LicenseError } from "../core/errors.js";
import type { Database } from "./db.js";

/** Where the data lives; built from the server config (src/config/server.ts). */
export type DatabaseTarget =
  | {
      readonly kind: "postgres";
      readonly url: string;
      readonly password?: string;
      readonly max?: number;
      readonly connectTimeoutMs?: number;
      readonly queryTimeoutMs?: number;
    }
  | { readonly kind: "pglite"; readonly dir: string | undefined };

/**
 * Opens the database; the drivers are loaded here, on demand, so commands
 * that never touch a database never load them.
 */
export async function openDatabase(
  target: DatabaseTarget,
  onError?: (err: Error) => void,
): Promise<Database> {
  if (target.kind === "postgres") {
    const { openPostgres } = await import("./pg.js");
    const db = openPostgres({
      url: target.url,
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.max !== undefined ? { max: target.max } : {}),
      ...(target.connectTimeoutMs !== undefined
        ? { connectTimeoutMs: target.connectTimeoutMs }
        : {}),
      ...(target.queryTimeoutMs !== undefined ? { queryTimeoutMs: target.queryTimeoutMs } : {}),
      ...(onError ? { onError } : {}),
    });
    // Connect now, so a wrong URL, password or database is one clear line at start-up.
    try {
      await db.query("SELECT 1");
    } catch (err) {
      await db.close().catch(() => undefined);
      // The driver's own words (e.g. a refused password) say best what to fix.
      const e = err as Error;
      const why = e.cause instanceof Error ? e.cause.message : e.message;
      throw new LicenseError(
        "DATABASE_UNAVAILABLE",
        `cannot use the database at ${redactUrl(target.url)}: ${why}`,
        { cause: err },
      );
    }
    return db;
  }
  const { openPglite } = await import("./pglite.js");
  return openPglite(target.dir);
}

/** A URL with its password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable database URL)";
  }
}
