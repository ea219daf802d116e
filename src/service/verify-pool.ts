/**
 * A pool of worker threads that verify blob signatures in parallel, for large
 * imports (Ed25519 verification is most of an import's CPU time).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { KeyRing } from "../core/keys.js";
import type { LicensePayload } from "../core/license.js";
import type { VerifyOutcome } from "./imports.js";

/**
 * A worker's answer for one blob: a verified blob's text comes back only when
 * normalising changed it (rarely: whitespace in the line), since the caller has
 * the text it sent. Each line's blob would otherwise cross between the threads
 * twice, and the copy the main thread received would be garbage for it to collect.
 */
export type WorkerOutcome =
  | Exclude<VerifyOutcome, { ok: true }>
  | { readonly ok: true; readonly blob?: string; readonly payload: LicensePayload };

export interface VerifyPool {
  /** Verifies blobs, results in the same order. */
  verify(blobs: readonly string[]): Promise<VerifyOutcome[]>;
  close(): Promise<void>;
}

/**
 * Starts `size` workers (default: one per core) trusting `ring`'s keys.
 *
 * @example
 * ```ts
 * const pool = createVerifyPool(ring);
 * try { await importRecords(db, records, ring, who, now, { verify: pool.verify }); }
 * finally { await pool.close(); }
 * ```
 */
export function createVerifyPool(ring: KeyRing, size = availableParallelism()): VerifyPool {
  const keys = ring.keys().map((k) => k.hex);
  const workers = Array.from(
    { length: Math.max(1, size) },
    () => new Worker(new URL("./verify-worker.js", import.meta.url), { workerData: { keys } }),
  );
  const waiting = new Map<
    number,
    { done: (r: WorkerOutcome[]) => void; fail: (e: Error) => void }
  >();
  let nextId = 0;
  for (const w of workers) {
    w.on("message", ({ id, results }: { id: number; results: WorkerOutcome[] }) => {
      waiting.get(id)?.done(results);
      waiting.delete(id);
    });
    w.on("error", (err) => {
      for (const p of waiting.values()) p.fail(err);
      waiting.clear();
    });
  }
  const run = (w: Worker, blobs: readonly string[]) =>
    new Promise<WorkerOutcome[]>((done, fail) => {
      const id = nextId++;
      waiting.set(id, { done, fail });
      w.postMessage({ id, blobs });
    });
  return {
    async verify(blobs) {
      const per = Math.ceil(blobs.length / workers.length);
      const parts = await Promise.all(
        workers.map((w, i) => run(w, blobs.slice(i * per, (i + 1) * per))),
      );
      return parts
        .flat()
        .map((r, i) => (r.ok ? { ok: true, blob: r.blob ?? blobs[i]!, payload: r.payload } : r));
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
