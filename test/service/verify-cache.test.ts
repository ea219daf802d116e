// The verified-signature cache: it saves repeated Ed25519 checks and nothing else — a
// state change is seen at once, a changed blob is verified in full, failures are never
// kept, and it stays within its bounds.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadServerConfig } from "../../src/config/server.js";
import { isLicenseError } from "../../src/core/errors.js";
import { randomBytes } from "node:crypto";
import { DEV_PRIVATE_KEY_HEX, KeyRing, importSigner } from "../../src/core/keys.js";
import { mintLicense } from "../../src/core/mint.js";
import { createServiceContext, type ServiceContext } from "../../src/service/context.js";
import { changeLicenseStatus, issueLicense, verifyLicense } from "../../src/service/licenses.js";
import { VerifiedBlobCache } from "../../src/service/verify-cache.js";
import { backendNames, createTestDatabase, type TestDatabase } from "../store/databases.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const ring = new KeyRing([signer.publicKey]);
const NOW = new Date("2026-05-13T22:10:27Z");
const who = { actor: "test" };

const mint = (i: number, s = signer) =>
  mintLicense({ name: `Buyer ${i}`, email: `b${i}@example.com`, tier: "core" }, s, NOW).blob;

/** The code verifyBlob-like `fn` throws for `text`, or "ok". */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (!isLicenseError(err)) throw err;
    return err.code;
  }
}

/** `blob` with one character of its signature changed. */
function tampered(blob: string): string {
  const i = blob.length - 5;
  return blob.slice(0, i) + (blob[i] === "A" ? "B" : "A") + blob.slice(i + 1);
}

describe("the verified-signature cache", () => {
  it("never answers a changed blob from the cache", () => {
    const cache = new VerifiedBlobCache(ring);
    const blob = mint(1);
    expect(codeOf(() => cache.verify(blob))).toBe("ok");
    expect(codeOf(() => cache.verify(tampered(blob)))).toBe("SIGNATURE_INVALID");
    // The payload changed, signature kept.
    const dot = blob.indexOf(".");
    const other = mint(2);
    const spliced = other.slice(0, other.indexOf(".")) + blob.slice(dot);
    expect(codeOf(() => cache.verify(spliced))).toBe("SIGNATURE_INVALID");
    expect(cache.size).toBe(1);
  });

  it("keeps no failure, so a blob of a key the ring gains later verifies under the new ring", () => {
    const later = importSigner(randomBytes(32));
    const blob = mint(3, later);
    const before = new VerifiedBlobCache(ring);
    for (let i = 0; i < 3; i++) expect(codeOf(() => before.verify(blob))).toBe("KEY_UNKNOWN");
    for (const bad of ["", "DTLIC1:x", "DTLIC2:x.y", tampered(mint(4))]) {
      expect(codeOf(() => before.verify(bad))).not.toBe("ok");
    }
    expect(before.size).toBe(0);
    const after = new VerifiedBlobCache(new KeyRing([signer.publicKey, later.publicKey]));
    expect(codeOf(() => after.verify(blob))).toBe("ok");
  });

  it("answers a blob with whitespace from the entry of the compact blob", () => {
    const cache = new VerifiedBlobCache(ring);
    const blob = mint(5);
    const first = cache.verify(blob);
    expect(cache.verify(`  ${blob.slice(0, 30)}\n${blob.slice(30)} `)).toBe(first);
    expect(cache.size).toBe(1);
  });

  it("holds at most its entries and its bytes, dropping the least recently used", () => {
    const blobs = Array.from({ length: 40 }, (_, i) => mint(100 + i));
    const byEntries = new VerifiedBlobCache(ring, 10);
    for (const b of blobs) {
      byEntries.verify(b);
      expect(byEntries.size).toBeLessThanOrEqual(10);
    }
    // The most recently used stays; a blob used again moves to the back.
    byEntries.verify(blobs[30]!);
    for (const b of blobs.slice(0, 9)) byEntries.verify(b);
    expect(byEntries.size).toBe(10);
    const kept = byEntries.verify(blobs[30]!);
    expect(byEntries.verify(blobs[30]!)).toBe(kept);

    const byBytes = new VerifiedBlobCache(ring, 1000, 8000);
    for (const b of blobs) {
      byBytes.verify(b);
      expect(byBytes.bytes).toBeLessThanOrEqual(8000);
    }
    expect(byBytes.size).toBeGreaterThan(0);
    expect(byBytes.size).toBeLessThan(40);

    const none = new VerifiedBlobCache(ring, 0);
    none.verify(blobs[0]!);
    expect(none.size).toBe(0);
  });
});

describe.each(backendNames())("verify with the cache on %s", (backend) => {
  let t: TestDatabase;
  let ctx: ServiceContext;
  beforeAll(async () => {
    t = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await t?.dispose();
  });
  beforeEach(async () => {
    await t.reset();
    ctx = createServiceContext({ db: t.db, signer, ring, now: () => NOW, batching: true });
  });

  it("reads the license's state fresh on every request: a cached blob reports a revocation at once", async () => {
    const { body } = await issueLicense(
      ctx,
      { name: "Ada", email: "ada@example.com", tier: "core" },
      who,
    );
    const blob = (body as { blob: string }).blob;
    const key = (body as { license_key: string }).license_key;
    expect(await verifyLicense(ctx, blob)).toMatchObject({ genuine: true, code: "VALID" });
    expect(await verifyLicense(ctx, blob)).toMatchObject({ genuine: true, code: "VALID" });
    await changeLicenseStatus(ctx, key, "suspend", "x", who);
    expect(await verifyLicense(ctx, blob)).toMatchObject({ code: "SUSPENDED" });
    await changeLicenseStatus(ctx, key, "reinstate", "x", who);
    expect(await verifyLicense(ctx, blob)).toMatchObject({ code: "VALID" });
    await changeLicenseStatus(ctx, key, "revoke", "refund", who);
    expect(await verifyLicense(ctx, blob)).toMatchObject({ genuine: true, code: "REVOKED" });
    expect(await verifyLicense(ctx, tampered(blob))).toMatchObject({
      genuine: false,
      code: "SIGNATURE_INVALID",
    });
  });
});

describe("DATATOOLS_VERIFY_CACHE_ENTRIES", () => {
  const env = { DATABASE_URL: "postgres://u@127.0.0.1:5432/db" };
  it("sets the cache's entries, 0 turning it off", () => {
    expect(loadServerConfig(env, {}, "/home/nobody").verifyCacheEntries).toBeUndefined();
    for (const n of [0, 500]) {
      const config = loadServerConfig(
        { ...env, DATATOOLS_VERIFY_CACHE_ENTRIES: String(n) },
        {},
        "/home/nobody",
      );
      expect(config.verifyCacheEntries).toBe(n);
    }
  });

  it.each(["-1", "abc", "1.5", "10000001"])(
    "refuses DATATOOLS_VERIFY_CACHE_ENTRIES=%s with CONFIG_INVALID naming the variable",
    (value) => {
      const err = (() => {
        try {
          loadServerConfig({ ...env, DATATOOLS_VERIFY_CACHE_ENTRIES: value }, {}, "/home/nobody");
        } catch (e) {
          return e;
        }
      })();
      expect(isLicenseError(err, "CONFIG_INVALID")).toBe(true);
      expect((err as Error).message).toContain("DATATOOLS_VERIFY_CACHE_ENTRIES");
    },
  );
});
