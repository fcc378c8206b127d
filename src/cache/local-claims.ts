/**
 * Keys claimed in this process, each until its TTL: the check and the set happen in one synchronous
 * step, so two handlers of the same event in one process can never both win, whatever the event
 * loop does between them. At most `maxEntries` claims are kept (oldest dropped first), so a flood of
 * distinct event ids stays bounded in memory.
 */
export class LocalClaims {
  readonly #claims = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; now?: () => number }) {
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? (() => Date.now());
  }

  /** True when `key` was free (or its claim expired) and is now ours for `ttlMs`. */
  claim(key: string, ttlMs: number): boolean {
    const now = this.#now();
    const expiresAt = this.#claims.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#claims.delete(key);
    this.#claims.set(key, now + ttlMs);
    while (this.#claims.size > this.#maxEntries) {
      const oldest = this.#claims.keys().next();
      if (oldest.done) break;
      this.#claims.delete(oldest.value);
    }
    return true;
  }

  get size(): number {
    return this.#claims.size;
  }
}
