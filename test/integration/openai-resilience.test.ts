import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createHttpAdapter } from '../../adapters/http/server.ts';
import { loadPrompts } from '../../src/agent/prompts.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import type { AnswerEvent } from '../../src/llm/answer-model.ts';
import { intentNames } from '../../src/llm/intents.ts';
import { OpenAIAnswerModel } from '../../src/llm/openai-answer-model.ts';
import { OpenAIIntentClassifier } from '../../src/llm/openai-intent-classifier.ts';
import { type ChatRequest, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import { postMessage } from '../support/sse.ts';

/**
 * What the real API does that the happy path never shows — answers cut at max_tokens or filtered,
 * streams that end without a finish reason or with an error event, models that refuse a
 * response_format, 429s with a long Retry-After or for an exhausted quota — through the whole bot:
 * the real openai client against the fake, real Chroma.
 */
const chromaUrl = inject('chromaUrl');
const workDir = mkdtempSync(path.join(tmpdir(), 'openai-resilience-'));
const knowledgeDir = path.join(workDir, 'knowledge');
const collection = `it-resilience-${process.pid}-${Date.now()}`;
const maxAnswerTokens = 24;

interface Running {
  bot: SupportBot;
  server: Server;
  url: string;
}

async function startBot(fake: FakeOpenAI): Promise<Running> {
  const config = loadConfig({
    env: {
      CHROMA_URL: chromaUrl,
      KB_COLLECTION: collection,
      KB_SOURCE: knowledgeDir,
      DATA_DIR: workDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.url,
      LLM_PROVIDER: 'openai',
      EMBEDDINGS_PROVIDER: 'offline',
      // Every message goes to the cheap model, so its format and deadline are always in play.
      INTENT_FAST_PATH_THRESHOLD: '1.01',
      CACHE_NEAR_DUPLICATES: 'false',
      LOG_LEVEL: 'silent',
      // One customer asking this many questions a minute would be limited: not what this is about.
      LIMITS_ENABLED: 'false',
    },
    loadDotEnv: false,
  });
  config.openai.timeoutSeconds = 5;
  // The default: two SDK retries, as in production.
  config.openai.maxRetries = 2;
  config.llm.maxAnswerTokens = maxAnswerTokens;
  const bot = await createSupportBot({ config });
  const server = createHttpAdapter({ agent: bot.agent, metrics: bot.metrics, health: () => bot.health() });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { bot, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const callsFor = (fake: FakeOpenAI, model: string) =>
  fake.requests.filter((request) => (request.body as ChatRequest | undefined)?.model === model);

describe('the bot against what the real OpenAI API does', () => {
  let fake: FakeOpenAI;
  let running: Running;
  let replies: Awaited<ReturnType<typeof loadPrompts>>['replies'];
  let conversation = 0;
  const ask = (text: string) => postMessage(running.url, { conversationId: `c-${++conversation}`, text });
  const metric = async (pattern: RegExp) =>
    pattern.exec(await (await fetch(`${running.url}/metrics`)).text())?.[1];

  beforeAll(async () => {
    cpSync(path.join(projectRoot, 'config', 'knowledge'), knowledgeDir, { recursive: true });
    // Answers shorter than the token limit unless a test says otherwise.
    fake = await startFakeOpenAI({ profile: { answerTokens: 20 } });
    running = await startBot(fake);
    await syncKnowledgeSource({
      knowledgeBase: running.bot.knowledgeBase,
      source: knowledgeDir,
      chunkTokens: 200,
      batchSize: 64,
    });
    replies = (await loadPrompts(path.join(projectRoot, 'config', 'prompts.yaml'))).replies;
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    running.server.closeAllConnections();
    running.server.close();
    await running.bot.close();
    await fake.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  describe('an answer that did not finish with stop', () => {
    it('cut by max_tokens: ends at a whole sentence, says so, is degraded and never served from the cache', async () => {
      fake.setProfile({ answerTokens: 200 }, 'gpt-4-turbo');
      const question = 'How many days after delivery can I return something?';
      const first = await ask(question);
      expect((callsFor(fake, 'gpt-4-turbo')[0]?.body as ChatRequest | undefined)?.max_tokens).toBe(
        maxAnswerTokens,
      );
      expect(first.end).toMatchObject({ degraded: 'cut_length', cache: 'miss' });
      const text = String(first.end?.text);
      expect(text.endsWith(`\n\n${replies.cutLength}`)).toBe(true);
      expect(text.slice(0, -replies.cutLength.length).trim()).toMatch(/[.!?](?:\s*\[\d+\])?$/);

      const again = await ask(question);
      expect(again.start?.cache).toBe('miss');
      expect(again.end?.degraded).toBe('cut_length');
      expect(callsFor(fake, 'gpt-4-turbo')).toHaveLength(2);
      expect(await metric(/supportbot_degraded_replies_total\{reason="cut_length"\} (\d+)/)).toBe('2');
    });

    it('content_filter: the filtered half-text is replaced by a polite line and the offer of a person', async () => {
      fake.injectFault(
        { kind: 'finish', reason: 'content_filter', afterTokens: 8 },
        { model: 'gpt-4-turbo' },
      );
      const question = 'Can I return a jacket I have worn once?';
      const reply = await ask(question);
      expect(reply.end).toMatchObject({ degraded: 'content_filter', text: replies.contentFiltered });
      const again = await ask(question);
      expect(again.start?.cache).toBe('miss');
      expect(again.end?.degraded).toBeUndefined();
    });

    it('no finish reason at all: finished honestly as interrupted, not cached', async () => {
      fake.injectFault({ kind: 'no-finish', afterTokens: 8 }, { model: 'gpt-4-turbo' });
      const question = 'Can I return an opened skillet for a refund?';
      const reply = await ask(question);
      expect(reply.end?.degraded).toBe('model_interrupted');
      expect(String(reply.end?.text).endsWith(replies.interrupted)).toBe(true);
      expect(reply.streamed).toBe(reply.end?.text);
      expect((await ask(question)).start?.cache).toBe('miss');
    });

    it('a mid-stream error event: finished honestly as interrupted, not retried', async () => {
      fake.injectFault({ kind: 'stream-error', afterTokens: 8 }, { model: 'gpt-4-turbo' });
      const reply = await ask('How long do refunds take to reach my card?');
      expect(reply.end?.degraded).toBe('model_interrupted');
      expect(String(reply.end?.text)).toContain(replies.interrupted);
      expect(callsFor(fake, 'gpt-4-turbo')).toHaveLength(1);
    });
  });

  describe('the cheap classifier', () => {
    it("asks gpt-3.5-turbo in a format it accepts, and uses the model's intent", async () => {
      const reply = await ask('Is there a fee for exchanging boots for another size?');
      expect(reply.start).toMatchObject({ intentSource: 'model' });
      const classifications = callsFor(fake, 'gpt-3.5-turbo');
      expect(classifications).toHaveLength(1);
      expect((classifications[0]?.body as ChatRequest | undefined)?.response_format?.type).toBe(
        'json_object',
      );
    });

    it('gives up on a 429 with Retry-After 20 at the deadline: the first answer token is not held, and it is counted', async () => {
      const answerTtftMs = 300;
      fake.setProfile({ ttftMs: answerTtftMs, tokensPerSecond: 200 }, 'gpt-4-turbo');
      fake.injectFault({ kind: 'rate-limit', retryAfterSeconds: 20 }, { model: 'gpt-3.5-turbo', times: 3 });
      const reply = await ask('What is the warranty on trekking poles?');
      const deadlineMs = 2_000; // llm.classifierDeadlineMs, by default
      expect(reply.start).toMatchObject({ intentSource: 'local' });
      console.log(`first answer token after ${Math.round(reply.firstDeltaMs ?? -1)} ms`);
      expect(reply.firstDeltaMs).toBeGreaterThanOrEqual(deadlineMs + answerTtftMs - 50);
      expect(reply.firstDeltaMs).toBeLessThan(deadlineMs + answerTtftMs + 1_500);
      expect(reply.end?.degraded).toBeUndefined();
      expect(await metric(/supportbot_classifier_fallbacks_total\{reason="deadline"\} (\d+)/)).toBe('1');
    });

    it('does not retry a 429 for an exhausted quota: the local answer stands at once, counted as an error', async () => {
      fake.injectFault({ kind: 'quota' }, { model: 'gpt-3.5-turbo', times: 3 });
      const started = performance.now();
      const reply = await ask('Can I pay with a gift card and a credit card together?');
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(reply.start).toMatchObject({ intentSource: 'local' });
      expect(callsFor(fake, 'gpt-3.5-turbo')).toHaveLength(1);
      expect(await metric(/supportbot_classifier_fallbacks_total\{reason="error"\} (\d+)/)).toBe('1');
    });
  });

  describe('the answer model and 429s', () => {
    it('does not keep the customer waiting on retries of an exhausted quota', async () => {
      fake.injectFault({ kind: 'quota' }, { model: 'gpt-4-turbo', times: 3 });
      const reply = await ask('How do I reset my password?');
      expect(reply.end?.degraded).toBe('model_unavailable');
      expect(String(reply.end?.text)).toContain(replies.offerHuman);
      expect(callsFor(fake, 'gpt-4-turbo')).toHaveLength(1);
      expect(reply.firstDeltaMs).toBeLessThan(1_000);
    });

    it('retries a 429 without Retry-After after the back-off and answers normally', async () => {
      fake.injectFault({ kind: 'rate-limit' }, { model: 'gpt-4-turbo', times: 1 });
      const reply = await ask('How do I pay with a gift card?');
      expect(reply.end?.degraded).toBeUndefined();
      expect(callsFor(fake, 'gpt-4-turbo')).toHaveLength(2);
    });
  });
});

describe('a model unknown to the classifier, on a server without Structured Outputs', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ structuredOutputs: (model) => model !== 'acme-small' });
  });
  afterAll(() => fake.close());

  it('steps down to json_object once, logs it once, and classifies with the model', async () => {
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 0, timeout: 5_000 });
    const logged: string[] = [];
    const classifier = new OpenAIIntentClassifier({
      client,
      definitions: intentNames.map((name) => ({ name, description: `about ${name}`, examples: [] })),
      model: 'acme-small',
      logger: {
        info: (_fields, message) => logged.push(String(message)),
        warn() {},
        error() {},
        debug() {},
      },
    });
    expect(await classifier.classify('This is unacceptable, I want a manager')).toMatchObject({
      intent: 'complaint',
      source: 'model',
    });
    expect(await classifier.classify('Where is my package? It has not arrived')).toMatchObject({
      intent: 'order_status',
    });
    const formats = fake.requests.map(
      (request) => (request.body as ChatRequest | undefined)?.response_format?.type,
    );
    expect(formats).toEqual(['json_schema', 'json_object', 'json_object']);
    expect(logged).toEqual([
      'intent model acme-small refused the json_schema format; asking with json_object from now on',
    ]);
  });
});

describe('OpenAIAnswerModel, through the real client', () => {
  let fake: FakeOpenAI;
  let model: OpenAIAnswerModel;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ profile: { answerTokens: 40 } });
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 0, timeout: 5_000 });
    model = new OpenAIAnswerModel({ client, model: 'gpt-4-turbo', maxTokens: 8 });
  });
  afterAll(() => fake.close());

  const streamEnd = async () => {
    let end: Extract<AnswerEvent, { type: 'end' }> | undefined;
    for await (const event of model.streamAnswer({
      systemPrompt: 'Answer from the passages.',
      question: 'How long do refunds take?',
      passages: [
        {
          id: 'p',
          documentId: 'policies/refunds',
          title: 'Refunds',
          headingPath: '',
          text: 'Refunds are issued within 3 business days after the return is inspected. Banks need 5 to 10 business days to show the refund.',
          index: 0,
          score: 1,
        },
      ],
      history: [],
    }))
      if (event.type === 'end') end = event;
    return end;
  };

  it.each(['stop', 'length', 'content_filter', 'tool_calls', 'function_call'] as const)(
    'ends with the finish reason the API sent: %s',
    async (reason) => {
      fake.injectFault({ kind: 'finish', reason, afterTokens: 5 });
      expect(await streamEnd()).toMatchObject({ type: 'end', finishReason: reason });
    },
  );

  it('reports length when its own max_tokens cut the answer, and null when the stream gave no reason', async () => {
    expect((await streamEnd())?.finishReason).toBe('length');
    fake.injectFault({ kind: 'no-finish', afterTokens: 5 });
    expect(await streamEnd()).toEqual({ type: 'end', finishReason: null });
  });
});
