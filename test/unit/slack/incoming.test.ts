import { describe, expect, it } from 'vitest';
import { classifyIncoming } from '../../../adapters/slack/incoming.ts';
import {
  botMention,
  botMessage,
  eventFromSample,
  mention,
  message,
  threadBroadcast,
  threadMessage,
} from '../../support/slack-payloads.ts';

const self = { teamId: 'T0001', botUserId: 'U0BOT', botId: 'B0BOT' };
const classify = (body: ReturnType<typeof mention>) => classifyIncoming(body.event, body, self);

describe('classifyIncoming: what an app_mention or message event is (built from recorded samples)', () => {
  it("considers a person's mention, in a thread or not", () => {
    expect(classify(mention('hi', { threadTs: '1.000001' }))).toMatchObject({
      action: 'consider',
      message: { viaMention: true, threadTs: '1.000001', user: 'U0CUSTOMER', text: '<@U0BOT> hi' },
    });
  });

  it('ignores what a bot wrote: bot_id + bot_profile without subtype, bot_message, the bot itself', () => {
    expect(classify(botMention('loop?'))).toEqual({
      action: 'ignore',
      reason: 'written by a bot',
      level: 'debug',
    });
    expect(classify(mention('x', { set: { bot_profile: { id: 'B9' } } }))).toMatchObject({
      action: 'ignore',
    });
    expect(classify(botMessage('an integration'))).toMatchObject({
      action: 'ignore',
      reason: 'written by a bot',
    });
    expect(classify(mention('me', { user: 'U0BOT' }))).toMatchObject({
      action: 'ignore',
      reason: 'the bot itself',
    });
    expect(classify(eventFromSample('AppMentionPayload'))).toMatchObject({ action: 'ignore' });
  });

  it('treats thread_broadcast as a reply in its thread', () => {
    expect(classify(threadBroadcast('also to channel', { threadTs: '1.000002' }))).toMatchObject({
      action: 'consider',
      message: { threadTs: '1.000002', broadcast: true, viaMention: false },
    });
  });

  it('considers file shares, cancels on message_deleted, ignores other and unknown subtypes', () => {
    expect(classify(threadMessage('', { threadTs: '1.1', files: true }))).toMatchObject({
      action: 'consider',
      message: { hasFiles: true },
    });
    expect(
      classify(eventFromSample('MessageDeletedPayload', { set: { previous_message: { ts: '1.5' } } })),
    ).toEqual({ action: 'deleted', ts: '1.5' });
    for (const name of ['MessageChangedPayload', 'MessageChannelJoinPayload', 'MessageRepliedPayload']) {
      expect(classify(eventFromSample(name))).toMatchObject({ action: 'ignore', level: 'debug' });
    }
    expect(classify(message('x', { set: { subtype: 'from_the_future' } }))).toEqual({
      action: 'ignore',
      reason: 'subtype from_the_future is not a question',
      level: 'debug',
    });
  });

  it('ignores a message that mentions the bot (answered as app_mention)', () => {
    expect(classify(message('<@U0BOT> hello'))).toMatchObject({ action: 'ignore' });
  });

  it('ignores malformed events at warn level: a field missing or of the wrong type', () => {
    for (const [field, value] of [
      ['user', undefined],
      ['ts', 12],
      ['channel', { id: 'C1' }],
      ['text', 5],
      ['thread_ts', 1.5],
      ['subtype', 3],
      ['files', 'x'],
    ] as const) {
      const body = message('x');
      const event: Record<string, unknown> = body.event;
      if (value === undefined) delete event[field];
      else event[field] = value;
      expect(classify(body), field).toMatchObject({ action: 'ignore', level: 'warn' });
    }
  });
});
