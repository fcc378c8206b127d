import { type ChildProcess, spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LimitDecision, UsageLimits } from '../../src/limits/usage-limits.ts';
import { until } from '../support/helpers.ts';

/** A free TCP port on 127.0.0.1. */
async function sparePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('limits shared in a Redis of the test’s own', () => {
  let redis: ChildProcess;
  let url: string;
  const clients: { isOpen: boolean; destroy(): void }[] = [];
  const settings = {
    user: { messages: 8, perSeconds: 60, burst: 4, burstPerSeconds: 600 },
    conversation: { messages: 0, perSeconds: 600 },
    tenant: { messages: 0, perSeconds: 60 },
    budgetUsdPerHour: 0,
  };
  const connect = async (redisUrl: string, wait = true) => {
    const client = createClient({
      url: redisUrl,
      disableOfflineQueue: true,
      socket: { connectTimeout: 500, reconnectStrategy: () => 200 },
    });
    client.on('error', () => {});
    clients.push(client);
    const connecting = client.connect().catch(() => undefined);
    if (wait) await connecting;
    return client;
  };
  const admitted = async (limits: UsageLimits, count: number, userId: string) => {
    const decisions: LimitDecision[] = [];
    for (let index = 0; index < count; index++)
      decisions.push(await limits.admit({ platform: 'slack', userId, threadId: `t-${index}` }));
    return decisions.filter((decision) => decision.allowed).length;
  };

  beforeAll(async () => {
    const port = await sparePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const probe = await connect(url, false);
    await until(() => probe.isReady, 10_000);
  });

  afterAll(async () => {
    for (const client of clients) if (client.isOpen) client.destroy();
    redis.kill('SIGCONT');
    redis.kill('SIGKILL');
  });

  it('counts one customer across two instances, and in memory while Redis is frozen', async () => {
    const keyPrefix = `limits-it-${process.pid}`;
    const first = new UsageLimits({ tenant: 'acme', settings, redis: await connect(url), keyPrefix });
    const second = new UsageLimits({ tenant: 'acme', settings, redis: await connect(url), keyPrefix });
    let allowed = 0;
    for (let index = 0; index < 10; index++)
      allowed += await admitted(index % 2 ? first : second, 2, 'U-shared');
    expect(allowed).toBe(12);

    // Frozen (SIGSTOP): every check answers from memory within the Redis timeout (200 ms).
    redis.kill('SIGSTOP');
    try {
      const started = performance.now();
      expect(await admitted(first, 14, 'U-during-freeze')).toBe(12);
      // At most three checks of 200 ms for a refused message (the minute, the burst, the staff note).
      expect((performance.now() - started) / 14).toBeLessThan(700);
    } finally {
      redis.kill('SIGCONT');
    }
  });

  it('counts in memory at once when Redis is not there at all', async () => {
    const closed = `redis://127.0.0.1:${await sparePort()}`;
    const limits = new UsageLimits({ tenant: 'acme', settings, redis: await connect(closed, false) });
    const started = performance.now();
    expect(await admitted(limits, 20, 'U-no-redis')).toBe(12);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
