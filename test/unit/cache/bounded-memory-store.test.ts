import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { BoundedMemoryStore } from '../../../src/cache/bounded-memory-store.ts';

describe('BoundedMemoryStore', () => {
  it('keeps at most maxEntries keys behind Keyv, dropping the least recently used', async () => {
    const store = new BoundedMemoryStore(3);
    const keyv = new Keyv({ store, namespace: 'test' });
    await keyv.set('a', 1);
    await keyv.set('b', 2);
    await keyv.set('c', 3);
    expect(await keyv.get('a')).toBe(1); // a is now the most recently used
    await keyv.set('d', 4);
    expect(store.size).toBe(3);
    expect(await keyv.get('b')).toBeUndefined();
    expect(await keyv.get('a')).toBe(1);
    expect(await keyv.get('d')).toBe(4);
  });
});
