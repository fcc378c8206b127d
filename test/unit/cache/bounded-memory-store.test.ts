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

  it('keeps the values within maxBytes, however few keys they are, dropping the least recently used', async () => {
    const maxBytes = 256 * 1024;
    const store = new BoundedMemoryStore(20_000, { maxBytes });
    const keyv = new Keyv({ store, namespace: 'test' });
    const answer = 'Refunds reach the original payment method within 5-7 business days. '.repeat(60);
    for (let index = 0; index < 1_000; index++) await keyv.set(`answer-${index}`, { text: answer });
    // About 8 KB each: a few dozen fit, far below the 20,000-key bound.
    expect(store.size).toBeLessThan(40);
    expect(store.size).toBeGreaterThan(10);
    expect(store.bytes).toBeLessThanOrEqual(maxBytes);
    expect(await keyv.get('answer-999')).toEqual({ text: answer });
    expect(await keyv.get('answer-0')).toBeUndefined();
    await keyv.delete('answer-999');
    await keyv.clear();
    expect(store.bytes).toBe(0);
  });
});
