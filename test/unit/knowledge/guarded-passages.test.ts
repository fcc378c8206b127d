import { describe, expect, it, vi } from 'vitest';
import type { PassageSource } from '../../../src/agent/support-agent.ts';
import { GuardedPassages } from '../../../src/knowledge/guarded-passages.ts';
import { HealthRegistry } from '../../../src/observability/health.ts';

/** A source whose behaviour the test switches: answering, failing (Chroma's 500s) or hanging. */
function switchable() {
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  let calls = 0;
  const answer = <T>(value: T) => {
    calls++;
    if (mode === 'fail') return Promise.reject(new Error('chroma answered 500 Internal Server Error'));
    if (mode === 'hang') return new Promise<T>(() => {});
    return Promise.resolve(value);
  };
  const source: PassageSource = {
    search: () => answer([]),
    version: () => answer('v1'),
    vocabulary: () => answer(() => true),
  };
  return {
    source,
    set: (next: typeof mode) => {
      mode = next;
    },
    calls: () => calls,
    probe: () => answer(1),
  };
}

function guarded(store: ReturnType<typeof switchable>, onRecovered = vi.fn()) {
  const health = new HealthRegistry();
  const passages = new GuardedPassages({
    open: async () => store.source,
    probe: store.probe,
    searchTimeoutMs: 100,
    lookupTimeoutMs: 50,
    failuresToOpen: 3,
    probeAfterMs: 200,
    health: health.reporter('knowledge'),
    onRecovered,
  });
  return { passages, health, onRecovered };
}

describe('GuardedPassages', () => {
  it('abandons a search that hangs at its deadline, with a knowledge_timeout error', async () => {
    const store = switchable();
    const { passages } = guarded(store);
    store.set('hang');
    const started = performance.now();
    await expect(passages.search('q', 3)).rejects.toMatchObject({ code: 'knowledge_timeout' });
    expect(performance.now() - started).toBeLessThan(1_000);
    passages.close();
  });

  it('opens after three failures in a row (500s), fails fast without calling the store, and reports down', async () => {
    const store = switchable();
    const { passages, health } = guarded(store);
    store.set('fail');
    for (let attempt = 0; attempt < 3; attempt++)
      await expect(passages.search('q', 3)).rejects.toThrow(/500/);
    expect(health.get('knowledge')?.state).toBe('down');
    const before = store.calls();
    await expect(passages.search('q', 3)).rejects.toMatchObject({ code: 'knowledge_unavailable' });
    expect(store.calls()).toBe(before);
    expect(passages.state).toBe('down');
    passages.close();
  });

  it('probes while down and, once the store answers, closes, reports up and calls onRecovered once', async () => {
    const store = switchable();
    const { passages, health, onRecovered } = guarded(store);
    store.set('fail');
    for (let attempt = 0; attempt < 3; attempt++) await passages.search('q', 3).catch(() => undefined);
    store.set('ok');
    await vi.waitFor(() => expect(onRecovered).toHaveBeenCalledTimes(1), { timeout: 2_000 });
    expect(health.get('knowledge')?.state).toBe('up');
    await expect(passages.search('q', 3)).resolves.toEqual([]);
    expect(passages.lastSuccessAt).toBeTypeOf('number');
    passages.close();
  });

  it('does not count a customer who left (their abort) as a failure of the store', async () => {
    const store = switchable();
    const { passages } = guarded(store);
    const aborting = {
      ...store.source,
      search: (_q: string, _k: number, options?: { signal?: AbortSignal }) =>
        new Promise<never>((_, reject) => {
          if (options?.signal?.aborted) reject(options.signal.reason);
          options?.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
        }),
    };
    const leaving = new GuardedPassages({
      open: async () => aborting,
      probe: store.probe,
      failuresToOpen: 1,
    });
    const customer = new AbortController();
    const pending = leaving.search('q', 3, { signal: customer.signal });
    customer.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(leaving.state).toBe('up');
    passages.close();
    leaving.close();
  });
});
