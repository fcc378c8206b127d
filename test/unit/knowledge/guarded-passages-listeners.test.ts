import { getEventListeners } from 'node:events';
// cockatiel's default signal for a call given none, shared by every policy of the process.
import { neverAbortedSignal } from 'cockatiel/dist/common/abort.js';
import { describe, expect, it } from 'vitest';
import type { PassageSource } from '../../../src/agent/support-agent.ts';
import { GuardedPassages } from '../../../src/knowledge/guarded-passages.ts';

describe('GuardedPassages under concurrent searches', () => {
  it("leaves no abort listener on cockatiel's shared signal, however many searches are in flight", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const source: PassageSource = {
      search: async () => {
        await released;
        return [];
      },
      version: async () => 'v1',
    };
    const passages = new GuardedPassages({ open: async () => source, probe: async () => 1 });
    const customer = new AbortController();
    const searches = Array.from({ length: 25 }, (_, index) =>
      passages.search(`question ${index}`, 3, index % 2 ? { signal: customer.signal } : {}),
    );
    await new Promise((resolve) => setImmediate(resolve));
    // Past 10 on one signal Node prints a MaxListenersExceededWarning.
    const inFlight = getEventListeners(neverAbortedSignal, 'abort').length;
    release();
    await Promise.all(searches);
    expect(inFlight).toBe(0);
    expect(getEventListeners(customer.signal, 'abort').length).toBeLessThanOrEqual(1);
  });
});
