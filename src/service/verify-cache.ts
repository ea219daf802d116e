/**
 * A bounded cache of blobs whose signature verified, for the server's verify
 * endpoint: apps check the same blobs again and again, and an Ed25519
 * verification costs far more than a hash. Only successes are kept, so an
 * answer that could change (a key added to the ring later) is never replayed;
 * the cache belongs to one key ring, which never changes. What is cached is
 * only what the signature proves (the blob and its payload); the license's
 * state is read from the database on every request.
 */
import { createHash } from "node:crypto";
import { normalizeBlobText, verifyBlob, type VerifiedLicense } from "../core/format.js";
import type { KeyRing } from "../core/keys.js";

/** Most blobs kept (by default). */
export const DEFAULT_VERIFY_CACHE_ENTRIES = 10_000;
/** Most memory the kept blobs take, estimated, in bytes (by default): 16 MiB. */
export const DEFAULT_VERIFY_CACHE_BYTES = 16 * 1024 * 1024;

// What one entry costs beyond its strings: the map slot, the hash key, the objects.
const ENTRY_OVERHEAD = 400;

function frozen(v: VerifiedLicense): VerifiedLicense {
  return Object.freeze({ blob: v.blob, payload: Object.freeze({ ...v.payload }) });
}

/** Estimated bytes an entry keeps alive (strings as UTF-16). */
function sizeOf(v: VerifiedLicense): number {
  let chars = v.blob.length;
  for (const value of Object.values(v.payload)) chars += String(value).length;
  return ENTRY_OVERHEAD + 2 * chars;
}

/**
 * Verifies blobs like {@link verifyBlob}, remembering the ones that passed
 * (least recently used out first). The key is the SHA-256 of the blob's
 * normalized text, so any changed character is a different key and is
 * verified in full.
 *
 * @example
 * ```ts
 * const cache = new VerifiedBlobCache(ring);
 * const { payload } = cache.verify(text); // throws as verifyBlob does
 * ```
 */
export class VerifiedBlobCache {
  readonly #entries = new Map<string, { verified: VerifiedLicense; bytes: number }>();
  #bytes = 0;

  constructor(
    readonly ring: KeyRing,
    readonly maxEntries = DEFAULT_VERIFY_CACHE_ENTRIES,
    readonly maxBytes = DEFAULT_VERIFY_CACHE_BYTES,
  ) {}

  /** Blobs kept now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Estimated bytes kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  verify(text: string): VerifiedLicense {
    if (this.maxEntries === 0) return verifyBlob(text, this.ring);
    // Throws for text that is not a blob at all, as verifyBlob would.
    const blob = normalizeBlobText(text);
    const key = createHash("sha256").update(blob).digest("base64");
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.verified;
    }
    const verified = frozen(verifyBlob(blob, this.ring));
    const bytes = sizeOf(verified);
    if (bytes <= this.maxBytes) {
      this.#entries.set(key, { verified, bytes });
      this.#bytes += bytes;
      for (const [oldest, entry] of this.#entries) {
        if (this.#entries.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
        this.#entries.delete(oldest);
        this.#bytes -= entry.bytes;
      }
    }
    return verified;
  }
}
