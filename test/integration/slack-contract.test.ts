import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-server.ts';
import {
  apiSample,
  botMention,
  botMessage,
  eventFromSample,
  eventSample,
  eventSampleNames,
  mention,
  message,
  nextTs,
  shapeMismatches,
  threadBroadcast,
  threadMessage,
} from '../support/slack-payloads.ts';

/**
 * The fake and the tests' events against java-slack-sdk's recorded samples (test/fixtures/slack/):
 * every Web API response the fake sends carries only keys, of the same JSON type, that the
 * recorded response of that method has (top level and `message`); every event the tests build is
 * shaped like its recorded payload (top level and `event`). A wrong shape is caught.
 */

/** Methods the fake answers that have no recorded sample: not checked (listed so it is explicit). */
const unsampled = new Set(['usergroups.users.list', 'conversations.info']);

describe('the fake Slack Web API answers like the recorded samples', () => {
  let fake: FakeSlack;

  beforeAll(async () => {
    fake = await startFakeSlack({ limits: { 'chat.postMessage': { limit: 1_000, windowMs: 1_000 } } });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('every response, successes and every failure shape, has only keys and JSON types of its sample', async () => {
    const client = new WebClient('xoxb-test', {
      slackApiUrl: fake.apiUrl,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
    });
    const appClient = new WebClient('', {
      slackApiUrl: fake.apiUrl,
      headers: { Authorization: 'Bearer xapp-test' },
      retryConfig: { retries: 0 },
    });
    const swallow = (promise: Promise<unknown>) => promise.catch(() => undefined);
    await client.auth.test();
    await appClient.apps.connections.open({});
    const root = await client.chat.postMessage({ channel: 'C1', text: 'root' });
    const reply = await client.chat.postMessage({ channel: 'C1', thread_ts: String(root.ts), text: 'reply' });
    await client.chat.postMessage({
      channel: 'C1',
      thread_ts: String(root.ts),
      text: 'sources',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Sources*' } }],
    });
    await client.chat.update({ channel: 'C1', ts: String(reply.ts), text: 'edited' });
    await client.chat.getPermalink({ channel: 'C1', message_ts: String(reply.ts) });
    const stream = await client.chat.startStream({
      channel: 'C1',
      thread_ts: String(root.ts),
      recipient_team_id: 'T0001',
      recipient_user_id: 'U1',
    });
    await client.chat.appendStream({ channel: 'C1', ts: String(stream.ts), markdown_text: 'more' });
    await client.chat.stopStream({ channel: 'C1', ts: String(stream.ts) });
    await client.chat.delete({ channel: 'C1', ts: String(reply.ts) });
    // Failures: refusals, both rate-limit shapes, permanent edit errors, streaming refusals.
    for (const [method, error, status] of [
      ['auth.test', 'invalid_auth', 200],
      ['chat.postMessage', 'ratelimited', 429],
      ['chat.postMessage', 'ratelimited', 200],
      ['chat.update', 'edit_window_closed', 200],
      ['chat.update', 'cant_update_message', 200],
      ['chat.startStream', 'unknown_method', 200],
      ['chat.appendStream', 'message_not_in_streaming_state', 200],
      ['chat.stopStream', 'message_not_in_streaming_state', 200],
      ['chat.delete', 'message_not_found', 200],
    ] as const) {
      fake.injectFault({ method, error, status });
    }
    fake.injectFault({
      method: 'chat.getPermalink',
      error: 'missing_scope',
      body: { needed: 'chat:write', provided: 'channels:history' },
    });
    await swallow(client.auth.test());
    await swallow(client.chat.postMessage({ channel: 'C1', text: 'x' }));
    await swallow(client.chat.postMessage({ channel: 'C1', text: 'x' }));
    await swallow(client.chat.update({ channel: 'C1', ts: String(root.ts), text: 'x' }));
    await swallow(client.chat.update({ channel: 'C1', ts: String(root.ts), text: 'x' }));
    await swallow(client.chat.startStream({ channel: 'C1', thread_ts: String(root.ts) }));
    await swallow(client.chat.appendStream({ channel: 'C1', ts: String(stream.ts), markdown_text: 'x' }));
    await swallow(client.chat.stopStream({ channel: 'C1', ts: String(stream.ts) }));
    await swallow(client.chat.delete({ channel: 'C1', ts: 'nope' }));
    await swallow(client.chat.getPermalink({ channel: 'C1', message_ts: String(root.ts) }));
    await swallow(new WebClient('xoxb-wrong', { slackApiUrl: fake.apiUrl }).auth.test());

    const checked = new Set<string>();
    const problems: string[] = [];
    for (const call of fake.calls) {
      if (!call.response || unsampled.has(call.method)) continue;
      checked.add(call.method);
      for (const problem of shapeMismatches(call.response, apiSample(call.method), ['message']))
        problems.push(`${call.method} (${call.error ?? 'ok'}): ${problem}`);
    }
    expect(problems).toEqual([]);
    expect([...checked].sort()).toEqual([
      'apps.connections.open',
      'auth.test',
      'chat.appendStream',
      'chat.delete',
      'chat.getPermalink',
      'chat.postMessage',
      'chat.startStream',
      'chat.stopStream',
      'chat.update',
    ]);
    expect(fake.calls.filter((call) => call.error).length).toBeGreaterThanOrEqual(11);
  });
});

describe('the events the tests send are shaped like the recorded payloads', () => {
  const nested = ['event', 'message', 'previous_message', 'root'];

  it('every builder, and every one of the 96 samples with its placeholders filled', () => {
    const threadTs = nextTs();
    const built = [
      ['AppMentionPayload', mention('How do refunds work?')],
      ['AppMentionPayload', mention('In a thread', { threadTs })],
      ['AppMentionPayload', botMention('A bot asking')],
      ['MessagePayload', message('A question')],
      ['MessagePayload', threadMessage('A follow-up', { threadTs })],
      ['MessageFileSharePayload', threadMessage('', { threadTs, files: true })],
      ['MessageThreadBroadcastPayload', threadBroadcast('Also to channel', { threadTs })],
      ['MessageBotPayload', botMessage('An integration')],
      ...eventSampleNames().map((name) => [name, eventFromSample(name, { text: 'x', threadTs })] as const),
    ] as const;
    expect(built.length).toBe(8 + 96);
    const problems = built.flatMap(([name, body]) =>
      shapeMismatches(body, eventSample(name), nested).map((problem) => `${name}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it('catches a wrong shape: a key the sample does not have, a value of another JSON type', () => {
    const numericTs = mention('x', { set: { ts: 1_700_000_000.0001 } });
    expect(shapeMismatches(numericTs, eventSample('AppMentionPayload'), nested)).toEqual([
      'event.ts: number, the sample has string',
    ]);
    const invented = mention('x', { set: { is_bot: true } });
    expect(shapeMismatches(invented, eventSample('AppMentionPayload'), nested)).toEqual([
      'event.is_bot: not in the recorded sample',
    ]);
    // The old fake's chat.stopStream answer ({ok, channel, ts}) and chat.update's numeric ts.
    expect(
      shapeMismatches({ ok: true, channel: 'C1', ts: '1.2' }, apiSample('chat.stopStream'), ['message']),
    ).toEqual(['channel: not in the recorded sample', 'ts: not in the recorded sample']);
    expect(
      shapeMismatches({ ok: true, channel: 'C1', ts: 1.2, message: { text: 1 } }, apiSample('chat.update'), [
        'message',
      ]),
    ).toEqual(['ts: number, the sample has string', 'message.text: number, the sample has string']);
  });
});
