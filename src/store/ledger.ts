/**
 * Reading the audit events' hash chain back (the chain itself is written by
 * licenses.ts, the one place events are inserted, and defined in migration 4):
 * each event with the hash its stored fields give now, the head row, and the
 * issuance-log lines the imports came from, all from one snapshot.
 */
import type { Database, Queryable } from "./db.js";

/** The `prev` of the first event of an empty ledger: 64 zeros. */
export const EVENT_GENESIS = "0".repeat(64);

/** One event as the chain sees it. */
export interface ChainRow {
  readonly id: number;
  readonly license_key: string;
  readonly action: string;
  /** The stored link to the event before; null for an event written before the chain. */
  readonly prev: string | null;
  /** The stored hash; null for an event written before the chain. */
  readonly hash: string | null;
  /** The hash its stored fields give now, after its stored prev (after 64 zeros when it has none). */
  readonly computed: string;
}

type Raw = Record<string, unknown>;
const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : String(v);

/**
 * Calls `onPage` with the events in id order, `pageSize` at a time, with the
 * hash each one's fields give now (computed by the database, from the row).
 */
export async function scanEventChain(
  q: Queryable,
  onPage: (rows: ChainRow[]) => void,
  pageSize = 5000,
): Promise<void> {
  let after = 0;
  for (;;) {
    const { rows } = await q.query<Raw>(
      `SELECT id, license_key, action, prev, hash,
         ledger_link(coalesce(prev, '${EVENT_GENESIS}'), ledger_event_content(license_key, action,
           actor, reason, request_id, before, after, at, log_line)) AS computed
       FROM events WHERE id > $1 ORDER BY id LIMIT $2`,
      [after, pageSize],
    );
    if (rows.length === 0) return;
    after = Number(rows[rows.length - 1]!.id);
    onPage(
      rows.map((r) => ({
        id: Number(r.id),
        license_key: String(r.license_key),
        action: String(r.action),
        prev: textOrNull(r.prev),
        hash: textOrNull(r.hash),
        computed: String(r.computed),
      })),
    );
  }
}

/** The head row's hash (the last event's), or undefined when the row is missing. */
export async function eventChainHead(q: Queryable): Promise<string | undefined> {
  const { rows } = await q.query<{ hash: unknown }>("SELECT hash FROM ledger_head");
  return rows[0] ? String(rows[0].hash) : undefined;
}

/** An import event and the issuance-log line it names. */
export interface ImportedLine {
  readonly id: number;
  readonly license_key: string;
  readonly log_line: string;
}

/** Every event that names the issuance-log line it imported, in id order. */
export async function importedLogLines(q: Queryable): Promise<ImportedLine[]> {
  const { rows } = await q.query<Raw>(
    "SELECT id, license_key, log_line FROM events WHERE log_line IS NOT NULL ORDER BY id",
  );
  return rows.map((r) => ({
    id: Number(r.id),
    license_key: String(r.license_key),
    log_line: String(r.log_line),
  }));
}

/**
 * Runs `fn` in a read-only transaction that sees one snapshot throughout
 * (REPEATABLE READ), so a walk over many pages is not confused by events
 * appended meanwhile by a running server.
 */
export function inOneSnapshot<T>(db: Database, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    return fn(tx);
  });
}
