import OpenAI, { APIConnectionTimeoutError, RateLimitError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';

const passages =
  'Use only these passages.\n[1] Refunds are issued within 3 business days after the return is inspected. ' +
  'Banks need 5 to 10 business days to show the refund.\n[2] The hammock holds 400 lb.';

describe('the fake OpenAI server, through the real openai client', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ profile: { answerTokens: 40 } });
    client = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 0, timeout: 5_000 });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  const messages = [
    { role: 'system' as const, content: passages },
    { role: 'user' as const, content: 'How many business days until the refund is issued?' },
  ];

  it('answers a completion with usage, grounded in the prompt', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4-turbo', messages });
    const text = completion.choices[0]?.message.content ?? '';
    expect(text).toContain('Refunds are issued within 3 business days');
    expect(text.split('\n\n')[0]).not.toContain('hammock');
    expect(completion.usage?.completion_tokens).toBeGreaterThan(5);
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(20);
    expect(fake.requests[0]).toMatchObject({ path: '/v1/chat/completions', body: { model: 'gpt-4-turbo' } });
    expect(JSON.stringify(fake.requests[0]?.headers)).not.toContain('test-key');
  });

  it('streams deltas that add up to the answer, then the usage chunk', async () => {
    const whole = await client.chat.completions.create({ model: 'gpt-4-turbo', messages });
    const stream = await client.chat.completions.create({
      model: 'gpt-4-turbo',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let deltas = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) {
        text += delta;
        deltas++;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(deltas).toBeGreaterThan(5);
    expect(usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
  });

  it('classifies as JSON when asked for a JSON response', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-3.5-turbo',
      response_format: { type: 'json_object' },
      messages: [
        { role: 'system', content: 'Classify the intent. Reply in JSON.' },
        { role: 'user', content: 'This is unacceptable, I want to talk to a manager' },
      ],
    });
    expect(JSON.parse(completion.choices[0]?.message.content ?? '')).toMatchObject({ intent: 'complaint' });
  });

  it('returns the same normalised embedding in float and base64 encodings', async () => {
    const asFloat = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['return policy', 'hammock'],
      encoding_format: 'float',
    });
    const asBase64 = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'return policy',
    });
    const vector = asFloat.data[0]?.embedding ?? [];
    expect(vector).toHaveLength(1536);
    expect(asBase64.data[0]?.embedding).toEqual(vector);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    expect(asFloat.data[1]?.embedding).not.toEqual(vector);
    expect(asFloat.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('waits out the time to first token of the model profile', async () => {
    fake.setProfile({ ttftMs: 300, tokensPerSecond: 200 }, 'gpt-4-turbo');
    const started = performance.now();
    const stream = await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true });
    let firstToken: number | undefined;
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) firstToken ??= performance.now();
    const total = performance.now() - started;
    expect((firstToken ?? 0) - started).toBeGreaterThanOrEqual(290);
    expect(total - ((firstToken ?? 0) - started)).toBeGreaterThan(50);
  });

  it('fails with 500 and 401 as the API does', async () => {
    fake.injectFault({ kind: 'status', status: 500 });
    await expect(client.chat.completions.create({ model: 'gpt-4-turbo', messages })).rejects.toMatchObject({
      status: 500,
    });
    await expect(client.chat.completions.create({ model: 'gpt-4-turbo', messages })).resolves.toBeDefined();
    const anonymous = await fetch(`${fake.url}/models`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('answers 429 with Retry-After, which the client honours when it may retry', async () => {
    fake.injectFault({ kind: 'rate-limit', retryAfterSeconds: 1 });
    await expect(client.chat.completions.create({ model: 'gpt-4-turbo', messages })).rejects.toBeInstanceOf(
      RateLimitError,
    );
    fake.injectFault({ kind: 'rate-limit', retryAfterSeconds: 1 });
    const retrying = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 1 });
    const started = performance.now();
    await expect(retrying.chat.completions.create({ model: 'gpt-4-turbo', messages })).resolves.toBeDefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.stats().requests['/v1/chat/completions']).toBe(3);
  });

  it('hangs until the client times out, and frees the request', async () => {
    fake.injectFault({ kind: 'hang' });
    const impatient = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 0, timeout: 300 });
    await expect(
      impatient.chat.completions.create({ model: 'gpt-4-turbo', messages }),
    ).rejects.toBeInstanceOf(APIConnectionTimeoutError);
    await expect.poll(() => fake.openResponses()).toBe(0);
  });

  it('cuts a stream mid-answer', async () => {
    fake.injectFault({ kind: 'cut-stream', afterTokens: 5 });
    const stream = await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true });
    let text = '';
    const consume = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    };
    await expect(consume()).rejects.toThrow();
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(80);
  });

  it('stops streaming when the client aborts, leaving nothing pending', async () => {
    fake.setProfile({ tokensPerSecond: 20 }, 'gpt-4-turbo');
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt-4-turbo', messages, stream: true },
      { signal: controller.signal },
    );
    let deltas = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++deltas === 3) controller.abort();
    }
    // A chunk already read off the socket with the third may still be yielded; nothing more.
    expect(deltas).toBeGreaterThanOrEqual(3);
    expect(deltas).toBeLessThanOrEqual(5);
    await expect.poll(() => fake.openResponses()).toBe(0);
    expect(fake.stats().completionTokens).toBe(0);
  });

  it('is driven from another process over its control endpoints', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${fake.url.replace('/v1', '')}${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post('/_fake/faults', { fault: { kind: 'status', status: 503 }, times: 2 })).status).toBe(
      200,
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(client.models.list()).rejects.toMatchObject({ status: 503 });
    }
    await expect(client.models.list()).resolves.toBeDefined();
  });
});
