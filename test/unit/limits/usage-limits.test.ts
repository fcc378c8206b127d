import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  describeRefusal,
  describeWait,
  type LimitDecision,
  type MessageSender,
  UsageLimits,
  type UsageLimitsSettings,
} from '../../../src/limits/usage-limits.ts';
import { createMetrics } from '../../../src/observability/metrics.ts';

const off = { messages: 0, perSeconds: 60 };
const settings = (overrides: Partial<UsageLimitsSettings> = {}): UsageLimitsSettings => ({
  user: { ...off, burst: 0, burstPerSeconds: 600 },
  conversation: off,
  tenant: off,
  budgetUsdPerHour: 0,
  ...overrides,
});
const sender = (userId: string, threadId = `thread-${userId}`): MessageSender => ({
  platform: 'slack',
  userId,
  threadId,
});

async function send(limits: UsageLimits, from: MessageSender, count: number): Promise<LimitDecision[]> {
  const decisions: LimitDecision[] = [];
  for (let index = 0; index < count; index++) decisions.push(await limits.admit(from));
  return decisions;
}
const allowedCount = (decisions: LimitDecision[]) => decisions.filter((decision) => decision.allowed).length;

describe('UsageLimits (in memory)', () => {
  // Fixed windows end on timers: a fake clock moves both the wall clock and the timers.
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-12-01T12:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('lets a customer send 8 a minute plus a burst of 4, then refuses with the wait and one staff note', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const limits = new UsageLimits({
      tenant: 'acme',
      settings: settings({ user: { messages: 8, perSeconds: 60, burst: 4, burstPerSeconds: 600 } }),
      metrics,
    });
    const decisions = await send(limits, sender('U1'), 20);
    expect(allowedCount(decisions)).toBe(12);
    expect(decisions.slice(0, 12).every((decision) => decision.allowed)).toBe(true);
    const refused = decisions.slice(12);
    expect(refused[0]).toMatchObject({ allowed: false, scope: 'user', notifyStaff: true });
    expect(refused.slice(1).map((decision) => !decision.allowed && decision.notifyStaff)).toEqual(
      Array(7).fill(false),
    );
    const first = refused[0] as Extract<LimitDecision, { allowed: false }>;
    expect(first.retryAfterMs).toBeGreaterThan(59_000);
    expect(first.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect((await metrics.registry.getSingleMetricAsString('supportbot_limited_total')).trim()).toContain(
      'supportbot_limited_total{scope="user"} 8',
    );

    // Another customer is not affected.
    expect((await limits.admit(sender('U2'))).allowed).toBe(true);

    // Next minute: 8 more (the burst is spent for 10 minutes), and staff hear of it again once.
    await vi.advanceTimersByTimeAsync(60_000);
    const nextMinute = await send(limits, sender('U1'), 10);
    expect(allowedCount(nextMinute)).toBe(8);
    expect(nextMinute[8]).toMatchObject({ allowed: false, notifyStaff: true });
    expect(nextMinute[9]).toMatchObject({ allowed: false, notifyStaff: false });
  });

  it('limits a conversation whoever writes in it', async () => {
    const limits = new UsageLimits({
      tenant: 'acme',
      settings: settings({ conversation: { messages: 20, perSeconds: 600 } }),
    });
    const decisions: LimitDecision[] = [];
    for (let index = 0; index < 30; index++)
      decisions.push(await limits.admit(sender(`U${index % 3}`, 'shared-thread')));
    expect(allowedCount(decisions)).toBe(20);
    expect(decisions[20]).toMatchObject({ allowed: false, scope: 'conversation', notifyStaff: true });
    expect((await limits.admit(sender('U0', 'another-thread'))).allowed).toBe(true);
  });

  it('counts a customer over their own limit against nothing else', async () => {
    const limits = new UsageLimits({
      tenant: 'acme',
      settings: settings({
        user: { messages: 5, perSeconds: 60, burst: 0, burstPerSeconds: 600 },
        tenant: { messages: 10, perSeconds: 60 },
      }),
    });
    expect(allowedCount(await send(limits, sender('flooder'), 300))).toBe(5);
    // The tenant spent 5 of its 10: five other customers still get through, then the tenant limit.
    const others: LimitDecision[] = [];
    for (let index = 0; index < 7; index++) others.push(await limits.admit(sender(`other-${index}`)));
    expect(allowedCount(others)).toBe(5);
    expect(others[5]).toMatchObject({ allowed: false, scope: 'tenant', notifyStaff: true });
    // The tenant's note is sent once per window, not once per refused customer.
    expect(others[6]).toMatchObject({ allowed: false, scope: 'tenant', notifyStaff: false });
  });

  it('turns a limit off with 0', async () => {
    const limits = new UsageLimits({ tenant: 'acme', settings: settings() });
    expect(allowedCount(await send(limits, sender('U1', 'one-thread'), 1_000))).toBe(1_000);
    expect(await limits.overBudget()).toBe(false);
  });

  it('stops the model once the hour’s spend reaches the budget, until the hour ends', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const limits = new UsageLimits({ tenant: 'acme', settings: settings({ budgetUsdPerHour: 1 }), metrics });
    for (let index = 0; index < 9; index++) await limits.recordSpend(0.1);
    expect(await limits.overBudget()).toBe(false);
    await limits.recordSpend(0.1);
    expect(await limits.overBudget()).toBe(true);
    expect(await metrics.registry.getSingleMetricAsString('supportbot_budget_spent_usd')).toContain(
      'supportbot_budget_spent_usd{tenant="acme"} 1',
    );
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(await limits.overBudget()).toBe(false);
  });

  it('locks nobody out when the wall clock jumps back, and keeps counting when it jumps ahead', async () => {
    const limits = new UsageLimits({
      tenant: 'acme',
      settings: settings({ user: { messages: 3, perSeconds: 60, burst: 0, burstPerSeconds: 600 } }),
    });
    expect(allowedCount(await send(limits, sender('U1'), 4))).toBe(3);

    // Set back an hour (NTP, a VM restored): the window still ends after its minute.
    vi.setSystemTime(Date.now() - 3_600_000);
    const refused = await limits.admit(sender('U1'));
    expect(refused).toMatchObject({ allowed: false, scope: 'user' });
    expect((refused as Extract<LimitDecision, { allowed: false }>).retryAfterMs).toBeLessThanOrEqual(60_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(allowedCount(await send(limits, sender('U1'), 4))).toBe(3);

    // Jump a day ahead: the window in progress ends early, and the next one counts as before.
    vi.setSystemTime(Date.now() + 86_400_000);
    expect(allowedCount(await send(limits, sender('U1'), 4))).toBe(3);
  });
});

describe('UsageLimits with 10,000 customers at once', () => {
  it('keeps their counters in a few MB, released when their windows end', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Two-second windows and a real wait: the memory limiter ends each window on its own timer, and
    // a fake clock would fire 70,000 of them one by one.
    const limits = new UsageLimits({
      tenant: 'acme',
      settings: settings({
        user: { messages: 8, perSeconds: 2, burst: 4, burstPerSeconds: 2 },
        conversation: { messages: 20, perSeconds: 2 },
        tenant: { messages: 1_000_000, perSeconds: 2 },
      }),
    });
    gc();
    const before = process.memoryUsage().heapUsed;
    // Every one of them over their limit (8 and the burst of 4): the staff-note counters are kept too.
    let refused = 0;
    for (let index = 0; index < 10_000; index++)
      refused += 13 - allowedCount(await send(limits, sender(`user-${index}`), 13));
    gc();
    const during = process.memoryUsage().heapUsed;
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    gc();
    const after = process.memoryUsage().heapUsed;
    const megabytes = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    console.info(
      `10,000 customers: heap ${megabytes(before)} MB before, ${megabytes(during)} MB with their counters, ${megabytes(after)} MB after their windows`,
    );
    expect(refused).toBeGreaterThanOrEqual(10_000);
    expect(during - before).toBeLessThan(40 * 1024 * 1024);
    expect(after - before).toBeLessThan(2 * 1024 * 1024);
    // And the limits still hold afterwards.
    expect(allowedCount(await send(limits, sender('user-1'), 20))).toBe(12);
  });
});

describe('describeWait and describeRefusal', () => {
  it('says how long to wait in words', () => {
    expect([900, 30_000, 60_000, 61_000, 480_000, 3_600_000, 7_200_000].map(describeWait)).toEqual([
      'a second',
      '30 seconds',
      'a minute',
      '2 minutes',
      '8 minutes',
      'an hour',
      '2 hours',
    ]);
  });

  it('tells staff who went over which limit and that the thread stays with the bot', () => {
    expect(
      describeRefusal(
        {
          allowed: false,
          scope: 'user',
          limit: { messages: 8, perSeconds: 60 },
          retryAfterMs: 42_000,
          notifyStaff: true,
        },
        sender('U1'),
      ),
    ).toBe(
      'Message limit: U1 on slack sent more than 8 messages in a minute (replies paused for 42 seconds; the thread stays with the bot).',
    );
  });
});
