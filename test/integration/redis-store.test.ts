import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { AnswerCache, answerCacheKey } from '../../src/cache/answer-cache.ts';
import { ThreadStore } from '../../src/conversation/thread-store.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Our own prefix, removed key by key afterwards: the server is shared and never flushed.
const namespace = `support-bot-test-${process.pid}-${Date.now()}`;

function connect(): Keyv {
  return new Keyv({ store: new KeyvRedis(redisUrl), namespace, useKeyPrefix: false });
}

describe('cache and thread state on a real Redis, shared by two instances', () => {
  const first = connect();
  const second = connect();
  const written: string[] = [];

  afterAll(async () => {
    await first.deleteMany(written);
    await Promise.all([first.disconnect(), second.disconnect()]);
  });

  it('serves an answer cached by one instance to the other, until its TTL', async () => {
    const key = answerCacheKey({
      tenant: 't',
      question: 'Do gift cards expire?',
      knowledgeBaseVersion: 'v',
      promptVersion: 'p',
      model: 'm',
    });
    written.push(key);
    const answer = {
      text: 'Never.',
      intent: 'policy_question' as const,
      sources: [],
      model: 'm',
      createdAt: 1,
    };
    await new AnswerCache({ store: first, ttlMs: 60_000 }).set(key, answer);
    expect(await new AnswerCache({ store: second, ttlMs: 60_000 }).get(key)).toEqual(answer);

    const shortKey = `${key}-short`;
    written.push(shortKey);
    await new AnswerCache({ store: first, ttlMs: 50 }).set(shortKey, answer);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await new AnswerCache({ store: second, ttlMs: 50 }).get(shortKey)).toBeUndefined();
  });

  it('shows a hand-off made by one instance to the other', async () => {
    const ref = { tenant: 't', platform: 'slack', threadId: `thread-${Date.now()}` };
    written.push(`thread:${ref.tenant}:${ref.platform}:${ref.threadId}`);
    await new ThreadStore({ store: first }).handOff(ref, 'complaint', 'angry');
    expect(await new ThreadStore({ store: second }).get(ref)).toMatchObject({
      owner: 'staff',
      handoff: { reason: 'complaint' },
    });
  });
});
