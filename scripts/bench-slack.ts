/**
 * Slack latency as a customer sees it: `npm run bench:slack [-- --questions 20]`.
 * Starts an embedded Chroma with the demo knowledge base, the local OpenAI-compatible server with
 * the default latency profile (strong model: first token 1.5 s, 25 tokens/s, 300-token answers;
 * cheap model 0.4 s) and the fake Slack Web API, then sends signed app_mention events to the real
 * Bolt app and reports, from the event's arrival: the first visible text (placeholder) and the
 * first answer text on screen, p50/p95, one at a time and all at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createSlackBot } from '../adapters/slack/slack-bot.ts';
import { createSupportBot } from '../src/app.ts';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { FeedbackStore } from '../src/feedback/feedback-store.ts';
import { syncKnowledgeSource } from '../src/knowledge/sync-source.ts';
import { startFakeOpenAI } from '../test/fakes/openai-server.ts';
import { signSlackRequest, startFakeSlack } from '../test/fakes/slack-server.ts';

const { values } = parseArgs({ options: { questions: { type: 'string', default: '20' } } });
const count = Number(values.questions);
const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-slack-'));
const openai = await startFakeOpenAI({
  profile: { ttftMs: 1_500, tokensPerSecond: 25, answerTokens: 300 },
  profiles: { 'gpt-3.5-turbo': { ttftMs: 400 } },
});
let slackApi = await startFakeSlack();
const config = loadConfig({
  env: {
    ...process.env,
    DATA_DIR: dataDir,
    KB_COLLECTION: 'bench-slack',
    OPENAI_API_KEY: 'bench',
    OPENAI_BASE_URL: openai.url,
    LLM_PROVIDER: 'openai',
    EMBEDDINGS_PROVIDER: 'offline',
    CACHE_ENABLED: 'false',
    LOG_LEVEL: 'silent',
    // A load test floods the bot on purpose: no message limits or budget.
    LIMITS_ENABLED: 'false',
    SLACK_BOT_TOKEN: 'xoxb-test',
    SLACK_SIGNING_SECRET: 'bench-secret',
    SLACK_MODE: 'http',
    SLACK_PORT: '0',
    SLACK_API_URL: slackApi.apiUrl,
    SLACK_STREAMING: 'update',
  },
  loadDotEnv: false,
});
const core = await createSupportBot({ config });
await syncKnowledgeSource({
  knowledgeBase: core.knowledgeBase,
  source: path.join(projectRoot, 'config', 'knowledge'),
  chunkTokens: 200,
  batchSize: 128,
});
async function connect(apiUrl: string) {
  const bot = createSlackBot({
    config: { ...config.slack, apiUrl },
    agent: core.agent,
    store: core.store,
    feedback: new FeedbackStore({ store: core.store }),
  });
  const server = await bot.start();
  if (!server) throw new Error('bench:slack needs the Events API over HTTP');
  return { bot, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events` };
}
let { bot: slack, url } = await connect(slackApi.apiUrl);
const questions = [
  'How long do I have to return something?',
  'Do you ship to Canada?',
  'What payment methods do you take?',
  'Is the rain jacket waterproof?',
  'How heavy is the Trailhead tent?',
  'Do gift cards expire?',
  'How do I reset my password?',
  'What does the warranty cover?',
  'Can I use two promo codes?',
  'How long does shipping take?',
];

let sequence = 0;
async function ask(
  question: string,
  channel: string,
  team = 'T0001',
): Promise<{ visible: number; answer: number }> {
  const ts = `1800000${String(++sequence).padStart(3, '0')}.000100`;
  const body = JSON.stringify({
    team_id: 'T0001',
    type: 'event_callback',
    event_id: `EvBench${sequence}`,
    event_time: Math.floor(Date.now() / 1000),
    event: { type: 'app_mention', user: 'U0CUST', text: `<@U0BOT> ${question}`, ts, channel, event_ts: ts },
  });
  const started = Date.now();
  await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signSlackRequest('bench-secret', body) },
    body,
  });
  let visible: number | undefined;
  let answer: number | undefined;
  let scanned = 0;
  const ours = new Set<string>();
  while (answer === undefined) {
    // Incremental scan, so polling twenty replies does not load the event loop being measured.
    for (; scanned < slackApi.calls.length; scanned++) {
      const call = slackApi.calls[scanned];
      if (!call || call.status !== 200) continue;
      if (call.method === 'chat.postMessage' && call.args.thread_ts === ts) {
        visible ??= call.at - started;
        const posted = slackApi.messages.find(
          (message) => message.threadTs === ts && message.text === call.args.text,
        );
        if (posted) ours.add(posted.ts);
        if (call.args.text !== '…') answer ??= call.at - started;
      } else if (call.method === 'chat.update' && ours.has(String(call.args.ts)) && call.args.text !== '…') {
        answer ??= call.at - started;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { visible: visible ?? answer, answer };
}

function percentiles(values: number[]): string {
  const sorted = [...values].sort((left, right) => left - right);
  const pick = (share: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? Number.NaN;
  return `${pick(0.5)} ms / ${pick(0.95)} ms`;
}

const sequential: { visible: number; answer: number }[] = [];
for (let index = 0; index < count; index++) {
  sequential.push(await ask(questions[index % questions.length] as string, `CSEQ${index}`));
}
// A fresh workspace for the second run: the first spent this one's chat.update budget (~50 a minute).
while (slack.activeReplies() > 0) await new Promise((resolve) => setTimeout(resolve, 100));
await slack.stop();
await slackApi.close();
slackApi = await startFakeSlack();
({ bot: slack, url } = await connect(slackApi.apiUrl));
const concurrent = await Promise.all(
  Array.from({ length: count }, (_, index) =>
    ask(questions[index % questions.length] as string, `CPAR${index}`),
  ),
);

process.stdout.write(
  `Slack, event arrival → screen (${count} questions, fake model: first token 1.5 s, 25 tokens/s; cheap model 0.4 s; answer cache off)\n\n` +
    '| run | first visible text (placeholder) p50 / p95 | first answer text p50 / p95 |\n| --- | --- | --- |\n' +
    `| one at a time | ${percentiles(sequential.map((item) => item.visible))} | ${percentiles(sequential.map((item) => item.answer))} |\n` +
    `| all at once, one channel each, fresh workspace | ${percentiles(concurrent.map((item) => item.visible))} | ${percentiles(concurrent.map((item) => item.answer))} |\n`,
);
await slack.stop();
await core.close();
await Promise.all([openai.close(), slackApi.close()]);
void url;
rmSync(dataDir, { recursive: true, force: true });
