/** A worker thread that verifies blobs for the import, so signature checks use every core. */
import { parentPort, workerData } from "node:worker_threads";
import { isLicenseError } from "../core/errors.js";
import { verifyBlob } from "../core/format.js";
import { KeyRing, importPublicKey } from "../core/keys.js";
import type { WorkerOutcome } from "./verify-pool.js";

const ring = new KeyRing(
  (workerData as { keys: string[] }).keys.map((hex) => importPublicKey(Buffer.from(hex, "hex"))),
);

parentPort!.on("message", ({ id, blobs }: { id: number; blobs: string[] }) => {
  const results: WorkerOutcome[] = blobs.map((text) => {
    try {
      const { blob, payload } = verifyBlob(text, ring);
      // The blob goes back only when normalising changed it: the pool has the text already.
      return blob === text ? { ok: true, payload } : { ok: true, blob, payload };
    } catch (err) {
      if (isLicenseError(err)) return { ok: false, code: err.code, message: err.message };
      return { ok: false, code: "INTERNAL", message: (err as Error).message };
    }
  });
  parentPort!.postMessage({ id, results });
});
