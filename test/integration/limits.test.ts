import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createHttpAdapter } from '../../adapters/http/server.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import { type ChatRequest, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import { postMessage, type SseReply } from '../support/sse.ts';
import { variedQuestions } from '../support/varied-questions.ts';

const chromaUrl = inject('chromaUrl');
const workDir = mkdtempSync(path.join(tmpdir(), 'limits-it-'));
const knowledgeDir = path.join(workDir, 'knowledge');
const collection = `it-limits-${process.pid}-${Date.now()}`;

interface Running {
  bot: SupportBot;
  server: ReturnType<typeof createHttpAdapter>;
  url: string;
}

async function startBot(fake: FakeOpenAI, env: Record<string, string> = {}): Promise<Running> {
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
      LOG_LEVEL: 'silent',
      ...env,
    },
    loadDotEnv: false,
  });
  config.openai.maxRetries = 1;
  const bot = await createSupportBot({ config });
  const server = createHttpAdapter({ agent: bot.agent, metrics: bot.metrics });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { bot, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stopBot(running: Running | undefined): Promise<void> {
  if (!running) return;
  running.server.closeAllConnections();
  running.server.close();
  await running.bot.close();
}

const callsTo = (fake: FakeOpenAI, model: string) =>
  fake.requests.filter((request) => (request.body as ChatRequest | undefined)?.model === model).length;
const answerEnds = (reply: SseReply) => reply.events.filter((item) => item.event === 'answer-end');

/** Sends `texts` spread evenly over `withinMs`, without waiting for one reply before the next. */
async function flood(
  url: string,
  texts: string[],
  withinMs: number,
  body: (index: number) => { userId: string; conversationId: string },
): Promise<SseReply[]> {
  const started = performance.now();
  const replies: Promise<SseReply>[] = [];
  for (const [index, text] of texts.entries()) {
    const due = started + (index * withinMs) / texts.length;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    replies.push(postMessage(url, { ...body(index), text }));
  }
  return Promise.all(replies);
}

describe('limits in front of the models, through the HTTP API with real Chroma and the fake OpenAI', () => {
  let fake: FakeOpenAI;
  /** Ingests the collection every test's bot reads, and drops it at the end. */
  let owner: Running;
  let running: Running | undefined;

  beforeAll(async () => {
    cpSync(path.join(projectRoot, 'config', 'knowledge'), knowledgeDir, { recursive: true });
    fake = await startFakeOpenAI({ profile: { answerTokens: 80 } });
    owner = await startBot(fake);
    await syncKnowledgeSource({
      knowledgeBase: owner.bot.knowledgeBase,
      source: knowledgeDir,
      chunkTokens: 200,
      batchSize: 64,
    });
  });

  beforeEach(() => fake.reset());

  afterEach(async () => {
    await stopBot(running);
    running = undefined;
  });

  afterAll(async () => {
    await (await owner.bot.knowledgeBase.store()).drop().catch(() => undefined);
    await stopBot(owner);
    await fake.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('answers one customer flooding 300 varied questions in 10 s with 12 model answers and 288 polite refusals', async () => {
    running = await startBot(fake);
    const questions = variedQuestions(300);
    const replies = await flood(running.url, questions, 10_000, (index) => ({
      userId: 'flooder',
      conversationId: `flood-${index}`,
    }));

    // Every message got exactly one reply.
    expect(replies.map((reply) => reply.status)).toEqual(Array(300).fill(200));
    expect(replies.map((reply) => answerEnds(reply).length)).toEqual(Array(300).fill(1));
    const limited = replies.filter((reply) => reply.end?.degraded === 'limited_user');
    const strongCalls = callsTo(fake, 'gpt-4-turbo');
    console.info(
      `300 messages from one customer in 10 s: ${strongCalls} strong-model calls, ${callsTo(fake, 'gpt-3.5-turbo')} classifier calls, ${limited.length} limited`,
    );
    // The defaults: 8 a minute and a burst of 4.
    expect(strongCalls).toBeGreaterThan(0);
    expect(strongCalls).toBeLessThanOrEqual(12);
    expect(callsTo(fake, 'gpt-3.5-turbo')).toBeLessThanOrEqual(12);
    expect(limited).toHaveLength(288);
    expect(String(limited[0]?.end?.text)).toMatch(/^You're sending messages faster than I can answer them/);
    expect(limited.every((reply) => reply.streamed === reply.end?.text)).toBe(true);

    // Staff hear of it once, not 288 times; the threads stay with the bot.
    const notices = replies.map((reply) => reply.end?.notice).filter(Boolean);
    expect(notices).toEqual([
      expect.stringMatching(/^Message limit: flooder on http sent more than 8 messages/),
    ]);
    expect(replies.some((reply) => reply.end?.handoff)).toBe(false);

    const metrics = await (await fetch(new URL('/metrics', running.url))).text();
    expect(metrics).toContain('supportbot_limited_total{scope="user"} 288');
  });

  it('limits one conversation, whoever writes in it, to 20 answers in 10 minutes', async () => {
    running = await startBot(fake);
    const questions = variedQuestions(30);
    const replies = await flood(running.url, questions, 3_000, (index) => ({
      userId: `customer-${index % 3}`,
      conversationId: 'one-busy-thread',
    }));
    expect(replies.map((reply) => answerEnds(reply).length)).toEqual(Array(30).fill(1));
    const limited = replies.filter((reply) => reply.end?.degraded === 'limited_conversation');
    expect(limited).toHaveLength(10);
    expect(String(limited[0]?.end?.text)).toMatch(/^This conversation has had a lot of questions/);
    expect(callsTo(fake, 'gpt-4-turbo')).toBeLessThanOrEqual(20);
    expect(replies.map((reply) => reply.end?.notice).filter(Boolean)).toHaveLength(1);
  });

  it('answers from the help center once the hour’s budget is spent; greetings and hand-offs carry on', async () => {
    // About a cent an answer (gpt-4-turbo at $10/$30 per million tokens): five answers' worth.
    running = await startBot(fake, { LIMIT_BUDGET_USD_PER_HOUR: '0.05', CACHE_ENABLED: 'false' });
    const replies: SseReply[] = [];
    for (const [index, text] of variedQuestions(15).entries())
      replies.push(await postMessage(running.url, { userId: `customer-${index}`, text }));
    const strongCalls = callsTo(fake, 'gpt-4-turbo');
    const costs = replies.map((reply) => Number(reply.end?.costUsd ?? 0)).filter((cost) => cost > 0);
    const cost = costs.reduce((sum, each) => sum + each, 0);
    console.info(
      `budget $0.05: ${strongCalls} strong-model calls costing $${cost.toFixed(4)}, then extractive`,
    );
    expect(strongCalls).toBeGreaterThan(0);
    expect(strongCalls).toBeLessThan(10);
    expect(costs).toHaveLength(strongCalls);
    // Checked before each call: the one that crossed the budget is the last one made.
    expect(cost - (costs.at(-1) ?? 0)).toBeLessThan(0.05);
    const degraded = replies.filter((reply) => reply.end?.degraded === 'budget');
    expect(degraded.length).toBeGreaterThanOrEqual(5);
    for (const reply of degraded) {
      expect(reply.end).toMatchObject({ degraded: 'budget', costUsd: 0 });
      expect(String(reply.end?.text)).toMatch(/^Here is what I found in our help center:/);
      expect(reply.end?.sources).not.toEqual([]);
    }

    const greeting = await postMessage(running.url, { userId: 'greeter', text: 'hello there!' });
    expect(greeting.end).toMatchObject({ intent: 'greeting' });
    expect(greeting.end?.degraded).toBeUndefined();
    const person = await postMessage(running.url, { userId: 'asker', text: 'can I talk to a human please' });
    expect(person.end?.handoff).toMatchObject({ reason: 'requested' });
    expect(callsTo(fake, 'gpt-4-turbo')).toBe(strongCalls);

    const metrics = await (await fetch(new URL('/metrics', running.url))).text();
    expect(metrics).toMatch(/supportbot_limited_total\{scope="budget"\} [1-9]/);
    const spent = Number(/supportbot_budget_spent_usd\{tenant="default"\} ([\d.]+)/.exec(metrics)?.[1]);
    expect(spent).toBeGreaterThanOrEqual(0.05);
  });
});
