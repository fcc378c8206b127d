import OpenAI, { APIConnectionTimeoutError, APIError, BadRequestError, RateLimitError } from 'openai';
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

  describe('endings and refusals the real API has', () => {
    const read = async (stream: AsyncIterable<OpenAI.ChatCompletionChunk>) => {
      let text = '';
      const reasons: (string | null)[] = [];
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.choices[0]) reasons.push(chunk.choices[0].finish_reason);
      }
      return { text, finishReason: reasons.at(-1) };
    };

    it('says stop when the answer is whole, length when max_tokens cut it', async () => {
      const whole = await read(
        await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true }),
      );
      expect(whole.finishReason).toBe('stop');
      const cut = await read(
        await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true, max_tokens: 7 }),
      );
      expect(cut.finishReason).toBe('length');
      expect(whole.text.startsWith(cut.text)).toBe(true);
      expect(cut.text.length).toBeLessThan(whole.text.length);
      const completion = await client.chat.completions.create({
        model: 'gpt-4-turbo',
        messages,
        max_completion_tokens: 7,
      });
      expect(completion.choices[0]?.finish_reason).toBe('length');
      expect(completion.usage?.completion_tokens).toBe(7);
    });

    it.each(['stop', 'length', 'content_filter', 'tool_calls', 'function_call'] as const)(
      'ends a stream with finish_reason %s after N tokens on demand',
      async (reason) => {
        fake.injectFault({ kind: 'finish', reason, afterTokens: 6 });
        const { text, finishReason } = await read(
          await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true }),
        );
        expect(finishReason).toBe(reason);
        expect(text).toBe('[1] Refunds are issued');
      },
    );

    it('sends a mid-stream error event, which the SDK throws as an APIError', async () => {
      fake.injectFault({ kind: 'stream-error', afterTokens: 5 });
      const stream = await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true });
      let text = '';
      const consume = async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      };
      const failure = await consume().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(APIError);
      expect(failure).toMatchObject({ status: undefined, type: 'server_error', param: null, code: null });
      expect(text).toBe('[1] Refunds are');
    });

    it('ends a stream cleanly without finish_reason or [DONE] on demand', async () => {
      fake.injectFault({ kind: 'no-finish', afterTokens: 5 });
      const { text, finishReason } = await read(
        await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true }),
      );
      expect(text).toBe('[1] Refunds are');
      expect(finishReason).toBeNull();
    });

    it('refuses json_schema for models without Structured Outputs, as the API does', async () => {
      const request = (model: string) =>
        client.chat.completions.create({
          model,
          messages: [
            { role: 'system', content: 'Classify the intent. Reply in JSON.' },
            { role: 'user', content: 'How long do refunds take?' },
          ],
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'intent', strict: true, schema: { type: 'object' } },
          },
        });
      for (const model of [
        'gpt-3.5-turbo',
        'gpt-3.5-turbo-0125',
        'gpt-4',
        'gpt-4-turbo',
        'gpt-4o-2024-05-13',
      ]) {
        const refusal = await request(model).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refusal, model).toBeInstanceOf(BadRequestError);
        expect(refusal).toMatchObject({
          type: 'invalid_request_error',
          param: 'response_format',
          code: null,
        });
        expect((refusal as Error).message).toMatch(
          /'response_format' of type 'json_schema' is not supported/,
        );
      }
      for (const model of [
        'gpt-4o-mini',
        'gpt-4o',
        'gpt-4o-2024-08-06',
        'gpt-4.1-mini',
        'o3-mini',
        'my-local-model',
      ]) {
        const completion = await request(model);
        expect(JSON.parse(completion.choices[0]?.message.content ?? ''), model).toMatchObject({
          intent: 'policy_question',
        });
      }
    });

    it('refuses json_object when no message says "json"', async () => {
      const refusal = client.chat.completions.create({
        model: 'gpt-3.5-turbo',
        response_format: { type: 'json_object' },
        messages: [
          { role: 'system', content: 'Classify the intent of the message.' },
          { role: 'user', content: 'How long do refunds take?' },
        ],
      });
      await expect(refusal).rejects.toBeInstanceOf(BadRequestError);
      await expect(refusal).rejects.toMatchObject({ param: 'messages', type: 'invalid_request_error' });
    });

    it('calls the function a request names in tool_choice', async () => {
      const completion = await client.chat.completions.create({
        model: 'gpt-3.5-turbo',
        messages: [
          { role: 'system', content: 'Classify the intent of the message as JSON.' },
          { role: 'user', content: 'This is unacceptable, I want a manager' },
        ],
        tools: [{ type: 'function', function: { name: 'classify_intent', parameters: { type: 'object' } } }],
        tool_choice: { type: 'function', function: { name: 'classify_intent' } },
      });
      const call = completion.choices[0]?.message.tool_calls?.[0];
      expect(call?.type === 'function' && call.function.name).toBe('classify_intent');
      expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '')).toMatchObject({
        intent: 'complaint',
      });
      expect(completion.choices[0]?.message.content).toBeNull();
    });

    it('answers 429 without Retry-After, which the client retries after its own back-off', async () => {
      fake.injectFault({ kind: 'rate-limit' });
      const retrying = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 1 });
      await expect(
        retrying.chat.completions.create({ model: 'gpt-4-turbo', messages }),
      ).resolves.toBeDefined();
      const [limited] = fake.requests;
      expect(limited).toBeDefined();
      expect(fake.stats().requests['/v1/chat/completions']).toBe(2);
      fake.injectFault({ kind: 'rate-limit' });
      const raw = await fetch(`${fake.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer test-key', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4-turbo', messages }),
      });
      expect(raw.status).toBe(429);
      expect(raw.headers.get('retry-after')).toBeNull();
      expect(await raw.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    });

    it('answers 429 insufficient_quota without Retry-After', async () => {
      fake.injectFault({ kind: 'quota' });
      const failure = client.chat.completions.create({ model: 'gpt-4-turbo', messages });
      await expect(failure).rejects.toBeInstanceOf(RateLimitError);
      await expect(failure).rejects.toMatchObject({
        status: 429,
        type: 'insufficient_quota',
        code: 'insufficient_quota',
      });
    });

    it('takes the new faults over its control endpoint', async () => {
      const response = await fetch(`${fake.url.replace('/v1', '')}/_fake/faults`, {
        method: 'POST',
        body: JSON.stringify({ fault: { kind: 'finish', reason: 'content_filter', afterTokens: 2 } }),
      });
      expect(response.status).toBe(200);
      const { finishReason } = await read(
        await client.chat.completions.create({ model: 'gpt-4-turbo', messages, stream: true }),
      );
      expect(finishReason).toBe('content_filter');
    });
  });
});
