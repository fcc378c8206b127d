import type Keyv from 'keyv';

/**
 * A Keyv store that can claim a key in one atomic step: the Redis-backed {@link ResilientStore}
 * (`SET key NX PX ttl`, shared by every instance) and the in-memory {@link BoundedMemoryStore}
 * (one synchronous check-and-set, this process only).
 */
export interface ClaimingStore {
  /** True when this call created `key` (or its claim had expired); false while someone holds it. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

/**
 * True the first time `key` is claimed within `ttlMs`, in every process that shares the store. A
 * read followed by a write would let two deliveries of one event both see "not yet handled"; a
 * claim cannot.
 *
 * @throws TypeError when the Keyv store cannot claim keys (build it with `createSupportBot`).
 */
export function claimKey(store: Keyv, key: string, ttlMs: number): Promise<boolean> {
  const inner: unknown = store.store;
  if (!isClaimingStore(inner)) {
    throw new TypeError(
      'The key-value store cannot claim keys: pass the store createSupportBot builds (Redis or BoundedMemoryStore).',
    );
  }
  return inner.claim(key, ttlMs);
}

function isClaimingStore(store: unknown): store is ClaimingStore {
  return typeof (store as Partial<ClaimingStore> | undefined)?.claim === 'function';
}
