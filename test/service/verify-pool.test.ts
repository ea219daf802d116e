// The import's worker threads answer exactly as verification in the main thread does, in
// the order of the blobs, including for a blob pasted with line breaks (its compact text
// is what gets stored) and for every kind of bad blob. Runs the built workers in dist/.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { DEV_PRIVATE_KEY_HEX, KeyRing, importSigner } from "../../src/core/keys.js";
import { mintLicense } from "../../src/core/mint.js";
import { verifyInThread } from "../../src/service/imports.js";
import type { VerifyPool } from "../../src/service/verify-pool.js";

const DIST = resolve(import.meta.dirname, "../../dist/service/verify-pool.js");
const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const ring = new KeyRing([signer.publicKey]);
const NOW = new Date("2026-05-13T22:10:27Z");

function blob(i: number, by = signer): string {
  return mintLicense({ name: `Buyer ${i}`, email: `b${i}@example.com`, tier: "core" }, by, NOW)
    .blob;
}

describe("the import's verify pool", () => {
  let pool: VerifyPool;
  beforeAll(async () => {
    const { createVerifyPool } = (await import(pathToFileURL(DIST).href)) as {
      createVerifyPool: (ring: KeyRing, size?: number) => VerifyPool;
    };
    pool = createVerifyPool(ring, 2);
  });
  afterAll(async () => {
    await pool?.close();
  });

  it("answers each blob as the main thread does, in order, with the compact text of a wrapped one", async () => {
    const good = Array.from({ length: 5 }, (_, i) => blob(i));
    const wrapped = `  ${good[1]!.slice(0, 40)}\n  ${good[1]!.slice(40)}\n`;
    const flipped = good[2]!.slice(0, -4) + (good[2]!.endsWith("AAAA") ? "BBBB" : "AAAA");
    const blobs = [
      good[0]!,
      wrapped,
      flipped,
      "not a blob",
      blob(9, importSigner(randomBytes(32))),
      good[3]!,
      "DTLIC2:@@@.@@@",
      good[4]!,
    ];
    const outcomes = await pool.verify(blobs);
    expect(outcomes).toEqual(verifyInThread(ring, blobs));
    expect(outcomes.map((o) => (o.ok ? "ok" : o.code))).toEqual([
      "ok",
      "ok",
      expect.stringMatching(/SIGNATURE_INVALID|BLOB_ENCODING/),
      "BLOB_PREFIX_UNKNOWN",
      "KEY_UNKNOWN",
      "ok",
      "BLOB_ENCODING",
      "ok",
    ]);
    expect(outcomes[1]).toMatchObject({ ok: true, blob: good[1] });
    expect(outcomes[0]).toMatchObject({ ok: true, blob: good[0] });
  });
});
