import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackBot } from '../../adapters/slack/slack-bot.ts';
import { toSlackMrkdwn } from '../../src/reply/markdown.ts';
import { splitMessage } from '../../src/reply/split.ts';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-server.ts';
import {
  answerMessages,
  botMessages,
  deliver,
  expectedAnswer,
  type SlackHarness,
  sourcesMessage,
  startSlackHarness,
  until,
} from '../support/slack-harness.ts';
import { mention } from '../support/slack-payloads.ts';

/**
 * The Web API failures the real Slack produces, against the real Bolt adapter: both shapes of a
 * rate limit, and the permanent chat.update refusals, with an answer slow enough (about 3 s of
 * streaming) that edits are refused while it is still being written.
 */

let harness: SlackHarness;

beforeAll(async () => {
  harness = await startSlackHarness({
    name: 'slack-faults',
    profile: { ttftMs: 100, tokensPerSecond: 25, answerTokens: 80 },
  });
});

afterAll(async () => {
  await harness.close();
});

/** The one complete answer the customer must end up with, as the fake shows it. */
async function expectOneCompleteAnswer(fake: FakeSlack, channel: string, threadTs: string, question: string) {
  const answers = answerMessages(botMessages(fake, channel, threadTs));
  const expected = splitMessage(toSlackMrkdwn(await expectedAnswer(harness.core, question)), 3_900);
  expect(expected.join('')).not.toBe('');
  expect(answers.map((message) => message.text)).toEqual(expected);
}

describe('Slack Web API failures, real Bolt against the fake (HTTP mode, edits)', () => {
  let fake: FakeSlack;
  let slack: SlackBot;
  let url: string;

  beforeAll(async () => {
    fake = await startFakeSlack();
    ({ slack, url } = await harness.startSlack(fake));
  });
  afterAll(async () => {
    await slack.stop();
    await fake.close();
  });

  it.each([
    { shape: 'a 200 {ok:false, error:"ratelimited"} body', status: 200, channel: 'C0RL200' },
    { shape: 'an HTTP 429', status: 429, channel: 'C0RL429' },
  ])(
    'waits out Retry-After after $shape on chat.update, and the answer lands whole in its message',
    async ({ status, channel }) => {
      fake.injectFault({
        method: 'chat.update',
        error: 'ratelimited',
        status,
        retryAfterSeconds: 2,
        channel,
      });
      const question = `How long do refunds take to arrive? (${channel})`;
      const event = mention(question, { channel });
      await deliver(url, event);
      const threadTs = event.event.ts;
      await until(() => sourcesMessage(botMessages(fake, channel, threadTs)));
      await until(() => slack.activeReplies() === 0);

      const updates = fake.calls.filter(
        (call) => call.method === 'chat.update' && call.args.channel === channel,
      );
      const refused = updates.findIndex((call) => call.error === 'ratelimited');
      expect(refused).toBeGreaterThanOrEqual(0);
      const retry = updates[refused + 1];
      // The limit was honoured: nothing was tried again before Retry-After (2 s) had passed.
      expect(retry).toBeDefined();
      expect((retry?.at ?? 0) - (updates[refused]?.at ?? 0)).toBeGreaterThanOrEqual(1_900);
      // Still one message, edited to the end: no last resort, nothing deleted.
      expect(
        fake.calls.filter((call) => call.method === 'chat.delete' && call.args.channel === channel),
      ).toEqual([]);
      await expectOneCompleteAnswer(fake, channel, threadTs, question);
    },
  );

  it.each([
    { error: 'edit_window_closed', channel: 'C0EDITWIN' },
    { error: 'cant_update_message', channel: 'C0CANTUPD' },
    { error: 'message_not_found', channel: 'C0NOTFOUND' },
    { error: 'msg_too_long', channel: 'C0TOOLONG' },
  ])(
    'chat.update refused with $error mid-answer: not retried, and the customer gets exactly one complete answer',
    async ({ error, channel }) => {
      fake.injectFault({ method: 'chat.update', error, channel });
      const question = `How do I return an item I bought? (${channel})`;
      const event = mention(question, { channel });
      await deliver(url, event);
      const threadTs = event.event.ts;
      await until(() => sourcesMessage(botMessages(fake, channel, threadTs)));
      await until(() => slack.activeReplies() === 0);

      const updates = fake.calls.filter(
        (call) => call.method === 'chat.update' && call.args.channel === channel,
      );
      const refusedAt = updates.findIndex((call) => call.error === error);
      expect(refusedAt).toBeGreaterThanOrEqual(0);
      const refusedTs = updates[refusedAt]?.args.ts;
      // Permanent means permanent: the refused message is never edited again.
      expect(updates.slice(refusedAt + 1).filter((call) => call.args.ts === refusedTs)).toEqual([]);
      await expectOneCompleteAnswer(fake, channel, threadTs, question);
    },
  );
});

describe('Slack native streaming refusals (HTTP mode, SLACK_STREAMING=auto)', () => {
  it('a workspace without streaming (unknown_method) falls back to edits and stops trying natively', async () => {
    const fake = await startFakeSlack({ streaming: false, streamingRefusal: 'unknown_method' });
    const { slack, url } = await harness.startSlack(fake, { SLACK_STREAMING: 'auto' });
    try {
      const first = mention('Do you sell replacement tent poles?', { channel: 'C0NOSTREAM' });
      await deliver(url, first);
      await until(() => sourcesMessage(botMessages(fake, 'C0NOSTREAM', first.event.ts)));
      expect(fake.calls.filter((call) => call.error === 'unknown_method').map((call) => call.method)).toEqual(
        ['chat.startStream'],
      );
      await expectOneCompleteAnswer(
        fake,
        'C0NOSTREAM',
        first.event.ts,
        'Do you sell replacement tent poles?',
      );

      const second = mention('Do you sell tent footprints?', { channel: 'C0NOSTREAM2' });
      await deliver(url, second);
      await until(() => sourcesMessage(botMessages(fake, 'C0NOSTREAM2', second.event.ts)));
      expect(fake.calls.filter((call) => call.method === 'chat.startStream')).toHaveLength(1);
    } finally {
      await slack.stop();
      await fake.close();
    }
  });

  it('a refusal for one channel (channel_type_not_supported) falls back there only: other channels still stream', async () => {
    const fake = await startFakeSlack();
    const { slack, url } = await harness.startSlack(fake, { SLACK_STREAMING: 'auto' });
    try {
      fake.injectFault({ method: 'chat.startStream', error: 'channel_type_not_supported', channel: 'C0ODD' });
      const first = mention('Can I return worn boots?', { channel: 'C0ODD' });
      await deliver(url, first);
      await until(() => sourcesMessage(botMessages(fake, 'C0ODD', first.event.ts)));
      await expectOneCompleteAnswer(fake, 'C0ODD', first.event.ts, 'Can I return worn boots?');

      const second = mention('Can I return a used stove?', { channel: 'C0NORMAL' });
      await deliver(url, second);
      await until(() => sourcesMessage(botMessages(fake, 'C0NORMAL', second.event.ts)));
      const streamed = botMessages(fake, 'C0NORMAL', second.event.ts).find(
        (message) => message.streaming === false,
      );
      expect(streamed?.text).toBeTruthy();
      expect(
        fake.calls.filter((call) => call.method === 'chat.startStream' && call.args.channel === 'C0NORMAL'),
      ).toHaveLength(1);
    } finally {
      await slack.stop();
      await fake.close();
    }
  });
});
