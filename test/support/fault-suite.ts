import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createDiscordBot, type DiscordBot } from '../../adapters/discord/discord-bot.ts';
import { createSlackBot, type SlackBot } from '../../adapters/slack/slack-bot.ts';
import { loadPrompts, type Prompts } from '../../src/agent/prompts.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import { loadIntentCatalog } from '../../src/llm/intents.ts';
import { LocalIntentClassifier } from '../../src/llm/local-intent-classifier.ts';
import type { LoggerLike } from '../../src/observability/logger-like.ts';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord-server.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import { deliverEventsApiRequest, type FakeSlack, startFakeSlack } from '../fakes/slack-server.ts';

/**
 * The fault suite: the whole bot (real Bolt, real discord.js, the real openai client, a real
 * Chroma) against the fakes, each failure shape of each platform and of the model in turn under
 * light load, with one invariant checked every time: every customer message gets exactly one
 * answer or hand-off — nothing doubled, nothing silent. Used by `npm run faults` (the table) and
 * by test/integration/fault-suite.test.ts (the invariant).
 */

/** Where a case sends its customer messages: Slack over HTTP or Socket Mode, or Discord. */
export type Channel = 'slack' | 'slack-socket' | 'discord';

/** One failure shape. */
export interface FaultCase {
  /** What fails: `slack`, `discord` or `model`. */
  component: 'slack' | 'discord' | 'model';
  /** The failure, as the table shows it. */
  fault: string;
  /** Where the customers write (model faults go through Slack unless said otherwise). */
  via: Channel;
  /** Arms the fault before the messages are sent; returns what disarms it. */
  arm(world: FaultWorld): Promise<(() => void) | undefined> | (() => void) | undefined;
  /** Slack over HTTP: every event is delivered this many extra times, as Slack's retries. */
  slackRetries?: number;
  /** Which questions: `unsure` ones make the cheap model decide. @defaultValue 'sure' */
  questions?: 'sure' | 'unsure';
  /** Sends the messages; default: all at once. */
  send?(world: FaultWorld, send: () => Promise<void>[]): Promise<void>;
}

/** What happened to the customers' messages of one case. */
export interface FaultRow {
  component: string;
  fault: string;
  via: Channel;
  sent: number;
  /** A complete answer. */
  answered: number;
  /** An honest reply in a degraded mode (extractive answer, cut-off note, apology). */
  degraded: number;
  /** The thread went to staff (announced in the staff channel). */
  handedOff: number;
  /** No reply at all, or only the placeholder. */
  lost: number;
  /** More than one answer to one message. */
  doubled: number;
  /** Error-level log lines while the case ran (each one is a bug or a documented failure). */
  errors: number;
  seconds: number;
}

/** Everything a case can reach. */
export interface FaultWorld {
  core: SupportBot;
  openai: FakeOpenAI;
  slack: { fake: FakeSlack; bot: SlackBot; url: string; socketBot: SlackBot };
  discord: { fake: FakeDiscord; bot: DiscordBot };
  prompts: Prompts;
  logLines: { level: string; message: string }[];
  close(): Promise<void>;
}

export const ids = {
  slackTeam: 'T0001',
  slackBotUser: 'U0BOT',
  slackStaffChannel: 'C0STAFF',
  discordBot: '100000000000000001',
  discordGuild: '200000000000000001',
  discordChannel: '300000000000000001',
  discordStaffChannel: '300000000000000005',
} as const;

/** Answerable questions about the demo store, none written for this suite. */
const evaluationQuestions = readFileSync(path.join(projectRoot, 'test/fixtures/kb-eval.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { query: string }).query);
/**
 * Set at start: `sure`, the questions the local classifier routes to an answer on its own (model
 * faults must reach the strong model); `unsure`, those it leaves to the cheap model.
 */
const questions: Record<'sure' | 'unsure', string[]> = { sure: [], unsure: [] };

/** Options of {@link startFaultWorld}. */
export interface FaultWorldOptions {
  /** An existing Chroma; without it the bot starts its own in `dataDir`. */
  chromaUrl?: string;
  dataDir: string;
  /** Model latency: quick, so a case takes seconds. */
  profile?: { ttftMs: number; tokensPerSecond: number; answerTokens: number };
}

export async function startFaultWorld(options: FaultWorldOptions): Promise<FaultWorld> {
  const logLines: FaultWorld['logLines'] = [];
  const write = (level: string) => (fields: object | string, message?: string) =>
    logLines.push({ level, message: typeof fields === 'string' ? fields : (message ?? '') });
  const logger: LoggerLike = {
    debug() {},
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
  const openai = await startFakeOpenAI({
    profile: options.profile ?? { ttftMs: 100, tokensPerSecond: 200, answerTokens: 60 },
  });
  const slackFake = await startFakeSlack({ teamId: ids.slackTeam, botUserId: ids.slackBotUser });
  const discordFake = await startFakeDiscord({
    botId: ids.discordBot,
    guilds: [
      {
        id: ids.discordGuild,
        channels: [{ id: ids.discordChannel }, { id: ids.discordStaffChannel }],
      },
    ],
  });
  const config = loadConfig({
    env: {
      ...(options.chromaUrl ? { CHROMA_URL: options.chromaUrl } : {}),
      KB_COLLECTION: `faults-${process.pid}-${Date.now()}`,
      DATA_DIR: options.dataDir,
      OPENAI_API_KEY: 'fault-suite',
      OPENAI_BASE_URL: openai.url,
      LLM_PROVIDER: 'openai',
      EMBEDDINGS_PROVIDER: 'offline',
      // Every message must reach the model for its faults to matter.
      CACHE_ENABLED: 'false',
      LOG_LEVEL: 'silent',
      // One customer asking this many questions a minute would be limited: not what this is about.
      LIMITS_ENABLED: 'false',
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'fault-secret',
      SLACK_MODE: 'http',
      SLACK_PORT: '0',
      SLACK_API_URL: slackFake.apiUrl,
      SLACK_STAFF_CHANNEL: ids.slackStaffChannel,
      SLACK_STREAMING: 'update',
      DISCORD_TOKEN: 'discord-test-token',
      DISCORD_API_URL: discordFake.api,
      DISCORD_STAFF_CHANNEL: ids.discordStaffChannel,
      DISCORD_REGISTER_COMMANDS: 'false',
    },
    loadDotEnv: false,
  });
  // A hung model must cost seconds here, not the production minutes.
  config.openai.timeoutSeconds = 3;
  config.llm.streamIdleTimeoutSeconds = 3;
  const core = await createSupportBot({ config, logger });
  await syncKnowledgeSource({
    knowledgeBase: core.knowledgeBase,
    source: path.join(projectRoot, 'config', 'knowledge'),
    chunkTokens: config.knowledge.chunkTokens,
    batchSize: 128,
  });
  const feedback = new FeedbackStore({ store: core.store });
  const slackBot = createSlackBot({
    config: config.slack,
    agent: core.agent,
    store: core.store,
    feedback,
    metrics: core.metrics,
    logger,
  });
  const server = await slackBot.start();
  if (!server) throw new Error('the Slack adapter did not start its Events API server');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  // The same workspace over Socket Mode: disconnects and redeliveries are its failure shapes.
  const socketBot = createSlackBot({
    config: { ...config.slack, mode: 'socket', appToken: 'xapp-test' },
    agent: core.agent,
    store: core.store,
    feedback,
    metrics: core.metrics,
    logger,
    socketPingTimeoutMs: 1_000,
  });
  await socketBot.start();
  const discordBot = createDiscordBot({
    config: config.discord,
    agent: core.agent,
    store: core.store,
    feedback,
    metrics: core.metrics,
    logger,
  });
  await discordBot.start();
  const prompts = await loadPrompts(path.resolve(projectRoot, config.agent.promptsFile));
  const local = new LocalIntentClassifier(
    await loadIntentCatalog(path.resolve(projectRoot, config.intents.file)),
  );
  const sure: string[] = [];
  for (const question of evaluationQuestions) {
    const decision = local.classify(question);
    if (decision.confidence < config.intents.fastPathThreshold) questions.unsure.push(question);
    else if (decision.intent === 'policy_question' || decision.intent === 'product_inquiry')
      sure.push(question);
  }
  // Without a fault, each of these gets a complete answer: a degraded reply in a case is the fault's.
  questions.sure = await screened(core, sure.slice(0, 48), prompts);
  return {
    core,
    openai,
    slack: { fake: slackFake, bot: slackBot, url, socketBot },
    discord: { fake: discordFake, bot: discordBot },
    prompts,
    logLines,
    async close() {
      await Promise.allSettled([slackBot.stop(), socketBot.stop(), discordBot.stop()]);
      await (await core.knowledgeBase.store()).drop().catch(() => undefined);
      await core.close();
      await Promise.allSettled([openai.close(), slackFake.close(), discordFake.close()]);
    },
  };
}

/** The questions whose answer, with nothing failing, is complete (not degraded). */
async function screened(core: SupportBot, candidates: string[], prompts: Prompts): Promise<string[]> {
  const kept: string[] = [];
  for (let start = 0; start < candidates.length; start += 8) {
    await Promise.all(
      candidates.slice(start, start + 8).map(async (question, offset) => {
        for await (const event of core.agent.handle({
          platform: 'screen',
          channelId: 'screen',
          threadId: `screen-${start + offset}`,
          messageId: `screen-${start + offset}`,
          userId: 'screen',
          text: question,
        })) {
          // An honest "I don't know" (it carries the offer of a person) is not a complete answer either.
          if (
            event.type === 'answer-end' &&
            !event.degraded &&
            !event.handoff &&
            event.sources.length > 0 &&
            !event.text.includes(prompts.replies.offerHuman)
          )
            kept.push(question);
        }
      }),
    );
  }
  return kept;
}

let sequence = 0;

/** Slack paces posts per channel (about one a second): customers write in a few channels. */
const slackChannelOf = (index: number) => `C0FAULT${index % 4}`;

/** One customer message, and how to read what the bot did with it. */
interface Sent {
  via: Channel;
  /** Slack: the message ts (its thread); Discord: the message id (its thread's id). */
  conversation: string;
  channel: string;
  userId: string;
}

/** Sends one question as a real customer would: a mention, in its own thread. */
async function sendOne(
  world: FaultWorld,
  via: Channel,
  question: string,
  options: { slackRetries?: number } = {},
): Promise<Sent> {
  const index = ++sequence;
  const userId =
    via === 'slack' ? `U0C${String(index).padStart(6, '0')}` : `5${String(index).padStart(17, '0')}`;
  if (via === 'slack' || via === 'slack-socket') {
    const ts = `${1_800_000_000 + index}.000100`;
    const payload = {
      token: 'legacy',
      team_id: ids.slackTeam,
      api_app_id: 'A0001',
      type: 'event_callback',
      event_id: `EvFault${index}`,
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: 'app_mention',
        user: userId,
        text: `<@${ids.slackBotUser}> ${question}`,
        ts,
        channel: slackChannelOf(index),
        event_ts: ts,
      },
    };
    if (via === 'slack-socket') await world.slack.fake.sendSocketEvent(payload);
    else {
      const attempts = await deliverEventsApiRequest(world.slack.url, payload, {
        signingSecret: 'fault-secret',
      });
      // Slack's retries after an acknowledgement it thinks was lost: the same event again.
      for (let retryNum = 1; retryNum <= (options.slackRetries ?? 0); retryNum++) {
        attempts.push(
          ...(await deliverEventsApiRequest(world.slack.url, payload, {
            signingSecret: 'fault-secret',
            retryNum,
            retryReason: 'http_timeout',
          })),
        );
      }
      if (!attempts.every((attempt) => attempt.status === 200))
        throw new Error(`Slack event refused: ${JSON.stringify(attempts)}`);
    }
    return { via, conversation: ts, channel: slackChannelOf(index), userId };
  }
  const message = world.discord.fake.sendMessage({
    channel_id: ids.discordChannel,
    guild_id: ids.discordGuild,
    content: `<@${ids.discordBot}> ${question}`,
    author: { id: userId, username: `customer${index}` },
    mentions: [{ id: ids.discordBot, username: 'supportbot' }],
  });
  return { via, conversation: message.id, channel: ids.discordChannel, userId };
}

/** The bot's answer messages to one customer message (sources and the placeholder aside). */
function answersTo(world: FaultWorld, sent: Sent): string[] {
  if (sent.via !== 'discord') {
    return world.slack.fake
      .thread(sent.channel, sent.conversation)
      .filter((message) => message.user === ids.slackBotUser && !message.blocks)
      .map((message) => message.text);
  }
  return world.discord.fake.messages
    .filter(
      (message) =>
        message.author.id === ids.discordBot &&
        !message.deleted &&
        !message.embeds?.length &&
        // In the thread started from the question, or inline as a reply to it.
        (message.channel_id === sent.conversation ||
          message.message_reference?.message_id === sent.conversation),
    )
    .map((message) => message.content);
}

function handedOff(world: FaultWorld, sent: Sent): boolean {
  if (sent.via !== 'discord')
    return world.slack.fake.messages.some(
      (message) => message.channel === ids.slackStaffChannel && message.text.includes(`<@${sent.userId}>`),
    );
  return world.discord.fake.messages.some(
    (message) =>
      message.channel_id === ids.discordStaffChannel && message.content.includes(`<@${sent.userId}>`),
  );
}

const placeholder = '…';

function pick(kind: 'sure' | 'unsure'): string {
  const pool = questions[kind].length > 0 ? questions[kind] : evaluationQuestions;
  return pool[sequence % pool.length] as string;
}

/** Runs one case: arm, send, wait for every reply to settle, disarm, count. */
export async function runFaultCase(
  world: FaultWorld,
  fault: FaultCase,
  options: { messages: number; settleTimeoutMs?: number; quietMs?: number },
): Promise<FaultRow> {
  const started = performance.now();
  const errorsBefore = world.logLines.filter((line) => line.level === 'error').length;
  const disarm = await fault.arm(world);
  const sent: Sent[] = [];
  const sendAll = () =>
    Array.from({ length: options.messages }, () =>
      sendOne(world, fault.via, pick(fault.questions ?? 'sure'), {
        ...(fault.slackRetries ? { slackRetries: fault.slackRetries } : {}),
      }).then((one) => {
        sent.push(one);
      }),
    );
  try {
    if (fault.send) await fault.send(world, sendAll);
    else await Promise.all(sendAll());
    const deadline = Date.now() + (options.settleTimeoutMs ?? 60_000);
    const settled = () =>
      sent.every(
        (one) => answersTo(world, one).some((text) => text !== placeholder) || handedOff(world, one),
      ) &&
      world.slack.bot.activeReplies() === 0 &&
      world.slack.socketBot.activeReplies() === 0 &&
      world.discord.bot.activeReplies() === 0;
    while (!settled() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    // Anything doubled shows up after the first answer: wait a little more.
    await new Promise((resolve) => setTimeout(resolve, options.quietMs ?? 1_500));
  } finally {
    disarm?.();
  }
  const degradedPhrases = degradedMarkers(world.prompts);
  const row: FaultRow = {
    component: fault.component,
    fault: fault.fault,
    via: fault.via,
    sent: sent.length,
    answered: 0,
    degraded: 0,
    handedOff: 0,
    lost: 0,
    doubled: 0,
    errors: world.logLines.filter((line) => line.level === 'error').length - errorsBefore,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  for (const one of sent) {
    const answers = answersTo(world, one).filter((text) => text !== placeholder);
    const toStaff = handedOff(world, one);
    if (answers.length === 0 && !toStaff) row.lost++;
    else if (answers.length > 1 && !isOneSplitAnswer(answers, one.via)) row.doubled++;
    else if (toStaff) row.handedOff++;
    else if (degradedPhrases.some((phrase) => answers.join('').includes(phrase))) row.degraded++;
    else row.answered++;
  }
  return row;
}

/** Several messages are one answer when all but the last were cut at the platform's limit. */
function isOneSplitAnswer(parts: string[], via: Channel): boolean {
  const limit = via === 'discord' ? 2_000 : 3_900;
  return parts.slice(0, -1).every((part) => part.length > limit * 0.6);
}

/** Text that only a degraded reply carries: the fixed replies that say something went wrong. */
function degradedMarkers(prompts: Prompts): string[] {
  const { replies } = prompts;
  const candidates = [
    replies.modelDown,
    replies.interrupted,
    replies.offerHuman,
    replies.failure,
    ...Object.entries(replies)
      .filter(([name]) => /cut|filter|incomplete|degraded/i.test(name))
      .map(([, text]) => text),
    'Sorry, I could not finish this answer',
  ];
  // Compared against rendered platform text: a phrase's first words survive any markup.
  return candidates.map((text) =>
    text
      .replace(/[*_`"]/g, '')
      .split(/\s+/)
      .slice(0, 6)
      .join(' '),
  );
}

/** The table, as printed by `npm run faults` and quoted in notes. */
export function formatFaultTable(rows: FaultRow[]): string {
  const header = [
    'component',
    'fault',
    'via',
    'sent',
    'answered',
    'degraded',
    'handed off',
    'lost',
    'doubled',
    'errors',
    's',
  ];
  const lines = rows.map((row) => [
    row.component,
    row.fault,
    row.via,
    row.sent,
    row.answered,
    row.degraded,
    row.handedOff,
    row.lost,
    row.doubled,
    row.errors,
    row.seconds,
  ]);
  const all = [header, ...lines].map((cells) => `| ${cells.join(' | ')} |`);
  all.splice(1, 0, `| ${header.map(() => '---').join(' | ')} |`);
  return all.join('\n');
}

const answerModel = { path: '/v1/chat/completions', model: 'gpt-4-turbo' } as const;

/** Every failure shape, in the order the suite runs them. */
export function faultCases(): FaultCase[] {
  return [
    { component: 'model', fault: 'none (baseline)', via: 'slack', arm: () => undefined },
    { component: 'model', fault: 'none (baseline)', via: 'discord', arm: () => undefined },
    {
      component: 'model',
      fault: '500 before the first token, every try',
      via: 'slack',
      arm: ({ openai }) => {
        openai.injectFault({ kind: 'status', status: 500 }, { ...answerModel, times: 1_000 });
        return () => openai.clearFaults();
      },
    },
    {
      component: 'model',
      fault: '429 Retry-After 1 s, once per answer',
      via: 'slack',
      arm: ({ openai }) => {
        openai.injectFault({ kind: 'rate-limit', retryAfterSeconds: 1 }, { ...answerModel, times: 4 });
        return () => openai.clearFaults();
      },
    },
    {
      component: 'model',
      fault: 'hangs before the first token',
      via: 'slack',
      arm: ({ openai }) => {
        openai.injectFault({ kind: 'hang' }, { ...answerModel, times: 1_000 });
        return () => openai.clearFaults();
      },
    },
    ...(
      [
        ['finish_reason length (cut at max_tokens)', { kind: 'finish', reason: 'length', afterTokens: 12 }],
        ['finish_reason content_filter', { kind: 'finish', reason: 'content_filter', afterTokens: 6 }],
        ['error event mid-stream', { kind: 'stream-error', afterTokens: 8 }],
        ['stream ends without finish_reason or [DONE]', { kind: 'no-finish', afterTokens: 10 }],
        ['429 insufficient_quota', { kind: 'quota' }],
        ['429 without Retry-After, once per answer', { kind: 'rate-limit' }],
      ] as const
    ).map(
      ([name, shape]): FaultCase => ({
        component: 'model',
        fault: name,
        via: 'slack',
        arm: ({ openai }) => {
          openai.injectFault(shape, { ...answerModel, times: name.includes('once') ? 4 : 1_000 });
          return () => openai.clearFaults();
        },
      }),
    ),
    {
      component: 'model',
      fault: 'cheap model: 429 Retry-After 20 s (classification deadline)',
      questions: 'unsure',
      via: 'discord',
      arm: ({ openai }) => {
        openai.injectFault(
          { kind: 'rate-limit', retryAfterSeconds: 20 },
          { path: answerModel.path, model: 'gpt-3.5-turbo', times: 1_000 },
        );
        return () => openai.clearFaults();
      },
    },
    {
      component: 'model',
      fault: 'cheap model hangs',
      questions: 'unsure',
      via: 'slack',
      arm: ({ openai }) => {
        openai.injectFault(
          { kind: 'hang' },
          { path: answerModel.path, model: 'gpt-3.5-turbo', times: 1_000 },
        );
        return () => openai.clearFaults();
      },
    },
    {
      component: 'model',
      fault: 'stream cut mid-answer (socket dropped)',
      via: 'discord',
      arm: ({ openai }) => {
        openai.injectFault({ kind: 'cut-stream', afterTokens: 8 }, { ...answerModel, times: 1_000 });
        return () => openai.clearFaults();
      },
    },
    ...slackCases(),
    ...discordCases(),
  ];
}

/** After the placeholders are up: a fault that strikes answers in flight. */
async function midAnswer(world: FaultWorld, send: () => Promise<void>[], strike: () => void | Promise<void>) {
  const sending = Promise.all(send());
  await new Promise((resolve) => setTimeout(resolve, 250));
  await strike();
  await sending;
}

function slackFault(name: string, fault: Parameters<FakeSlack['injectFault']>[0]): FaultCase {
  return {
    component: 'slack',
    fault: name,
    via: 'slack',
    arm: ({ slack }) => {
      slack.fake.injectFault(fault);
      return () => slack.fake.clearFaults();
    },
  };
}

function slackCases(): FaultCase[] {
  return [
    { component: 'slack', fault: 'none (baseline, Socket Mode)', via: 'slack-socket', arm: () => undefined },
    slackFault('chat.update HTTP 429 Retry-After 2 s', {
      method: 'chat.update',
      status: 429,
      retryAfterSeconds: 2,
      times: 3,
    }),
    slackFault('chat.postMessage 200 ok:false ratelimited', {
      method: 'chat.postMessage',
      error: 'ratelimited',
      times: 3,
    }),
    slackFault('chat.update edit_window_closed', {
      method: 'chat.update',
      error: 'edit_window_closed',
      times: 4,
    }),
    slackFault('chat.update cant_update_message', {
      method: 'chat.update',
      error: 'cant_update_message',
      times: 4,
    }),
    slackFault('chat.postMessage 503 (HTML page)', { method: 'chat.postMessage', status: 503, times: 3 }),
    slackFault('chat.update connection reset', { method: 'chat.update', status: 'reset', times: 3 }),
    slackFault('chat.postMessage internal_error', {
      method: 'chat.postMessage',
      error: 'internal_error',
      times: 2,
    }),
    {
      component: 'slack',
      fault: 'Events API retries (X-Slack-Retry-Num 1, 2)',
      via: 'slack',
      slackRetries: 2,
      arm: () => undefined,
    },
    {
      component: 'slack',
      fault: 'Socket Mode disconnect (refresh_requested) mid-answer',
      via: 'slack-socket',
      arm: () => undefined,
      send: (world, send) =>
        midAnswer(world, send, () => world.slack.fake.disconnectSockets('refresh_requested')),
    },
    {
      component: 'slack',
      fault: 'Socket Mode redelivery of every envelope',
      via: 'slack-socket',
      arm: () => undefined,
      send: async (world, send) => {
        const before = world.slack.fake.envelopes.length;
        await Promise.all(send());
        for (const envelope of world.slack.fake.envelopes.slice(before))
          await world.slack.fake.redeliverSocketEvent(envelope.payload as Record<string, unknown>);
      },
    },
  ];
}

function discordCases(): FaultCase[] {
  const limited = (scope: 'user' | 'shared' | 'global', retryAfter: number): FaultCase => ({
    component: 'discord',
    fault: `${scope} 429, retry_after ${retryAfter} s`,
    via: 'discord',
    arm: () => undefined,
    send: (world, send) =>
      midAnswer(world, send, () =>
        world.discord.fake.rateLimit({
          scope,
          retryAfter,
          ...(scope === 'global' ? {} : { channelId: ids.discordChannel }),
        }),
      ),
  });
  const gateway = (name: string, strike: (fake: FakeDiscord) => void): FaultCase => ({
    component: 'discord',
    fault: name,
    via: 'discord',
    arm: () => undefined,
    send: (world, send) => midAnswer(world, send, () => strike(world.discord.fake)),
  });
  return [
    limited('user', 2.5),
    limited('shared', 3),
    limited('global', 1.5),
    gateway('INVALID_SESSION d=true mid-answer', (fake) => fake.invalidateSessions(true)),
    gateway('INVALID_SESSION d=false mid-answer', (fake) => fake.invalidateSessions(false)),
    gateway('RECONNECT (op 7) mid-answer', (fake) => fake.requestReconnect()),
    gateway('connection dropped mid-answer (resume, replay)', (fake) => fake.dropConnections()),
    gateway('a gateway frame that is not JSON', (fake) => fake.sendRaw('this is not JSON {')),
    gateway('server asks for a heartbeat', (fake) => fake.requestHeartbeat()),
    {
      component: 'discord',
      fault: '4014 on a running connection (Message Content revoked)',
      via: 'discord',
      arm: async ({ discord }) => {
        discord.fake.setPrivilegedIntents([]);
        discord.fake.closeConnections(4014);
        // The adapter reconnects without the intent; mentions still arrive.
        const deadline = Date.now() + 15_000;
        while (discord.bot.messageContent && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
        await new Promise((resolve) => setTimeout(resolve, 500));
        return undefined;
      },
    },
  ];
}
