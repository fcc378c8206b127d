/**
 * `npm run bench:limits`: one customer floods the bot — 300 different policy and product questions
 * in 10 s through the real HTTP API, answered by the real agent with real Chroma against the fake
 * OpenAI — and what it costs: replies, strong-model and classifier calls, dollars (config
 * llm.prices × the tokens the fake served) and messages refused by a limit.
 *
 *   npm run bench:limits -- [--messages 300] [--seconds 10] [--no-limits] [--one-conversation]
 *
 * `--no-limits` sets every limit to 0 (off), as before limits existed. CHROMA_URL: an existing
 * Chroma; without it a local one is started in a temporary folder and stopped at the end.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createHttpAdapter } from '../adapters/http/server.ts';
import { createSupportBot } from '../src/app.ts';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { startChromaServer } from '../src/knowledge/chroma-launcher.ts';
import { syncKnowledgeSource } from '../src/knowledge/sync-source.ts';
import { type ChatRequest, startFakeOpenAI } from '../test/fakes/openai-server.ts';
import { postMessage, type SseReply } from '../test/support/sse.ts';
import { variedQuestions } from '../test/support/varied-questions.ts';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '10' },
    'no-limits': { type: 'boolean', default: false },
    'one-conversation': { type: 'boolean', default: false },
  },
});
const messages = Number(args.messages);
const seconds = Number(args.seconds);
if (!Number.isInteger(messages) || messages < 1 || messages > 300)
  throw new Error(`--messages must be 1-300, got ${args.messages}`);
if (!(seconds > 0)) throw new Error(`--seconds must be positive, got ${args.seconds}`);

const workDir = mkdtempSync(path.join(tmpdir(), 'limits-bench-'));
const knowledgeDir = path.join(workDir, 'knowledge');
cpSync(path.join(projectRoot, 'config', 'knowledge'), knowledgeDir, { recursive: true });
const chroma = process.env.CHROMA_URL
  ? undefined
  : await startChromaServer({
      dataDir: path.join(workDir, 'chroma'),
      runtimeCacheDir: path.join(projectRoot, '.cache'),
      logFile: path.join(workDir, 'chroma.log'),
    });
const fake = await startFakeOpenAI();
const off = { messages: '0', budget: '0' };
const config = loadConfig({
  env: {
    CHROMA_URL: process.env.CHROMA_URL ?? chroma?.url ?? '',
    KB_COLLECTION: `limits-bench-${process.pid}`,
    KB_SOURCE: knowledgeDir,
    DATA_DIR: workDir,
    OPENAI_API_KEY: 'bench-key',
    OPENAI_BASE_URL: fake.url,
    LLM_PROVIDER: 'openai',
    EMBEDDINGS_PROVIDER: 'offline',
    LOG_LEVEL: 'silent',
    ...(args['no-limits']
      ? {
          LIMIT_USER_MESSAGES: off.messages,
          LIMIT_CONVERSATION_MESSAGES: off.messages,
          LIMIT_TENANT_MESSAGES: off.messages,
          LIMIT_BUDGET_USD_PER_HOUR: off.budget,
        }
      : {}),
  },
  loadDotEnv: false,
});
const bot = await createSupportBot({ config });
const server = createHttpAdapter({ agent: bot.agent, metrics: bot.metrics });

try {
  await syncKnowledgeSource({
    knowledgeBase: bot.knowledgeBase,
    source: knowledgeDir,
    chunkTokens: config.knowledge.chunkTokens,
    batchSize: 64,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.reset();

  const started = performance.now();
  const pending: Promise<SseReply>[] = [];
  for (const [index, text] of variedQuestions(messages).entries()) {
    const due = started + (index * seconds * 1000) / messages;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    pending.push(
      postMessage(url, {
        userId: 'bench-flooder',
        conversationId: args['one-conversation'] ? 'bench-thread' : `bench-${index}`,
        text,
      }),
    );
  }
  const sentMs = performance.now() - started;
  const replies = await Promise.all(pending);

  const calls = (model: string) =>
    fake.requests.filter((request) => (request.body as ChatRequest | undefined)?.model === model).length;
  const tokens = fake.stats().tokensByModel;
  const cost = Object.entries(tokens).reduce((sum, [model, used]) => {
    const price = config.llm.prices[model];
    return price ? sum + (used.promptTokens * price.input + used.completionTokens * price.output) / 1e6 : sum;
  }, 0);
  const ends = replies.map((reply) => reply.events.filter((item) => item.event === 'answer-end').length);
  const limited = replies.filter((reply) => String(reply.end?.degraded ?? '').startsWith('limited_')).length;
  const rows: [string, string][] = [
    ['limits', args['no-limits'] ? 'off (all 0)' : describeLimits()],
    ['messages', `${messages} from one customer in ${(sentMs / 1000).toFixed(1)} s`],
    ['replies', `${ends.filter((count) => count === 1).length} with exactly one answer-end`],
    ['strong-model calls', `${calls(config.llm.answerModel)} (${config.llm.answerModel})`],
    ['classifier calls', `${calls(config.llm.classifierModel)} (${config.llm.classifierModel})`],
    ['cost', `$${cost.toFixed(4)}`],
    [
      'an hour of this',
      args['no-limits']
        ? `about $${((cost * 3600) / seconds).toFixed(0)}`
        : ceiling(cost, calls(config.llm.answerModel)),
    ],
    ['limited', String(limited)],
    ['staff notes', String(replies.filter((reply) => reply.end?.notice).length)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  process.stdout.write(`${rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n')}\n`);
  if (ends.some((count) => count !== 1)) process.exitCode = 1;
} finally {
  server.closeAllConnections();
  server.close();
  await (await bot.knowledgeBase.store()).drop().catch(() => undefined);
  await bot.close();
  await fake.close();
  await chroma?.stop();
  rmSync(workDir, { recursive: true, force: true });
}

/** What one customer can cost in an hour under the limits, whatever they send. */
function ceiling(cost: number, strongCalls: number): string {
  const { user, budgetUsdPerHour } = config.limits;
  if (user.messages === 0) return 'no per-customer limit';
  const answers =
    user.messages * Math.ceil(3600 / user.perSeconds) + user.burst * Math.ceil(3600 / user.burstPerSeconds);
  const dollars = (answers * cost) / Math.max(1, strongCalls);
  const budget = budgetUsdPerHour > 0 ? `; the tenant's budget caps everyone at $${budgetUsdPerHour}` : '';
  return `at most ${answers} answers, about $${dollars.toFixed(2)}, for one customer${budget}`;
}

function describeLimits(): string {
  const { user, conversation, tenant, budgetUsdPerHour } = config.limits;
  return (
    `user ${user.messages}/${user.perSeconds} s + burst ${user.burst}/${user.burstPerSeconds} s, ` +
    `conversation ${conversation.messages}/${conversation.perSeconds} s, tenant ${tenant.messages}/${tenant.perSeconds} s, ` +
    `budget $${budgetUsdPerHour}/h`
  );
}
