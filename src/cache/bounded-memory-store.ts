/**
 * The in-memory store behind Keyv when no REDIS_URL is set: a Map that keeps at most `maxEntries`
 * keys, dropping the least recently used, so a bot that runs for weeks on one machine does not
 * grow without end (conversations are kept for days). Redis has its own eviction policies.
 */
export class BoundedMemoryStore<V = unknown> extends Map<string, V> {
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    super();
    this.maxEntries = maxEntries;
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
    super.delete(key);
    super.set(key, value);
    while (this.size > this.maxEntries) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      super.delete(oldest.value);
    }
    return this;
  }
}
