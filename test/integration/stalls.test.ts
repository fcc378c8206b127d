import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpAdapter } from '../../adapters/http/server.ts';
import { loadPrompts } from '../../src/agent/prompts.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { type ChromaServer, startChromaServer } from '../../src/knowledge/chroma-launcher.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import { postMessage, type SseReply } from '../support/sse.ts';

/**
 * A stalled dependency must cost a bounded wait, never a silent bot: a Chroma of the test's own
 * frozen with SIGSTOP (its socket open, nothing answering), and models that hang, against the real
 * core behind the real HTTP adapter and the real openai client.
 */
const workDir = mkdtempSync(path.join(tmpdir(), 'stalls-it-'));
const knowledgeDir = path.join(workDir, 'knowledge');
const prompts = await loadPrompts(path.join(projectRoot, 'config', 'prompts.yaml'));
const knowledgeTimeoutMs = 1_500;

interface Running {
  bot: SupportBot;
  server: Server;
  url: string;
}

async function startBot(chromaUrl: string, fake: FakeOpenAI, env: Record<string, string>): Promise<Running> {
  const config = loadConfig({
    env: {
      CHROMA_URL: chromaUrl,
      KB_SOURCE: knowledgeDir,
      DATA_DIR: workDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.url,
      LLM_PROVIDER: 'openai',
      EMBEDDINGS_PROVIDER: 'offline',
      KB_TIMEOUT_MS: String(knowledgeTimeoutMs),
      LOG_LEVEL: 'silent',
      // Many messages from one customer here: the limits are not what is tested.
      LIMITS_ENABLED: 'false',
      ...env,
    },
    loadDotEnv: false,
  });
  const bot = await createSupportBot({ config });
  await syncKnowledgeSource({
    knowledgeBase: bot.knowledgeBase,
    source: knowledgeDir,
    chunkTokens: 200,
    batchSize: 64,
  });
  const server = createHttpAdapter({ agent: bot.agent, metrics: bot.metrics, health: () => bot.health() });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { bot, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stopBot(running: Running | undefined): Promise<void> {
  if (!running) return;
  running.server.closeAllConnections();
  running.server.close();
  await (await running.bot.knowledgeBase.store()).drop().catch(() => undefined);
  await running.bot.close();
}

async function timed(send: () => Promise<SseReply>): Promise<{ reply: SseReply; ms: number }> {
  const started = performance.now();
  const reply = await send();
  return { reply, ms: performance.now() - started };
}

async function health(url: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const response = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(10_000) });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    ms: performance.now() - started,
  };
}

/** Polls an async `probe` until it holds. */
async function eventually(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let chroma: ChromaServer;
let fake: FakeOpenAI;
let conversation = 0;
const fresh = () => `stall-${++conversation}`;
const freeze = () => process.kill(-chroma.pid, 'SIGSTOP');
const thaw = () => process.kill(-chroma.pid, 'SIGCONT');

beforeAll(async () => {
  cpSync(path.join(projectRoot, 'config', 'knowledge'), knowledgeDir, { recursive: true });
  chroma = await startChromaServer({
    dataDir: path.join(workDir, 'chroma'),
    runtimeCacheDir: path.join(projectRoot, '.cache'),
    logFile: path.join(workDir, 'chroma.log'),
  });
  fake = await startFakeOpenAI({ profile: { ttftMs: 50, tokensPerSecond: 400, answerTokens: 40 } });
});

afterAll(async () => {
  thaw();
  await chroma?.stop();
  await fake?.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('Chroma frozen (SIGSTOP)', () => {
  let running: Running;
  beforeAll(async () => {
    running = await startBot(chroma.url, fake, { KB_COLLECTION: `it-stall-${process.pid}` });
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    thaw();
    await stopBot(running);
  });

  it('greets, serves cached answers and answers /healthz at once; questions get an honest hand-off in time; released when Chroma is back unless staff took over', async () => {
    const cachedQuestion = 'How many days after delivery can I return something?';
    const warm = await postMessage(running.url, { conversationId: fresh(), text: cachedQuestion });
    expect(warm.end?.degraded).toBeUndefined();
    // The knowledge-base version is due for a re-read, so a lookup would meet the frozen store.
    await new Promise((resolve) => setTimeout(resolve, 5_500));

    let asked: { conversationId: string; reply: SseReply; ms: number }[] = [];
    freeze();
    try {
      const greeting = await timed(() =>
        postMessage(running.url, { conversationId: fresh(), text: 'hello there!' }),
      );
      expect(greeting.reply.end?.intent).toBe('greeting');
      expect(greeting.ms).toBeLessThan(1_000);

      const cached = await timed(() =>
        postMessage(running.url, { conversationId: fresh(), text: cachedQuestion }),
      );
      expect(cached.reply.end?.cache).toBe('hit');
      expect(cached.ms).toBeLessThan(1_000);

      asked = await Promise.all(
        ['Do you ship to Canada?', 'What is the warranty on tents?', 'Can I pay with PayPal?'].map(
          async (text) => {
            const conversationId = fresh();
            return {
              conversationId,
              ...(await timed(() => postMessage(running.url, { conversationId, text }))),
            };
          },
        ),
      );
      for (const { reply, ms } of asked) {
        expect(reply.end?.text).toBe(prompts.replies.knowledgeDown);
        expect(reply.end?.handoff).toMatchObject({ reason: 'knowledge_unavailable' });
        expect(ms).toBeLessThan(knowledgeTimeoutMs + 1_500);
      }

      const down = await health(running.url);
      expect(down.ms).toBeLessThan(2_500);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({
        knowledgeBase: 'down',
        components: { knowledge: { state: 'down' } },
      });

      // A person answers in one of the handed-over threads: that one is theirs now.
      const taken = asked[1]?.conversationId as string;
      for await (const _ of running.bot.agent.handle({
        platform: 'http',
        channelId: 'web',
        threadId: taken,
        messageId: 'staff-1',
        userId: 'agent-ann',
        userIsStaff: true,
        text: 'Hi, Ann from support here.',
      })) {
        // drained
      }
    } finally {
      thaw();
    }

    // Recovery is noticed by the probe, without a question, and the outage's hand-offs go back.
    const released = asked[0]?.conversationId as string;
    await eventually(
      async () => (await running.bot.agent.threadOwner({ platform: 'http', threadId: released })) === 'bot',
      15_000,
    );
    const after = await postMessage(running.url, {
      conversationId: released,
      text: 'Do you ship to Canada?',
    });
    expect(after.end?.text).not.toBe(prompts.replies.knowledgeDown);
    expect(after.end?.handoff).toBeUndefined();
    expect(
      await running.bot.agent.threadOwner({ platform: 'http', threadId: asked[1]?.conversationId as string }),
    ).toBe('staff');
    const silent = await postMessage(running.url, {
      conversationId: asked[1]?.conversationId as string,
      text: 'hello?',
    });
    expect(silent.end).toBeUndefined();
    expect((await health(running.url)).status).toBe(200);
  }, 60_000);

  it('single-flight: followers never inherit the first asker leaving, nor its hand-off', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const question = 'How do I clean my sleeping bag after a trip?';
    freeze();
    const leader = new AbortController();
    const leaderReply = postMessage(
      running.url,
      { conversationId: fresh(), userId: 'first-asker', text: question },
      leader.signal,
    ).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const followers = ['second-asker', 'third-asker'].map((userId) =>
      postMessage(running.url, { conversationId: fresh(), userId, text: question }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    leader.abort();
    await new Promise((resolve) => setTimeout(resolve, 300));
    thaw();
    await leaderReply;
    for (const reply of await Promise.all(followers)) {
      expect(reply.end?.text).not.toBe(prompts.replies.knowledgeDown);
      expect(reply.end?.handoff).toBeUndefined();
    }

    // The store frozen for longer than the deadline: each asker gets a hand-off of their own.
    const other = 'Which stove fuel can I bring on a plane?';
    freeze();
    const askers = ['asker-a', 'asker-b', 'asker-c'].map((userId) => ({ userId, conversationId: fresh() }));
    let replies: SseReply[];
    try {
      replies = await Promise.all(
        askers.map(({ userId, conversationId }) =>
          postMessage(running.url, { conversationId, userId, text: other }),
        ),
      );
    } finally {
      thaw();
    }
    for (const [index, reply] of replies.entries()) {
      const { userId, conversationId } = askers[index] as { userId: string; conversationId: string };
      expect(reply.end?.handoff).toMatchObject({ reason: 'knowledge_unavailable' });
      const summary = String((reply.end?.handoff as { summary?: string } | undefined)?.summary);
      expect(summary).toContain(userId);
      for (const { userId: stranger } of askers.filter((asker) => asker.userId !== userId))
        expect(summary).not.toContain(stranger);
      expect(await running.bot.agent.threadOwner({ platform: 'http', threadId: conversationId })).toBe(
        'staff',
      );
    }
  }, 60_000);
});

describe('models that hang', () => {
  let running: Running;
  beforeAll(async () => {
    running = await startBot(chroma.url, fake, {
      KB_COLLECTION: `it-stall-model-${process.pid}`,
      // Every question goes to the cheap model; the SDK's own timeout stays at its 30 s default.
      INTENT_FAST_PATH_THRESHOLD: '1.01',
      LLM_FIRST_TOKEN_TIMEOUT_SECONDS: '2',
    });
  });
  beforeEach(() => fake.reset());
  afterAll(() => stopBot(running));

  it('the cheap classifier hanging costs its deadline, not the SDK timeouts', async () => {
    fake.injectFault({ kind: 'hang' }, { model: 'gpt-3.5-turbo', times: 100 });
    const { reply, ms } = await timed(() =>
      postMessage(running.url, { conversationId: fresh(), text: 'How long does standard shipping take?' }),
    );
    expect(reply.end?.degraded).toBeUndefined();
    expect(ms).toBeLessThan(running.bot.config.llm.classifierDeadlineMs + 3_000);
  }, 60_000);

  it('the strong model hanging before its first token: the extractive answer within the first-token bound', async () => {
    fake.injectFault({ kind: 'hang' }, { model: 'gpt-4-turbo', times: 100 });
    const { reply, ms } = await timed(() =>
      postMessage(running.url, { conversationId: fresh(), text: 'What is the return window for boots?' }),
    );
    expect(reply.end?.degraded).toBe('model_unavailable');
    expect(String(reply.end?.text)).toContain(prompts.replies.modelDown);
    expect(ms).toBeLessThan(2_000 + running.bot.config.llm.classifierDeadlineMs + 2_000);
  }, 60_000);
});

describe('every OpenAI call hangs, embeddings too', () => {
  let running: Running;
  beforeAll(async () => {
    running = await startBot(chroma.url, fake, {
      KB_COLLECTION: `it-stall-embed-${process.pid}`,
      EMBEDDINGS_PROVIDER: 'openai',
      INTENT_FAST_PATH_THRESHOLD: '1.01',
    });
  });
  afterAll(async () => {
    fake.reset();
    await stopBot(running);
  });

  it('greetings and questions still get their reply within the bounds, not after the SDK timeouts', async () => {
    fake.reset();
    fake.injectFault({ kind: 'hang' }, { times: 1_000 });
    const { classifierDeadlineMs } = running.bot.config.llm;
    const greeting = await timed(() =>
      postMessage(running.url, { conversationId: fresh(), text: 'hello there!' }),
    );
    expect(greeting.reply.end?.intent).toBe('greeting');
    expect(greeting.ms).toBeLessThan(1_000 + classifierDeadlineMs + 1_000);
    const question = await timed(() =>
      postMessage(running.url, { conversationId: fresh(), text: 'Do you ship to Canada?' }),
    );
    expect(question.reply.end?.handoff).toMatchObject({ reason: 'knowledge_unavailable' });
    expect(question.ms).toBeLessThan(1_000 + classifierDeadlineMs + knowledgeTimeoutMs + 1_000);
  }, 120_000);
});

describe('Chroma answering 500s to queries', () => {
  let running: Running;
  let proxy: Server;
  let failing = false;
  beforeAll(async () => {
    // Between the bot and Chroma: passes everything through, or answers queries with a 500.
    const target = new URL(chroma.url);
    proxy = createServer((incoming, outgoing) => {
      if (failing && incoming.method === 'POST' && /\/query$/.test(incoming.url ?? '')) {
        incoming.resume();
        outgoing.writeHead(500, { 'content-type': 'application/json' });
        outgoing.end(JSON.stringify({ error: 'InternalError', message: 'stand-in failure' }));
        return;
      }
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: incoming.url,
          method: incoming.method,
          headers: incoming.headers,
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.destroy());
      incoming.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    running = await startBot(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, fake, {
      KB_COLLECTION: `it-stall-500-${process.pid}`,
    });
  });
  afterAll(async () => {
    await stopBot(running);
    proxy.closeAllConnections();
    proxy.close();
  });

  it('hands each question over at once, reports the knowledge component down, and greets meanwhile', async () => {
    failing = true;
    try {
      for (const text of [
        'Do you ship to Canada?',
        'What is the warranty on tents?',
        'Can I pay with PayPal?',
        'Do you price match?',
      ]) {
        const { reply, ms } = await timed(() => postMessage(running.url, { conversationId: fresh(), text }));
        expect(reply.end?.handoff).toMatchObject({ reason: 'knowledge_unavailable' });
        expect(ms).toBeLessThan(1_000);
      }
      const greeting = await postMessage(running.url, { conversationId: fresh(), text: 'hi!' });
      expect(greeting.end?.intent).toBe('greeting');
      const state = await health(running.url);
      expect(state.body).toMatchObject({ status: 'degraded', components: { knowledge: { state: 'down' } } });
    } finally {
      failing = false;
    }
  });
});

describe('the embedded Chroma server killed', () => {
  let running: Running;
  const dataDir = path.join(workDir, 'embedded');
  beforeAll(async () => {
    running = await startBot('', fake, {
      KB_COLLECTION: `it-stall-killed-${process.pid}`,
      DATA_DIR: dataDir,
    });
  }, 120_000);
  afterAll(() => stopBot(running));

  it('hands questions over while it is gone, starts it again, and gives the threads back', async () => {
    const pidFile = path.join(dataDir, 'chroma', 'chroma-launcher.pid');
    const { pid } = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number };
    process.kill(-pid, 'SIGKILL');
    const conversationId = fresh();
    const during = await postMessage(running.url, { conversationId, text: 'Do you ship to Canada?' });
    expect(during.end?.handoff).toMatchObject({ reason: 'knowledge_unavailable' });

    await eventually(async () => (await health(running.url)).status === 200, 60_000);
    const restarted = (JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number }).pid;
    expect(restarted).not.toBe(pid);
    const after = await postMessage(running.url, { conversationId, text: 'Do you ship to Canada?' });
    expect(after.end?.handoff).toBeUndefined();
    expect(after.end?.text).not.toBe(prompts.replies.knowledgeDown);
  }, 90_000);
});
