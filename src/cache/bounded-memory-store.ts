import { LocalClaims } from './local-claims.ts';

/**
 * The in-memory store behind Keyv when no REDIS_URL is set: a Map that keeps at most `maxEntries`
 * keys, dropping the least recently used, so a bot that runs for weeks on one machine does not
 * grow without end (conversations are kept for days). Redis has its own eviction policies.
 * It also claims keys ({@link BoundedMemoryStore.claim}) for event de-duplication in one process.
 */
export class BoundedMemoryStore<V = unknown> extends Map<string, V> {
  readonly maxEntries: number;
  /**
   * Approximate bytes the values may take together; the least recently used go first past it.
   * Answers and conversations vary from a few hundred bytes to tens of KB, so a count alone does
   * not bound the memory. @defaultValue Infinity
   */
  readonly maxBytes: number;
  readonly #claims: LocalClaims;
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  constructor(maxEntries: number, options: { maxBytes?: number } = {}) {
    super();
    this.maxEntries = maxEntries;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#claims = new LocalClaims({ maxEntries });
  }

  /** The values' approximate size in bytes (what {@link BoundedMemoryStore.maxBytes} bounds). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * True for the first caller of `key` within `ttlMs`: the check and the set are one synchronous
   * step, so concurrent deliveries of one event are handled once. Only this process sees it.
   */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    return this.#claims.claim(key, ttlMs);
  }

  override get(key: string): V | undefined {
    const value = super.get(key);
    if (value !== undefined) {
      // Recently read entries move to the back of the eviction order.
      super.delete(key);
      super.set(key, value);
    }
    return value;
  }

  override set(key: string, value: V): this {
    this.delete(key);
    super.set(key, value);
    const size = approximateBytes(key, value);
    this.#sizes.set(key, size);
    this.#bytes += size;
    while (this.size > this.maxEntries || (this.#bytes > this.maxBytes && this.size > 1)) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    return this;
  }

  override delete(key: string): boolean {
    this.#bytes -= this.#sizes.get(key) ?? 0;
    this.#sizes.delete(key);
    return super.delete(key);
  }

  override clear(): void {
    super.clear();
    this.#sizes.clear();
    this.#bytes = 0;
  }
}

/**
 * Keyv stores serialized strings: twice their length, since V8 keeps the JSON its serializer
 * builds piece by piece as a tree of concatenated strings (measured in a heap snapshot). Other
 * values count a fixed kilobyte.
 */
function approximateBytes(key: string, value: unknown): number {
  return 2 * key.length + (typeof value === 'string' ? 2 * value.length : 1_024) + 64;
}
