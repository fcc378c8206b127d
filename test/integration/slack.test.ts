import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSlackBot, type SlackBot } from '../../adapters/slack/slack-bot.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import { toSlackMrkdwn } from '../../src/reply/markdown.ts';
import { splitMessage } from '../../src/reply/split.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import {
  deliverEventsApiRequest,
  type FakeSlack,
  type SlackMessage,
  signSlackRequest,
  startFakeSlack,
} from '../fakes/slack-server.ts';
import { until } from '../support/helpers.ts';
import {
  botMention,
  botMessage,
  eventFromSample,
  mention,
  nextTs,
  threadBroadcast,
  threadMessage,
} from '../support/slack-payloads.ts';

const signingSecret = 'test-signing-secret';
const workDir = mkdtempSync(path.join(tmpdir(), 'slack-it-'));
const collection = `it-slack-${process.pid}-${Date.now()}`;
const botUser = 'U0BOT';
const staffUser = 'U0STAFF';

let fakeOpenAI: FakeOpenAI;
let core: SupportBot;

function configFor(fakeSlack: FakeSlack, env: Record<string, string> = {}) {
  return loadConfig({
    env: {
      CHROMA_URL: inject('chromaUrl'),
      KB_COLLECTION: collection,
      DATA_DIR: workDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fakeOpenAI.url,
      LLM_PROVIDER: 'openai',
      EMBEDDINGS_PROVIDER: 'offline',
      LOG_LEVEL: 'silent',
      // One customer asking this many questions a minute would be limited: not what this is about.
      LIMITS_ENABLED: 'false',
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_MODE: 'http',
      SLACK_PORT: '0',
      SLACK_API_URL: fakeSlack.apiUrl,
      SLACK_STAFF_USER_IDS: staffUser,
      SLACK_STAFF_CHANNEL: 'C0STAFF',
      SLACK_STREAMING: 'update',
      ...env,
    },
    loadDotEnv: false,
  });
}

async function startSlack(fakeSlack: FakeSlack, env: Record<string, string> = {}) {
  const config = configFor(fakeSlack, env);
  const slack = createSlackBot({
    config: config.slack,
    agent: core.agent,
    store: core.store,
    feedback: new FeedbackStore({ store: core.store }),
    metrics: core.metrics,
  });
  const server = await slack.start();
  const url = server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events` : '';
  return { slack, url };
}

async function deliver(url: string, body: unknown, headers: Record<string, string> = {}, raw?: string) {
  const text = raw ?? JSON.stringify(body);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signSlackRequest(signingSecret, text), ...headers },
    body: text,
  });
}

const botMessages = (fake: FakeSlack, channel: string, threadTs: string) =>
  fake.thread(channel, threadTs).filter((message) => message.user === botUser);
const sourcesMessage = (messages: SlackMessage[]) => messages.find((message) => message.blocks);

beforeAll(async () => {
  cpSync(path.join(projectRoot, 'config', 'knowledge'), path.join(workDir, 'knowledge'), { recursive: true });
  fakeOpenAI = await startFakeOpenAI({ profile: { ttftMs: 150, tokensPerSecond: 200, answerTokens: 80 } });
  const placeholder = await startFakeSlack();
  core = await createSupportBot({ config: configFor(placeholder) });
  await placeholder.close();
  await syncKnowledgeSource({
    knowledgeBase: core.knowledgeBase,
    source: path.join(workDir, 'knowledge'),
    chunkTokens: 200,
    batchSize: 64,
  });
});

afterAll(async () => {
  await (await core.knowledgeBase.store()).drop();
  await core.close();
  await fakeOpenAI.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('Slack over the Events API (HTTP), real Bolt against the fake Web API', () => {
  let fake: FakeSlack;
  let slack: SlackBot;
  let url: string;

  beforeAll(async () => {
    // chat.update is stricter here than the budget the bot assumes, so real 429s happen.
    fake = await startFakeSlack({ limits: { 'chat.update': { limit: 30, windowMs: 60_000 } } });
    ({ slack, url } = await startSlack(fake));
  });
  afterAll(async () => {
    await slack.stop();
    await fake.close();
  });

  it('answers a mention in a thread, streaming by edits, with sources and feedback buttons', async () => {
    const event = mention('How do refunds work? How long do they take?');
    const response = await deliver(url, event);
    expect(response.status).toBe(200);
    const threadTs = event.event.ts;
    const sources = await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', threadTs)));
    const [answer] = botMessages(fake, 'C0GENERAL', threadTs);
    expect(answer?.threadTs).toBe(threadTs);
    expect(answer?.updates).toBeGreaterThan(0);
    expect(answer?.text).toMatch(/refund/i);
    expect(JSON.stringify(sources.blocks)).toMatch(/Refunds/);
    expect(JSON.stringify(sources.blocks)).toMatch(/feedback_helpful.*feedback_unhelpful/);
    // The first thing in the thread was the placeholder, posted before the answer was ready.
    const posts = fake.calls.filter(
      (call) => call.method === 'chat.postMessage' && call.args.thread_ts === threadTs,
    );
    expect(posts[0]?.args.text).toBe('…');
  });

  it('handles a retried event once', async () => {
    const event = mention('Do you ship to Canada?');
    await deliver(url, event);
    await deliver(url, event, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // One answer and one sources message: the retry started nothing.
    expect(botMessages(fake, 'C0GENERAL', event.event.ts)).toHaveLength(2);
  });

  it('is answered once when Slack retries a request it thinks timed out (X-Slack-Retry-Num 1, 2)', async () => {
    const event = mention('Do you ship to Portugal?');
    // Slack stops waiting after 1 ms here and sends the event again, as it does after 3 s.
    const attempts = await deliverEventsApiRequest(url, event, {
      signingSecret,
      ackTimeoutMs: 1,
      retries: 2,
    });
    expect(attempts.map((attempt) => attempt.retryNum)).toEqual([0, 1, 2]);
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(botMessages(fake, 'C0GENERAL', event.event.ts)).toHaveLength(2);
  });

  it('rejects a forged signature and a stale timestamp with 401, and answers neither', async () => {
    const forged = mention('forged question');
    const body = JSON.stringify(forged);
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signSlackRequest('wrong-secret', body) },
      body,
    });
    expect(bad.status).toBe(401);
    const stale = mention('stale question');
    const staleBody = JSON.stringify(stale);
    const old = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signSlackRequest(signingSecret, staleBody, Math.floor(Date.now() / 1000) - 6 * 60),
      },
      body: staleBody,
    });
    expect(old.status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(
      fake.messages.filter((message) => [forged.event.ts, stale.event.ts].includes(message.threadTs ?? '')),
    ).toEqual([]);
  });

  it('goes quiet when staff reply in a thread, and answers again after resume', async () => {
    const first = mention('What payment methods do you accept?');
    await deliver(url, first);
    const threadTs = first.event.ts;
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', threadTs)));
    await deliver(url, threadMessage('I can help with this one.', { user: staffUser, threadTs }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = botMessages(fake, 'C0GENERAL', threadTs).length;
    await deliver(url, threadMessage('Do gift cards expire?', { threadTs }));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(botMessages(fake, 'C0GENERAL', threadTs)).toHaveLength(before);

    await deliver(url, mention('resume', { user: staffUser, threadTs }));
    await until(() =>
      botMessages(fake, 'C0GENERAL', threadTs).find((message) => /take it from here/.test(message.text)),
    );
    await deliver(url, threadMessage('Do gift cards expire?', { threadTs }));
    await until(() =>
      botMessages(fake, 'C0GENERAL', threadTs).find((message) => /expire/i.test(message.text)),
    );
  });

  it("ignores mentions written by bots: another app's bot (bot_id, bot_profile, no subtype), a bot_message, itself", async () => {
    const otherBot = botMention('How do refunds work for bots?');
    const integration = botMessage('<@U0BOT> How do refunds work for integrations?', {
      channel: 'C0GENERAL',
    });
    const itself = mention('How do refunds work for me?', { user: botUser });
    for (const event of [otherBot, integration, itself]) expect((await deliver(url, event)).status).toBe(200);
    // A person's mention sent after them is answered; by then the bot-written ones would have been.
    const person = mention('How do refunds work for people?');
    await deliver(url, person);
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', person.event.ts)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const event of [otherBot, integration, itself])
      expect(botMessages(fake, 'C0GENERAL', event.event.ts)).toEqual([]);
  });

  it('answers a follow-up sent "also to channel" (thread_broadcast) in its thread; a staff broadcast takes the thread over', async () => {
    const first = mention('Do you offer gift wrapping?');
    await deliver(url, first);
    const threadTs = first.event.ts;
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', threadTs)));
    const broadcast = threadBroadcast('And do you ship gift cards to Canada?', { threadTs });
    expect(broadcast.event).toMatchObject({ subtype: 'thread_broadcast', thread_ts: threadTs });
    await deliver(url, broadcast);
    await until(
      () => botMessages(fake, 'C0GENERAL', threadTs).filter((message) => message.blocks).length === 2,
      15_000,
    );
    // Answered in the thread, never at the channel's top level.
    expect(botMessages(fake, 'C0GENERAL', threadTs).every((message) => message.threadTs === threadTs)).toBe(
      true,
    );

    await deliver(url, threadBroadcast('I will take this one from here.', { threadTs, user: staffUser }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = botMessages(fake, 'C0GENERAL', threadTs).length;
    await deliver(url, threadBroadcast('Can you gift wrap two items together?', { threadTs }));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(botMessages(fake, 'C0GENERAL', threadTs)).toHaveLength(before);
  });

  it('announces an agent hand-off in the staff channel with a link', async () => {
    const event = mention('This is unacceptable, my tent arrived ripped and I want a manager!');
    await deliver(url, event);
    const announcement = await until(() =>
      fake.messages.find(
        (message) => message.channel === 'C0STAFF' && message.text.includes('<@U0CUSTOMER>'),
      ),
    );
    expect(announcement.text).toMatch(/Hand-off \(complaint\)/);
    expect(announcement.text).toContain(`https://fake.slack.test/archives/C0GENERAL/p`);
  });

  it('listens for events on the configured interface only (HOST), not on all of them', async () => {
    const fakeSlack = await startFakeSlack();
    const local = createSlackBot({
      config: configFor(fakeSlack).slack,
      agent: core.agent,
      store: core.store,
      feedback: new FeedbackStore({ store: core.store }),
    });
    try {
      const server = await local.start();
      expect(server).toBeDefined();
      expect((server?.address() as AddressInfo | undefined)?.address).toBe('127.0.0.1');
    } finally {
      await local.stop();
      await fakeSlack.close();
    }
  });

  it("re-posts a customer's mentions and links inert in the staff channel", async () => {
    const event = mention(
      'This is unacceptable <!channel> <!here> <@U0BOSS> see <https://evil.test/login|your order> I want a manager',
    );
    await deliver(url, event);
    const announcement = await until(() =>
      fake.messages.find((message) => message.channel === 'C0STAFF' && message.text.includes('evil.test')),
    );
    for (const raw of ['<!channel>', '<!here>', '<@U0BOSS>', '<https://evil.test']) {
      expect(announcement.text).not.toContain(raw);
    }
    expect(announcement.text).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;@U0BOSS&gt;');
    // The bot's own mention of the customer and its link to the thread still work.
    expect(announcement.text).toContain('<@U0CUSTOMER>');
    expect(announcement.text).toMatch(
      /<https:\/\/fake\.slack\.test\/archives\/C0GENERAL\/p\d+\|Open the thread>/,
    );
  });

  it('records a feedback click', async () => {
    const event = mention('Is the skillet dishwasher safe?');
    await deliver(url, event);
    const sources = await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    const turnId = JSON.stringify(sources.blocks).match(/"value":"([^"]+)"/)?.[1];
    const payload = {
      type: 'block_actions',
      team: { id: 'T0001' },
      user: { id: 'U0CUSTOMER' },
      api_app_id: 'A0001',
      container: { type: 'message', channel_id: 'C0GENERAL', message_ts: sources.ts },
      channel: { id: 'C0GENERAL' },
      message: { ts: sources.ts, text: sources.text },
      response_url: `${fake.apiUrl.replace('/api/', '')}/response`,
      trigger_id: 'trigger',
      actions: [
        {
          type: 'button',
          action_id: 'feedback_helpful',
          block_id: 'feedback',
          value: turnId,
          action_ts: '1',
        },
      ],
    };
    const form = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...signSlackRequest(signingSecret, form),
      },
      body: form,
    });
    expect(response.status).toBe(200);
    await expect
      .poll(async () => (await new FeedbackStore({ store: core.store }).summary()).recent[0])
      .toMatchObject({
        platform: 'slack',
        turnId,
        helpful: true,
      });
    expect(await core.metrics.registry.getSingleMetricAsString('supportbot_feedback_total')).toMatch(
      /platform="slack",verdict="helpful"\} 1/,
    );
  });

  it('answers politely to an empty mention and to a file without text', async () => {
    const empty = mention('');
    await deliver(url, empty);
    await until(() =>
      botMessages(fake, 'C0GENERAL', empty.event.ts).find((message) =>
        /didn.t catch a question/.test(message.text),
      ),
    );
    const thread = mention('Do you ship to Canada?');
    await deliver(url, thread);
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', thread.event.ts)));
    await deliver(url, threadMessage('', { threadTs: thread.event.ts, files: true }));

    await until(() =>
      botMessages(fake, 'C0GENERAL', thread.event.ts).find((message) =>
        /can only read text/.test(message.text),
      ),
    );
  });

  it('ignores unknown event types and bot messages, and rejects malformed bodies', async () => {
    const unknown = eventFromSample('ReactionAddedPayload', { user: 'U1' });
    expect((await deliver(url, unknown)).status).toBe(200);
    const fromBot = threadMessage('I am a bot', { threadTs: nextTs() });
    (fromBot.event as Record<string, unknown>).bot_id = 'B0OTHER';
    expect((await deliver(url, fromBot)).status).toBe(200);
    const malformed = await deliver(url, undefined, {}, '{"type": "event_callback", ');
    expect(malformed.status).toBeGreaterThanOrEqual(400);
  });

  it('logs not_in_channel and keeps serving other channels', async () => {
    fake.notInChannel.add('C0LOCKED');
    const locked = mention('Do you ship to Canada?', { channel: 'C0LOCKED' });
    await deliver(url, locked);
    const open = mention('Do you ship to the UK?', { channel: 'C0OPEN' });
    await deliver(url, open);
    await until(() => sourcesMessage(botMessages(fake, 'C0OPEN', open.event.ts)));
    expect(fake.calls.some((call) => call.error === 'not_in_channel')).toBe(true);

    await expect
      .poll(() => core.metrics.registry.getSingleMetricAsString('supportbot_platform_errors_total'), {
        timeout: 10_000,
      })
      .toMatch(/error="not_in_channel"\} [1-9]/);
  });

  it('finishes 30 concurrent mentions in one channel with every final text exact and no unhandled 429', async () => {
    const channel = 'C0BUSY';
    const questions = Array.from(
      { length: 30 },
      (_, index) => `Question ${index}: how do returns work for item ${index}?`,
    );
    const events = questions.map((question) => mention(question, { channel }));
    await Promise.all(events.map((event) => deliver(url, event)));
    await until(
      () =>
        events.every((event) => sourcesMessage(botMessages(fake, channel, event.event.ts))) &&
        slack.activeReplies() === 0,
      150_000,
    );
    for (const [index, event] of events.entries()) {
      const messages = botMessages(fake, channel, event.event.ts).filter((message) => !message.blocks);
      // The same question again comes from the answer cache: the text the first reply had to show.
      let expected = '';
      for await (const agentEvent of core.agent.handle({
        platform: 'check',
        channelId: 'x',
        threadId: `check-${index}`,
        messageId: 'm',
        userId: 'checker',
        text: questions[index] as string,
      })) {
        if (agentEvent.type === 'answer-end') expected = agentEvent.text;
      }
      expect(messages.map((message) => message.text)).toEqual(splitMessage(toSlackMrkdwn(expected), 3_900));
    }
    expect(fake.calls.filter((call) => call.status === 429).length).toBeGreaterThan(0);
  }, 180_000);
});

describe('Slack over Socket Mode, through a local WebSocket stand-in', () => {
  let fake: FakeSlack;
  let slack: SlackBot;

  beforeAll(async () => {
    fake = await startFakeSlack({ streaming: true });
    ({ slack } = await startSlack(fake, {
      SLACK_MODE: 'socket',
      SLACK_APP_TOKEN: 'xapp-test',
      SLACK_STREAMING: 'auto',
    }));
  });
  afterAll(async () => {
    await slack.stop();
    await fake.close();
  });

  it('answers a mention with native streaming, and falls back to edits when a stream expires', async () => {
    expect(fake.socketConnections()).toBe(1);
    const event = mention('How long is the warranty on your gear?');
    await fake.sendSocketEvent(event);
    const sources = await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    expect(sources).toBeDefined();
    const methods = fake.calls.map((call) => call.method);
    expect(methods).toContain('chat.startStream');
    expect(methods).toContain('chat.stopStream');
    const streamed = botMessages(fake, 'C0GENERAL', event.event.ts).find(
      (message) => message.streaming === false,
    );
    expect(streamed?.text).toMatch(/warranty/i);

    // Expire every stream as soon as it starts: the reply must fall back and still land whole.
    const expire = setInterval(() => {
      for (const message of fake.messages) if (message.streaming) fake.expiredStreams.add(message.ts);
    }, 5);
    try {
      const second = mention('What does the warranty not cover?');
      await fake.sendSocketEvent(second);
      await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', second.event.ts)));
      const answers = botMessages(fake, 'C0GENERAL', second.event.ts).filter((message) => !message.blocks);
      expect(answers).toHaveLength(1);
      expect(answers[0]?.streaming).toBeUndefined();
      expect(answers[0]?.text).toMatch(/cover/i);
      expect(fake.calls.some((call) => call.error === 'message_not_in_streaming_state')).toBe(true);
    } finally {
      clearInterval(expire);
    }
  });
});
