/**
 * Coalescing of hot point reads: lookups asked for in the same turn of the
 * event loop go to the database as one `= ANY($1)` query. Nothing is cached —
 * every lookup is answered by a query sent after it was asked — so a revoked
 * token or license is seen by the next request, exactly as with one query each.
 */

/** Loads the rows for `keys`; a key with no row is simply absent from the map. */
export type BatchLoad<K, V> = (keys: K[]) => Promise<Map<K, V>>;

interface Waiter<V> {
  readonly ok: (value: V | undefined) => void;
  readonly fail: (err: unknown) => void;
}

/**
 * Collects `get(key)` calls until the event loop's check phase (after the
 * sockets read in this turn have been handled), then runs one load for all of
 * them. At low load a batch is one key and costs one query, as before; at high
 * load one round trip answers many requests.
 *
 * @example
 * ```ts
 * const states = new Batcher((keys) => loadStates(db, keys));
 * const state = await states.get(licenseKey);
 * ```
 */
export class Batcher<K, V> {
  #pending = new Map<K, Waiter<V>[]>();
  #scheduled = false;

  constructor(
    private readonly load: BatchLoad<K, V>,
    /** Most distinct keys in one query; more start another batch at once. */
    private readonly maxKeys = 256,
  ) {}

  get(key: K): Promise<V | undefined> {
    return new Promise<V | undefined>((ok, fail) => {
      let waiters = this.#pending.get(key);
      if (!waiters) {
        waiters = [];
        this.#pending.set(key, waiters);
      }
      waiters.push({ ok, fail });
      if (this.#pending.size >= this.maxKeys) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    const batch = this.#pending;
    if (batch.size === 0) return;
    this.#pending = new Map();
    let loading: Promise<Map<K, V>>;
    try {
      loading = this.load([...batch.keys()]);
    } catch (err) {
      loading = Promise.reject(err);
    }
    loading.then(
      (found) => {
        for (const [key, waiters] of batch) {
          const value = found.get(key);
          for (const w of waiters) w.ok(value);
        }
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.fail(err);
      },
    );
  }
}
