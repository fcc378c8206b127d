import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../../src/config/load.ts';
import { intentNames } from '../../src/llm/intents.ts';
import { OpenAIAnswerModel } from '../../src/llm/openai-answer-model.ts';
import { type ClassifierFormat, OpenAIIntentClassifier } from '../../src/llm/openai-intent-classifier.ts';
import { type FakeOpenAI, type Fault, startFakeOpenAI } from '../fakes/openai-server.ts';

/**
 * The fake OpenAI server's contract: every payload it sends (stream chunks, the usage chunk,
 * completions, the error body of every fault, embeddings) and every request our code sends,
 * validated against the schemas of OpenAI's own OpenAPI spec — verbatim excerpts in
 * test/fixtures/openai/, parsed out of their fences and assembled here.
 */

type SchemaNode = Record<string, unknown>;

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'openai');

/** The YAML fragments of every excerpt file, parsed. */
function readFragments(): SchemaNode[] {
  const indentOf = (line: string) => line.length - line.trimStart().length;
  return readdirSync(fixtures)
    .filter((file) => file.endsWith('.md') && file !== 'README.md')
    .sort()
    .flatMap((file) =>
      [...readFileSync(path.join(fixtures, file), 'utf8').matchAll(/~~~~~yaml\n([\s\S]*?)\n~~~~~/g)].map(
        (match) => {
          const lines = (match[1] ?? '').split('\n');
          const base = indentOf(lines[0] ?? '');
          // A range may end on a line of the enclosing node (less indented than the first): not ours.
          const end = lines.findIndex(
            (line, index) => index > 0 && line.trim() !== '' && indentOf(line) < base,
          );
          const kept = (end === -1 ? lines : lines.slice(0, end)).map((line) =>
            line.slice(Math.min(base, indentOf(line))),
          );
          return parse(kept.join('\n')) as SchemaNode;
        },
      ),
    );
}

const dropped = new Set(['nullable', 'discriminator', 'example']);

/**
 * OpenAPI 3.0 schema → JSON Schema for Ajv. `nullable: true` becomes `anyOf: [schema, {type: null}]`:
 * Ajv's own `nullable` keyword needs a `type` beside it and still rejects null against an `enum`
 * without null (finish_reason), and `usage` is a `$ref` with `nullable`. `discriminator` and
 * `example` are OpenAPI annotations, `x-*` vendor extensions: dropped.
 */
function toJsonSchema(node: unknown): unknown {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return node;
  const schema: SchemaNode = {};
  for (const [key, value] of Object.entries(node as SchemaNode)) {
    if (dropped.has(key) || key.startsWith('x-')) continue;
    if (key === '$ref') schema[key] = String(value).replace('#/components/schemas/', '#/$defs/');
    else if (key === 'properties') {
      schema[key] = Object.fromEntries(
        Object.entries(value as SchemaNode).map(([name, property]) => [name, toJsonSchema(property)]),
      );
    } else if (key === 'allOf' || key === 'anyOf' || key === 'oneOf') {
      schema[key] = (value as unknown[]).map(toJsonSchema);
    } else if (
      key === 'items' ||
      key === 'not' ||
      (key === 'additionalProperties' && typeof value === 'object')
    ) {
      schema[key] = toJsonSchema(value);
    } else schema[key] = value;
  }
  return (node as SchemaNode).nullable === true ? { anyOf: [schema, { type: 'null' }] } : schema;
}

/**
 * Schemas the excerpts reference but do not contain. Alternatives of a `oneOf` that our payloads
 * never are (other message roles, custom tools) match nothing, so `oneOf` stays decidable; the
 * rest match anything.
 */
const neverStubs = [
  'ChatCompletionAllowedToolsChoice',
  'ChatCompletionMessageCustomToolCall',
  'ChatCompletionNamedToolChoiceCustom',
  'ChatCompletionRequestDeveloperMessage',
  'ChatCompletionRequestFunctionMessage',
  'ChatCompletionRequestToolMessage',
  'CustomToolChatCompletions',
];
const anyStubs = [
  'ChatCompletionFunctionCallOption',
  'ChatCompletionFunctions',
  'ChatCompletionModeration',
  'ChatCompletionRequestAssistantMessageContentPart',
  'ChatCompletionRequestUserMessageContentPart',
  'ChatCompletionTokenLogprob',
  'Metadata',
  'ModelIdsShared',
  'ModerationParam',
  'ParallelToolCalls',
  'PredictionContent',
  'PromptCacheBreakpointParam',
  'PromptCacheOptionsParam',
  'ReasoningEffort',
  'ResponseModalities',
  'ServiceTier',
  'StopConfiguration',
  'Verbosity',
  'VoiceIdsOrCustomVoice',
  'WebSearchContextSize',
  'WebSearchLocation',
];

interface Spec {
  schemas: Record<string, unknown>;
  responses: Record<string, SchemaNode>;
  /** `POST /chat/completions` responses by status, and `POST /embeddings`' (the path fragments). */
  chatResponses: SchemaNode;
  embeddingResponses: SchemaNode;
  /** The spec's own streaming example: one chunk per line. */
  streamExample: string;
  validator(name: string): ValidateFunction;
  missingRefs: string[];
}

function assembleSpec(): Spec {
  const schemas: Record<string, unknown> = {};
  const responses: Record<string, SchemaNode> = {};
  let chatResponses: SchemaNode = {};
  let embeddingResponses: SchemaNode = {};
  let streamExample = '';
  for (const fragment of readFragments()) {
    if ('responses' in fragment) {
      const inner = fragment.responses as SchemaNode;
      if ('TooManyRequests' in inner) Object.assign(responses, inner);
      else chatResponses = inner;
    } else if ('200' in fragment) embeddingResponses = fragment;
    else if (typeof fragment.response === 'string') streamExample = fragment.response;
    // The finish_reason fragments repeat what the whole schemas below hold.
    else if (!('finish_reason' in fragment)) Object.assign(schemas, fragment);
  }
  const referenced = new Set(
    [...JSON.stringify(schemas).matchAll(/#\/components\/schemas\/(\w+)/g)].map(
      (match) => match[1] as string,
    ),
  );
  const missingRefs = [...referenced].filter((name) => !(name in schemas)).sort();
  // `components.schemas` is not a JSON Schema keyword: the schemas go under `$defs` (refs rewritten).
  const document = {
    $id: 'openapi',
    $defs: {
      ...Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, toJsonSchema(schema)])),
      ...Object.fromEntries(neverStubs.map((name) => [name, { not: {} }])),
      ...Object.fromEntries(anyStubs.map((name) => [name, {}])),
    },
  };
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  ajv.addFormat('unixtime', {
    type: 'number',
    validate: (value: number) => Number.isInteger(value) && value >= 0,
  });
  ajv.addFormat('float', { type: 'number', validate: (value: number) => Number.isFinite(value) });
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  ajv.addSchema(document);
  return {
    schemas,
    responses,
    chatResponses,
    embeddingResponses,
    streamExample,
    missingRefs,
    validator(name) {
      const validate = ajv.getSchema(`openapi#/$defs/${name}`);
      if (!validate) throw new Error(`no schema ${name}`);
      return validate;
    },
  };
}

/** Follows `keys` from `node` to a `$ref` and names the schema it points at. */
function refAt(node: unknown, ...keys: string[]): string {
  let at = node;
  for (const key of keys) at = (at as SchemaNode | undefined)?.[key];
  const ref = (at as SchemaNode | undefined)?.$ref;
  if (typeof ref !== 'string') throw new Error(`no $ref at ${keys.join('.')}`);
  return ref.split('/').at(-1) as string;
}

describe('the fake OpenAI server against the OpenAPI spec', () => {
  const spec = assembleSpec();
  const chunkSchema = refAt(spec.chatResponses, '200', 'content', 'text/event-stream', 'schema');
  const completionSchema = refAt(spec.chatResponses, '200', 'content', 'application/json', 'schema');
  const tooManyRequests = spec.responses.TooManyRequests as SchemaNode;
  const errorSchema = refAt(tooManyRequests, 'content', 'application/json', 'schema');
  const embeddingSchema = refAt(spec.embeddingResponses, '200', 'content', 'application/json', 'schema');
  const chunkValid = spec.validator(chunkSchema);
  const completionValid = spec.validator(completionSchema);
  const errorValid = spec.validator(errorSchema);
  const embeddingValid = spec.validator(embeddingSchema);
  const requestValid = spec.validator('CreateChatCompletionRequest');

  /** Fails with Ajv's own words, so a broken payload says what is wrong. */
  const expectValid = (validate: ValidateFunction, payload: unknown, what: string) => {
    const ok = validate(payload);
    expect(ok ? [] : validate.errors, `${what}: ${JSON.stringify(payload).slice(0, 300)}`).toEqual([]);
  };

  let fake: FakeOpenAI;
  let client: OpenAI;
  const messages = [
    {
      role: 'system',
      content:
        'Use only these passages.\n[1] Refunds are issued within 3 business days after the return is inspected.',
    },
    { role: 'user', content: 'How many business days until the refund is issued?' },
  ];

  beforeAll(async () => {
    fake = await startFakeOpenAI({ profile: { answerTokens: 30 } });
    client = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 0, timeout: 5_000 });
  });
  beforeEach(() => fake.reset());
  afterAll(() => fake.close());

  const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${fake.url}${route}`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-key', 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  /** The `data:` payloads of a stream, as sent; `cut` when the connection dropped before its end. */
  async function readStream(
    body: unknown,
  ): Promise<{ data: string[]; contentType: string | null; cut: boolean }> {
    const response = await post('/chat/completions', body);
    expect(response.status).toBe(200);
    let text = '';
    let cut = false;
    try {
      text = await response.text();
    } catch {
      cut = true;
    }
    const data = text
      .split('\n\n')
      .filter((block) => block.startsWith('data: '))
      .map((block) => block.slice('data: '.length));
    return { data, contentType: response.headers.get('content-type'), cut };
  }

  it('assembles the excerpts into schemas, stubbing only the references they do not contain', () => {
    expect(spec.missingRefs).toEqual([...neverStubs, ...anyStubs].sort());
    expect([chunkSchema, completionSchema, errorSchema, embeddingSchema]).toEqual([
      'CreateChatCompletionStreamResponse',
      'CreateChatCompletionResponse',
      'ErrorResponse',
      'CreateEmbeddingResponse',
    ]);
    // The spec's own streaming example passes, so the assembly is not what fails a payload.
    const examples = spec.streamExample.split('\n').filter((line) => line.startsWith('{'));
    expect(examples).toHaveLength(3);
    for (const example of examples) expectValid(chunkValid, JSON.parse(example), 'spec example');
  });

  it('rejects malformed payloads (the validators can fail)', () => {
    const chunk = {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4-turbo',
      choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null, logprobs: null }],
      usage: null,
    };
    expect(chunkValid(chunk)).toBe(true);
    expect(chunkValid({ ...chunk, choices: [{ ...chunk.choices[0], finish_reason: 'done' }] })).toBe(false);
    const { created: _created, ...undated } = chunk;
    expect(chunkValid(undated)).toBe(false);
    expect(chunkValid({ ...chunk, object: 'chat.completion' })).toBe(false);
    expect(chunkValid({ ...chunk, usage: { prompt_tokens: 1 } })).toBe(false);
    expect(errorValid({ error: { message: 'x', type: 'server_error', code: null } })).toBe(false);
    expect(errorValid({ message: 'x', type: 'server_error', param: null, code: null })).toBe(false);
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gpt-4-turbo',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi', refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
    };
    expect(completionValid(completion)).toBe(true);
    // Not nullable outside a stream.
    expect(
      completionValid({ ...completion, choices: [{ ...completion.choices[0], finish_reason: null }] }),
    ).toBe(false);
    expect(
      embeddingValid({
        object: 'list',
        model: 'm',
        data: [{ index: 0, object: 'embedding', embedding: 'AAAA' }],
        usage: { prompt_tokens: 1, total_tokens: 1 },
      }),
    ).toBe(false);
    expect(requestValid({ model: 'gpt-4-turbo' })).toBe(false);
    expect(
      requestValid({
        model: 'gpt-4o-mini',
        messages,
        response_format: { type: 'json_schema', json_schema: { schema: {} } },
      }),
    ).toBe(false);
  });

  describe('streams', () => {
    const streamed = {
      model: 'gpt-4-turbo',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    };

    it('sends valid chunks, then the usage chunk, then [DONE]', async () => {
      const { data, contentType } = await readStream(streamed);
      expect(contentType).toBe('text/event-stream');
      expect(data.at(-1)).toBe('[DONE]');
      const chunks = data.slice(0, -1).map((line) => JSON.parse(line));
      expect(chunks.length).toBeGreaterThan(5);
      for (const chunk of chunks) expectValid(chunkValid, chunk, 'chunk');
      const usage = chunks.at(-1);
      expect(usage).toMatchObject({ choices: [], usage: { completion_tokens: expect.any(Number) } });
      expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
      expect(chunks.slice(0, -2).every((chunk) => chunk.choices[0].finish_reason === null)).toBe(true);
    });

    it('sends valid chunks without stream_options too', async () => {
      const { data } = await readStream({ model: 'gpt-4-turbo', messages, stream: true });
      for (const line of data.slice(0, -1)) expectValid(chunkValid, JSON.parse(line), 'chunk');
      expect(data.slice(0, -1).some((line) => JSON.parse(line).choices.length === 0)).toBe(false);
    });

    it('ends with finish_reason length when max_tokens cut the answer', async () => {
      const { data } = await readStream({ ...streamed, max_tokens: 5 });
      const chunks = data.slice(0, -1).map((line) => JSON.parse(line));
      for (const chunk of chunks) expectValid(chunkValid, chunk, 'chunk');
      expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
      expect(chunks.at(-1).usage.completion_tokens).toBe(5);
    });

    it.each(['stop', 'length', 'content_filter', 'tool_calls', 'function_call'] as const)(
      'sends valid chunks when a fault ends the stream with %s',
      async (reason) => {
        fake.injectFault({ kind: 'finish', reason, afterTokens: 3 });
        const { data } = await readStream(streamed);
        const chunks = data.slice(0, -1).map((line) => JSON.parse(line));
        for (const chunk of chunks) expectValid(chunkValid, chunk, 'chunk');
        expect(chunks.at(-2).choices[0].finish_reason).toBe(reason);
      },
    );

    it('sends a mid-stream error as {"error": Error}, after valid chunks', async () => {
      fake.injectFault({ kind: 'stream-error', afterTokens: 3 });
      const { data } = await readStream(streamed);
      const last = JSON.parse(data.at(-1) ?? '');
      expectValid(errorValid, last, 'stream error event');
      for (const line of data.slice(0, -1)) expectValid(chunkValid, JSON.parse(line), 'chunk');
      // The role chunk, three tokens, the error.
      expect(data).toHaveLength(5);
    });

    it('ends cleanly without finish_reason or [DONE], after valid chunks', async () => {
      fake.injectFault({ kind: 'no-finish', afterTokens: 3 });
      const { data, cut } = await readStream(streamed);
      expect(cut).toBe(false);
      expect(data).not.toContain('[DONE]');
      for (const line of data) {
        const chunk = JSON.parse(line);
        expectValid(chunkValid, chunk, 'chunk');
        expect(chunk.choices[0].finish_reason).toBeNull();
      }
    });

    it('sends valid chunks before a cut connection', async () => {
      fake.injectFault({ kind: 'cut-stream', afterTokens: 3 });
      const response = await post('/chat/completions', streamed);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      const decoder = new TextDecoder();
      const drain = async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          text += decoder.decode(value, { stream: true });
        }
      };
      await expect(drain()).rejects.toThrow();
      const chunks = text.split('\n\n').filter((block) => block.startsWith('data: {'));
      expect(chunks).toHaveLength(4);
      for (const block of chunks) expectValid(chunkValid, JSON.parse(block.slice(6)), 'chunk');
    });
  });

  describe('completions', () => {
    it.each<[string, Record<string, unknown>, Fault | undefined]>([
      ['a whole answer', {}, undefined],
      ['an answer cut by max_completion_tokens', { max_completion_tokens: 4 }, undefined],
      [
        'an answer ended by a content_filter fault',
        {},
        { kind: 'finish', reason: 'content_filter', afterTokens: 3 },
      ],
      [
        'a forced function call',
        {
          tools: [
            { type: 'function', function: { name: 'classify_intent', parameters: { type: 'object' } } },
          ],
          tool_choice: { type: 'function', function: { name: 'classify_intent' } },
          messages: [
            { role: 'system', content: 'Classify the intent. Answer with JSON.' },
            { role: 'user', content: 'where is my order?' },
          ],
        },
        undefined,
      ],
      [
        'a JSON-mode classification',
        {
          response_format: { type: 'json_object' },
          model: 'gpt-3.5-turbo',
          messages: [
            { role: 'system', content: 'Classify the intent. Answer with JSON.' },
            { role: 'user', content: 'where is my order?' },
          ],
        },
        undefined,
      ],
    ])('sends a valid completion for %s', async (_name, extra, fault) => {
      if (fault) fake.injectFault(fault);
      const response = await post('/chat/completions', { model: 'gpt-4-turbo', messages, ...extra });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expectValid(completionValid, await response.json(), 'completion');
    });
  });

  describe('errors', () => {
    const chat = { model: 'gpt-4-turbo', messages };
    const refusedSchema = {
      model: 'gpt-3.5-turbo',
      messages,
      response_format: { type: 'json_schema', json_schema: { name: 'intent', schema: { type: 'object' } } },
    };
    const refusedJsonObject = {
      model: 'gpt-3.5-turbo',
      messages: [{ role: 'user', content: 'Classify this' }],
      response_format: { type: 'json_object' },
    };
    it.each<[string, Fault | undefined, () => Promise<Response>, number]>([
      ['a 500 fault', { kind: 'status', status: 500 }, () => post('/chat/completions', chat), 500],
      [
        'a 503 fault with a message',
        { kind: 'status', status: 503, message: 'Slow down' },
        () => post('/chat/completions', chat),
        503,
      ],
      [
        'a 429 with Retry-After',
        { kind: 'rate-limit', retryAfterSeconds: 20 },
        () => post('/chat/completions', chat),
        429,
      ],
      ['a 429 without Retry-After', { kind: 'rate-limit' }, () => post('/chat/completions', chat), 429],
      ['a 429 for an exhausted quota', { kind: 'quota' }, () => post('/chat/completions', chat), 429],
      [
        'a 429 on embeddings',
        { kind: 'quota' },
        () => post('/embeddings', { model: 'text-embedding-3-small', input: 'x' }),
        429,
      ],
      ['json_schema on gpt-3.5-turbo', undefined, () => post('/chat/completions', refusedSchema), 400],
      ['json_object without "json"', undefined, () => post('/chat/completions', refusedJsonObject), 400],
      ['no API key', undefined, () => fetch(`${fake.url}/models`), 401],
      ['an unknown route', undefined, () => post('/nowhere', {}), 404],
      ['a body that is not JSON', undefined, () => post('/chat/completions', '{"model": '), 400],
      [
        'no messages',
        undefined,
        () => post('/chat/completions', { model: 'gpt-4-turbo', messages: [] }),
        400,
      ],
      [
        'embeddings without input',
        undefined,
        () => post('/embeddings', { model: 'text-embedding-3-small' }),
        400,
      ],
    ])('sends a valid error body for %s', async (_name, fault, send, status) => {
      if (fault) fake.injectFault(fault);
      const response = await send();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json');
      expectValid(errorValid, await response.json(), 'error body');
      if (status === 429) {
        // The only rate-limit header the spec has: Retry-After, integer seconds >= 1, or none.
        const retryAfter = response.headers.get('retry-after');
        const headerSchema = (tooManyRequests.headers as Record<string, SchemaNode>)['Retry-After']
          ?.schema as {
          type: string;
          minimum: number;
        };
        expect(headerSchema).toEqual({ type: 'integer', minimum: 1 });
        if (retryAfter !== null) {
          expect(Number.isInteger(Number(retryAfter))).toBe(true);
          expect(Number(retryAfter)).toBeGreaterThanOrEqual(headerSchema.minimum);
        }
        expect(
          fault?.kind === 'rate-limit' && fault.retryAfterSeconds === undefined ? null : retryAfter,
        ).toBe(
          fault?.kind === 'rate-limit' && fault.retryAfterSeconds !== undefined
            ? String(fault.retryAfterSeconds)
            : null,
        );
      }
    });
  });

  describe('embeddings', () => {
    it('sends a valid response in the float encoding and, decoded, in base64', async () => {
      const asFloat = await post('/embeddings', {
        model: 'text-embedding-3-small',
        input: ['return policy', 'hammock'],
        encoding_format: 'float',
      });
      expectValid(embeddingValid, await asFloat.json(), 'embeddings (float)');
      const asBase64 = (await (
        await post('/embeddings', { model: 'text-embedding-3-small', input: 'return policy', dimensions: 8 })
      ).json()) as { data: { embedding: unknown }[] };
      expect(typeof asBase64.data[0]?.embedding).toBe('string');
      // The spec describes the float form only; base64 is the same vector as little-endian float32.
      for (const item of asBase64.data) {
        const bytes = Buffer.from(String(item.embedding), 'base64');
        item.embedding = [...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)];
      }
      expectValid(embeddingValid, asBase64, 'embeddings (base64, decoded)');
    });
  });

  describe('the requests our code sends', () => {
    const definitions = intentNames.map((name) => ({ name, description: `about ${name}`, examples: [] }));

    it.each<[ClassifierFormat, string, string | undefined]>([
      ['auto', 'gpt-4o-mini', 'json_schema'],
      ['auto', 'gpt-3.5-turbo', 'json_object'],
      ['tool', 'gpt-3.5-turbo', undefined],
      ['text', 'gpt-3.5-turbo', undefined],
    ])('the classifier in the %s format on %s', async (format, model, responseFormat) => {
      const classifier = new OpenAIIntentClassifier({ client, definitions, model, format });
      await expect(classifier.classify('This is unacceptable, I want a manager')).resolves.toMatchObject({
        intent: 'complaint',
      });
      expect(fake.requests).toHaveLength(1);
      const body = fake.requests[0]?.body as Record<string, unknown>;
      expectValid(requestValid, body, 'classifier request');
      expect((body.response_format as { type?: string } | undefined)?.type).toBe(responseFormat);
      expect(body.tools !== undefined).toBe(format === 'tool');
    });

    it('the answer model, streaming with usage and history', async () => {
      const model = new OpenAIAnswerModel({ client, model: 'gpt-4-turbo', maxTokens: 50 });
      const events = [];
      for await (const event of model.streamAnswer({
        systemPrompt: 'Answer from the passages.',
        question: 'How many business days until the refund is issued?',
        passages: [
          {
            id: 'p',
            documentId: 'policies/refunds',
            title: 'Refunds',
            headingPath: '',
            text: 'Refunds are issued within 3 business days after the return is inspected.',
            index: 0,
            score: 1,
          },
        ],
        history: [{ question: 'Hi', answer: 'Hello! How can I help?' }],
      }))
        events.push(event);
      expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop' });
      const body = fake.requests[0]?.body as Record<string, unknown>;
      expectValid(requestValid, body, 'answer request');
      expect(body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_tokens: 50 });
    });
  });
});
