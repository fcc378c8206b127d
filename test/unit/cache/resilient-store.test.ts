import Keyv from 'keyv';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnswerCache } from '../../../src/cache/answer-cache.ts';
import { BoundedMemoryStore } from '../../../src/cache/bounded-memory-store.ts';
import { claimKey } from '../../../src/cache/claim.ts';
import { LocalClaims } from '../../../src/cache/local-claims.ts';
import { type RemoteStore, ResilientStore } from '../../../src/cache/resilient-store.ts';
import { ThreadStore } from '../../../src/conversation/thread-store.ts';
import { HealthRegistry } from '../../../src/observability/health.ts';
import { createMetrics } from '../../../src/observability/metrics.ts';
import { recordingLogger } from '../../support/helpers.ts';

/**
 * Redis as the resilient store sees it, in memory: `refusing` fails every command at once (the
 * client is offline), `frozen` never answers (a SIGSTOPped server). Commands run in call order,
 * like one Redis connection.
 */
class FakeRemote implements RemoteStore {
  namespace: string | undefined;
  readonly data = new Map<string, unknown>();
  readonly calls: string[] = [];
  mode: 'up' | 'refusing' | 'frozen' = 'up';

  get(key: string) {
    return this.#run('get', () => this.data.get(key));
  }
  set(key: string, value: unknown) {
    return this.#run('set', () => void this.data.set(key, value));
  }
  delete(key: string) {
    return this.#run('delete', () => this.data.delete(key));
  }
  clear() {
    return this.#run('clear', () => this.data.clear());
  }
  claim(key: string) {
    return this.#run('claim', () => {
      if (this.data.has(key)) return false;
      this.data.set(key, '1');
      return true;
    });
  }
  ping() {
    return this.#run('ping', () => 'PONG');
  }
  async disconnect() {}

  count(operation: string): number {
    return this.calls.filter((call) => call === operation).length;
  }

  async #run<T>(operation: string, task: () => T): Promise<T> {
    this.calls.push(operation);
    if (this.mode === 'refusing') throw new Error('The client is offline');
    if (this.mode === 'frozen') return new Promise<T>(() => {});
    return task();
  }
}

function setup(options: { fallbackMaxEntries?: number } = {}) {
  const remote = new FakeRemote();
  const components = new HealthRegistry();
  const states: string[] = [];
  components.onChange((_, status) => states.push(status.state));
  const metrics = createMetrics({ processMetrics: false });
  const { logger, lines } = recordingLogger();
  const resilient = new ResilientStore({
    remote,
    label: 'Redis at test',
    health: components.reporter('redis'),
    metrics,
    logger,
    ...options,
  });
  const keyv = new Keyv({ store: resilient, namespace: 'bot', useKeyPrefix: false });
  return { remote, resilient, keyv, components, states, metrics, lines };
}

async function counted(metrics: ReturnType<typeof createMetrics>, labels: { op?: string; reason?: string }) {
  const { values } = await metrics.storeErrors.get();
  return values
    .filter(
      (value) =>
        (!labels.op || value.labels.op === labels.op) &&
        (!labels.reason || value.labels.reason === labels.reason),
    )
    .reduce((sum, value) => sum + value.value, 0);
}

const ref = { tenant: 't', platform: 'slack', threadId: 'C1:1.0' };
const threadKey = 'thread:t:slack:C1:1.0';

describe('ResilientStore', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves a read Redis never answers as a miss at the deadline, not later, not sooner', async () => {
    const { remote, keyv } = setup();
    await vi.advanceTimersByTimeAsync(0);
    remote.mode = 'frozen';
    let settled = false;
    const read = keyv.get('answer:t:abc').finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(249);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);
    await expect(read).resolves.toBeUndefined();
  });

  it('opens after three failures in a row: later calls skip Redis, health says down once, one warn line', async () => {
    const { remote, keyv, components, states, metrics, lines } = setup();
    await vi.advanceTimersByTimeAsync(0);
    expect(components.get('redis')?.state).toBe('up');
    remote.mode = 'refusing';
    for (let index = 0; index < 6; index++) expect(await keyv.get(`answer:t:${index}`)).toBeUndefined();
    expect(remote.count('get')).toBe(3);
    expect(states).toEqual(['starting', 'up', 'degraded', 'down']);
    expect(components.get('redis')).toMatchObject({ state: 'down', code: 'store_unavailable' });
    expect(components.get('redis')?.reason).toMatch(/answers are generated without the cache/);
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(await counted(metrics, { op: 'get', reason: 'error' })).toBe(3);
    expect(await counted(metrics, { op: 'get', reason: 'circuit_open' })).toBe(3);
    expect((await metrics.storeCircuit.get()).values[0]?.value).toBe(1);
  });

  it('keeps a hand-off made while Redis is down, serves it, and replays it when a probe finds Redis back', async () => {
    const { remote, keyv, components, metrics, lines } = setup();
    await vi.advanceTimersByTimeAsync(0);
    remote.mode = 'refusing';
    const threads = new ThreadStore({ store: keyv });
    const cache = new AnswerCache({ store: keyv, ttlMs: 60_000 });
    await threads.handOff(ref, 'complaint', 'customer is angry');
    await cache.set('answer:t:abc', {
      text: 'x',
      intent: 'policy_question',
      sources: [],
      model: 'm',
      createdAt: 1,
    });
    await threads.appendTurn(ref, { question: 'hello?', answer: 'hi' });
    expect(components.get('redis')?.state).toBe('down');
    expect(await threads.get(ref)).toMatchObject({ owner: 'staff', history: [{ question: 'hello?' }] });
    expect(await cache.get('answer:t:abc')).toBeUndefined();
    expect((await metrics.storePendingWrites.get()).values[0]?.value).toBe(1);

    remote.mode = 'up';
    await vi.advanceTimersByTimeAsync(5_000);
    expect(remote.count('ping')).toBeGreaterThanOrEqual(2);
    expect(components.get('redis')?.state).toBe('up');
    const stored = await new Keyv({ store: remote, namespace: 'bot', useKeyPrefix: false }).get(threadKey);
    expect(stored).toMatchObject({
      owner: 'staff',
      handoff: { reason: 'complaint' },
      history: [{ answer: 'hi' }],
    });
    expect(remote.data.has('answer:t:abc')).toBe(false);
    expect((await metrics.storePendingWrites.get()).values[0]?.value).toBe(0);
    const back = lines.find((line) => line.level === 'info');
    expect(back?.message).toMatch(/answering again after 5 s; 1 writes kept in memory replayed/);
    expect(back?.fields).toMatchObject({ replayed: 1, pendingWrites: 0 });
  });

  it('serves the last value it saw of a thread while Redis is down, so a staff-owned thread stays quiet', async () => {
    const { remote, keyv } = setup();
    await vi.advanceTimersByTimeAsync(0);
    const threads = new ThreadStore({ store: keyv });
    await threads.handOff(ref, 'requested', 'wants a person');
    remote.mode = 'refusing';
    expect(await threads.get(ref)).toMatchObject({ owner: 'staff' });
  });

  it('never lets an older write that missed its deadline overwrite a newer one on replay', async () => {
    const { remote, keyv } = setup();
    await vi.advanceTimersByTimeAsync(0);
    remote.mode = 'frozen';
    const older = keyv.set('participation:C1', 'older');
    await vi.advanceTimersByTimeAsync(250);
    await older;
    remote.mode = 'up';
    await keyv.set('participation:C1', 'newer');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await keyv.get('participation:C1')).toBe('newer');
    expect(remote.count('set')).toBe(2);
  });

  it('does not replay kept writes whose TTL ran out during the outage', async () => {
    const { remote, keyv, resilient } = setup();
    await vi.advanceTimersByTimeAsync(0);
    remote.mode = 'refusing';
    await keyv.set('participation:C1', true, 1_000);
    await keyv.set('participation:C2', true, 60_000);
    expect(resilient.pendingWrites).toBe(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await keyv.get('participation:C1')).toBeUndefined();
    remote.mode = 'up';
    await vi.advanceTimersByTimeAsync(5_000);
    expect(resilient.pendingWrites).toBe(0);
    expect([...remote.data.keys()]).toEqual(['participation:C2']);
  });

  it('bounds the writes it keeps: the oldest is dropped, counted and said once', async () => {
    const { remote, keyv, resilient, metrics, lines } = setup({ fallbackMaxEntries: 2 });
    await vi.advanceTimersByTimeAsync(0);
    remote.mode = 'refusing';
    for (let index = 0; index < 5; index++) await keyv.set(`feedback:vote:${index}`, true);
    expect(resilient.pendingWrites).toBe(2);
    expect(await counted(metrics, { reason: 'fallback_full' })).toBe(3);
    expect(lines.filter((line) => /memory fallback is full/.test(line.message))).toHaveLength(1);
    expect(await keyv.get('feedback:vote:4')).toBe(true);
  });

  it('reports down at start-up when Redis has never answered, before any message', async () => {
    const { remote, components, lines } = setup();
    remote.mode = 'refusing';
    await vi.advanceTimersByTimeAsync(0);
    expect(components.get('redis')).toMatchObject({ state: 'down', code: 'store_unavailable' });
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    remote.mode = 'up';
    await vi.advanceTimersByTimeAsync(5_000);
    expect(components.get('redis')?.state).toBe('up');
  });

  it('claims a key once across two instances sharing Redis, and once per instance while Redis is down', async () => {
    const first = setup();
    const second = new ResilientStore({ remote: first.remote });
    await vi.advanceTimersByTimeAsync(0);
    const shared = await Promise.all([
      first.resilient.claim('slack:event:Ev1', 60_000),
      second.claim('slack:event:Ev1', 60_000),
      first.resilient.claim('slack:event:Ev1', 60_000),
      second.claim('slack:event:Ev1', 60_000),
    ]);
    expect(shared.filter(Boolean)).toHaveLength(1);

    first.remote.mode = 'refusing';
    const local = await Promise.all([
      claimKey(first.keyv, 'slack:event:Ev2', 60_000),
      claimKey(first.keyv, 'slack:event:Ev2', 60_000),
      claimKey(first.keyv, 'slack:event:Ev2', 60_000),
    ]);
    expect(local).toEqual([true, false, false]);
  });
});

describe('claims without Redis', () => {
  it('BoundedMemoryStore: concurrent claims of one key, one winner', async () => {
    const keyv = new Keyv({ store: new BoundedMemoryStore(100), namespace: 'bot' });
    const results = await Promise.all(
      Array.from({ length: 3 }, () => claimKey(keyv, 'slack:event:Ev1', 60_000)),
    );
    expect(results).toEqual([true, false, false]);
  });

  it('LocalClaims: a claim lasts its TTL and the table stays bounded', () => {
    let now = 0;
    const claims = new LocalClaims({ maxEntries: 2, now: () => now });
    expect(claims.claim('a', 1_000)).toBe(true);
    expect(claims.claim('a', 1_000)).toBe(false);
    now = 1_000;
    expect(claims.claim('a', 1_000)).toBe(true);
    claims.claim('b', 1_000);
    claims.claim('c', 1_000);
    expect(claims.size).toBe(2);
  });

  it('claimKey refuses a store that cannot claim, rather than reading then writing', () => {
    expect(() => claimKey(new Keyv(), 'slack:event:Ev1', 60_000)).toThrow(/cannot claim keys/);
  });
});
