import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { createSlackBot, type SlackBot, type SlackBotOptions } from '../../adapters/slack/slack-bot.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import type { LoggerLike } from '../../src/observability/logger-like.ts';
import { type FakeOpenAI, type LatencyProfile, startFakeOpenAI } from '../fakes/openai-server.ts';
import {
  deliverEventsApiRequest,
  type FakeSlack,
  type SlackMessage,
  startFakeSlack,
} from '../fakes/slack-server.ts';

/**
 * What the Slack integration tests share: a real core (Chroma, Redis-or-memory store, the fake
 * OpenAI) with the demo knowledge base, a config pointed at a fake Slack, a capturing logger, and
 * helpers to start the real Bolt adapter and read what it posted.
 */

export const signingSecret = 'test-signing-secret';
export const botUser = 'U0BOT';
export const staffUser = 'U0STAFF';

/** One captured log line. */
export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

/** A {@link LoggerLike} that keeps every line. */
export function capturingLogger(): LoggerLike & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const write = (level: LogLine['level']) => (objectOrMessage: object | string, message?: string) => {
    if (typeof objectOrMessage === 'string') lines.push({ level, fields: {}, msg: objectOrMessage });
    else lines.push({ level, fields: objectOrMessage as Record<string, unknown>, msg: message ?? '' });
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A started harness. */
export interface SlackHarness {
  core: SupportBot;
  openai: FakeOpenAI;
  configFor(fake: FakeSlack, env?: Record<string, string>): ReturnType<typeof loadConfig>;
  /** Builds and starts the real adapter against `fake`; `url` is its Events API endpoint (HTTP mode). */
  startSlack(
    fake: FakeSlack,
    env?: Record<string, string>,
    extra?: Partial<SlackBotOptions>,
  ): Promise<{ slack: SlackBot; url: string; logger: ReturnType<typeof capturingLogger> }>;
  /** Builds the adapter without starting it. */
  buildSlack(
    fake: FakeSlack,
    env?: Record<string, string>,
    extra?: Partial<SlackBotOptions>,
  ): { slack: SlackBot; logger: ReturnType<typeof capturingLogger> };
  close(): Promise<void>;
}

/** Starts the core the Slack tests share (one per test file). */
export async function startSlackHarness(
  options: { profile?: Partial<LatencyProfile>; name?: string; env?: Record<string, string> } = {},
): Promise<SlackHarness> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'slack-it-'));
  const collection = `it-${options.name ?? 'slack'}-${process.pid}-${Date.now()}`;
  cpSync(path.join(projectRoot, 'config', 'knowledge'), path.join(workDir, 'knowledge'), { recursive: true });
  const openai = await startFakeOpenAI({
    profile: { ttftMs: 150, tokensPerSecond: 200, answerTokens: 80, ...options.profile },
  });
  const configFor = (fake: FakeSlack, env: Record<string, string> = {}) =>
    loadConfig({
      env: {
        CHROMA_URL: inject('chromaUrl'),
        KB_COLLECTION: collection,
        DATA_DIR: workDir,
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: openai.url,
        LLM_PROVIDER: 'openai',
        EMBEDDINGS_PROVIDER: 'offline',
        LOG_LEVEL: 'silent',
        // One customer asking this many questions a minute would be limited: not what this is about.
        LIMITS_ENABLED: 'false',
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_MODE: 'http',
        SLACK_PORT: '0',
        SLACK_API_URL: fake.apiUrl,
        SLACK_STAFF_USER_IDS: staffUser,
        SLACK_STAFF_CHANNEL: 'C0STAFF',
        SLACK_STREAMING: 'update',
        ...env,
      },
      loadDotEnv: false,
    });
  const placeholder = await startFakeSlack();
  const core = await createSupportBot({ config: configFor(placeholder, options.env) });
  await placeholder.close();
  await syncKnowledgeSource({
    knowledgeBase: core.knowledgeBase,
    source: path.join(workDir, 'knowledge'),
    chunkTokens: 200,
    batchSize: 64,
  });
  const buildSlack: SlackHarness['buildSlack'] = (fake, env = {}, extra = {}) => {
    const logger = capturingLogger();
    const slack = createSlackBot({
      config: configFor(fake, env).slack,
      agent: core.agent,
      store: core.store,
      feedback: new FeedbackStore({ store: core.store }),
      metrics: core.metrics,
      logger,
      ...extra,
    });
    return { slack, logger };
  };
  return {
    core,
    openai,
    configFor,
    buildSlack,
    async startSlack(fake, env = {}, extra = {}) {
      const { slack, logger } = buildSlack(fake, env, extra);
      const server = await slack.start();
      const url = server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events` : '';
      return { slack, url, logger };
    },
    async close() {
      await (await core.knowledgeBase.store()).drop();
      await core.close();
      await openai.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Delivers a signed Events API request once; resolves with the HTTP response of that attempt. */
export async function deliver(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; raw?: string; contentType?: string } = {},
): Promise<{ status: number; body: string }> {
  const [attempt] = await deliverEventsApiRequest(url, body, { signingSecret, ...options });
  if (!attempt) throw new Error('no attempt');
  return attempt;
}

export { expectedAnswer, sleep, until } from './helpers.ts';

/** The bot's messages in a thread (root included), oldest first. */
export const botMessages = (fake: FakeSlack, channel: string, threadTs: string) =>
  fake.thread(channel, threadTs).filter((message) => message.user === botUser);
/** The sources message (the one with blocks) among `messages`. */
export const sourcesMessage = (messages: SlackMessage[]) => messages.find((message) => message.blocks);
/** The answer messages (without blocks) among `messages`. */
export const answerMessages = (messages: SlackMessage[]) => messages.filter((message) => !message.blocks);
