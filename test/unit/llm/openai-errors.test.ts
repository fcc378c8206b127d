import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { toModelError } from '../../../src/llm/openai-answer-model.ts';
import { createOpenAIFetch } from '../../../src/llm/openai-fetch.ts';

const quotaBody = {
  error: {
    message: 'You exceeded your current quota, please check your plan and billing details.',
    type: 'insufficient_quota',
    param: null,
    code: 'insufficient_quota',
  },
};
const rateBody = {
  error: {
    message: 'Rate limit reached for requests.',
    type: 'requests',
    param: null,
    code: 'rate_limit_exceeded',
  },
};
const apiError = (status: number, body: { error: object }) =>
  APIError.generate(status, body, undefined, new Headers());

describe('toModelError', () => {
  it('marks a 429 for an exhausted quota not retryable, any other 429 retryable', () => {
    expect(toModelError(apiError(429, quotaBody), 'm')).toMatchObject({ status: 429, retryable: false });
    expect(toModelError(apiError(429, rateBody), 'm')).toMatchObject({ status: 429, retryable: true });
    expect(toModelError(apiError(400, rateBody), 'm').retryable).toBe(false);
    expect(toModelError(apiError(503, rateBody), 'm').retryable).toBe(true);
  });
});

describe('createOpenAIFetch', () => {
  const respond = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    createOpenAIFetch(
      async () =>
        new Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json', ...headers },
        }),
    );

  it('tells the SDK not to retry a 429 for an exhausted quota, and keeps the body', async () => {
    const response = await respond(429, quotaBody)('http://127.0.0.1/v1/chat/completions');
    expect(response.status).toBe(429);
    expect(response.headers.get('x-should-retry')).toBe('false');
    expect(await response.json()).toEqual(quotaBody);
  });

  it('leaves other responses as they are', async () => {
    for (const [status, body] of [
      [429, rateBody],
      [500, rateBody],
      [200, { ok: true }],
    ] as const) {
      const response = await respond(status, body, { 'retry-after': '2' })('http://127.0.0.1/v1/models');
      expect(response.headers.get('x-should-retry')).toBeNull();
      expect(response.headers.get('retry-after')).toBe('2');
      expect(await response.json()).toEqual(body);
    }
  });

  it('keeps a server-sent x-should-retry', async () => {
    const response = await respond(429, quotaBody, { 'x-should-retry': 'true' })(
      'http://127.0.0.1/v1/models',
    );
    expect(response.headers.get('x-should-retry')).toBe('true');
  });
});
