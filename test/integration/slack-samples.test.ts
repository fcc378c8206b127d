import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { SlackBot } from '../../adapters/slack/slack-bot.ts';
import { projectRoot } from '../../src/config/load.ts';
import { HealthRegistry } from '../../src/observability/health.ts';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-server.ts';
import {
  botMessages,
  type capturingLogger,
  deliver,
  type SlackHarness,
  sleep,
  sourcesMessage,
  startSlackHarness,
  until,
} from '../support/slack-harness.ts';
import {
  eventFromSample,
  eventSample,
  eventSampleNames,
  jsonType,
  mention,
  message,
  type SlackEventBody,
} from '../support/slack-payloads.ts';

/**
 * java-slack-sdk's recorded payloads (test/fixtures/slack/events/) against a real Bolt app in HTTP
 * mode and the fake Web API: every sample of an event the bot receives, delivered signed, ends as
 * documented (answered, ignored, refused); then every one of them with each field removed or of
 * the wrong type, unknown types, stray interactions and a body that is not JSON: each is a log line
 * (debug or warn), an ack, and nothing thrown.
 */

const supportChannel = 'C0SUPPORT';
const elsewhere = 'C0ELSEWHERE';
let harness: SlackHarness;
let fake: FakeSlack;
let slack: SlackBot;
let url: string;
let logger: ReturnType<typeof capturingLogger>;
const health = new HealthRegistry();
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

/** The samples of the events the app receives: manifest.yaml's bot_events, plus what Slack always sends. */
function subscribedSamples(): string[] {
  const manifest = parseYaml(
    readFileSync(path.join(projectRoot, 'adapters', 'slack', 'manifest.yaml'), 'utf8'),
  ) as {
    settings: { event_subscriptions: { bot_events: string[] } };
  };
  const types = new Set(
    manifest.settings.event_subscriptions.bot_events.map((name) =>
      name.startsWith('message.') ? 'message' : name,
    ),
  );
  // Slack sends these to every app, subscribed or not.
  types.add('app_uninstalled');
  types.add('tokens_revoked');
  return eventSampleNames().filter((name) => types.has(String(eventSample(name).event.type)));
}

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  harness = await startSlackHarness({ name: 'slack-samples' });
  fake = await startFakeSlack();
  ({ slack, url, logger } = await harness.startSlack(
    fake,
    { SLACK_SUPPORT_CHANNELS: supportChannel },
    { health: health.reporter('slack') },
  ));
});

afterAll(async () => {
  await slack.stop();
  await fake.close();
  await harness.close();
  process.off('unhandledRejection', onRejection);
});

/** Where the bot would answer an event: its thread, else its own ts. */
const threadOf = (body: SlackEventBody) => String(body.event.thread_ts ?? body.event.ts);

/** Delivers `body` and reads what the bot did with it. */
async function outcomeOf(body: SlackEventBody): Promise<string> {
  const lines = logger.lines.length;
  const channel = body.event.channel;
  const thread = threadOf(body);
  const before = botMessages(fake, channel, thread).length;
  const response = await deliver(url, body);
  expect(response.status).toBe(200);
  const seen = () => logger.lines.slice(lines);
  return until(() => {
    if (botMessages(fake, channel, thread).length > before && slack.activeReplies() === 0) return 'answered';
    const state = health.get('slack');
    if (state?.state === 'down' && seen().some((line) => line.level === 'warn'))
      return `refused: health down (${state.code})`;
    const decided = seen().find((line) =>
      /^(Slack event ignored|malformed Slack event ignored|Slack message not addressed|Slack message deleted)/.test(
        line.msg,
      ),
    );
    if (decided)
      return decided.msg
        .replace(/^Slack event ignored: /, 'ignored: ')
        .replace(/^Slack message not addressed to the bot ignored/, 'ignored: not addressed to the bot')
        .replace(/^Slack message deleted/, 'deleted: nothing to cancel');
    return undefined;
  }, 30_000);
}

describe('every recorded sample of an event the bot receives, to a real Bolt app (HTTP)', () => {
  it('is answered, ignored or refused as documented, with nothing thrown', async () => {
    const samples = subscribedSamples();
    expect(samples).toContain('AppMentionPayload');
    expect(samples).toContain('MessageThreadBroadcastPayload');
    expect(samples).toHaveLength(21);

    // A thread the bot takes part in: the samples with a thread_ts are follow-ups in it.
    const opening = mention('How long do refunds take?', { channel: supportChannel });
    await deliver(url, opening);
    await until(() => sourcesMessage(botMessages(fake, supportChannel, opening.event.ts)));
    const threadTs = opening.event.ts;

    const documented: Record<string, string> = {
      AppMentionPayload: 'ignored: written by a bot',
      'AppMentionPayload (a person)': 'answered',
      MessageBotPayload: 'ignored: written by a bot',
      MessageChangedPayload: 'ignored: subtype message_changed is not a question',
      MessageDeletedPayload: 'deleted: nothing to cancel',
      MessageEkmAccessDeniedPayload: 'ignored: subtype ekm_access_denied is not a question',
      MessageFileSharePayload: 'answered',
      MessageMePayload: 'ignored: written by a bot',
      MessagePayload: 'ignored: written by a bot',
      'MessagePayload (a person)': 'answered',
      MessageRepliedPayload: 'ignored: subtype message_replied is not a question',
      MessageThreadBroadcastPayload: 'answered',
      AppUninstalledPayload: 'refused: health down (app_uninstalled)',
      TokensRevokedPayload: 'refused: health down (tokens_revoked)',
    };
    const expectedOutcome = (name: string, subtype: unknown) =>
      documented[name] ?? `ignored: subtype ${String(subtype)} is not a question`;

    const runs: { file: string; body: SlackEventBody }[] = [];
    const question = (name: string) => `Do refunds include shipping costs? (${name})`;
    const lifecycle = ['AppUninstalledPayload', 'TokensRevokedPayload'];
    for (const name of samples.filter((sample) => !lifecycle.includes(sample))) {
      runs.push({
        file: name,
        body: eventFromSample(name, { channel: supportChannel, threadTs, text: question(name) }),
      });
    }
    runs.push({
      file: 'AppMentionPayload (a person)',
      body: mention(question('mention'), { channel: supportChannel, threadTs }),
    });
    runs.push({
      file: 'MessagePayload (a person)',
      body: message(question('message'), { channel: supportChannel, threadTs }),
    });
    for (const name of lifecycle)
      runs.push({ file: name, body: eventFromSample(name, { channel: supportChannel }) });

    const table: { file: string; event: string; outcome: string; documented: string }[] = [];
    for (const run of runs) {
      const outcome = await outcomeOf(run.body);
      const event = `${run.body.event.type}${run.body.event.subtype ? `/${run.body.event.subtype}` : ''}`;
      table.push({
        file: run.file,
        event,
        outcome,
        documented: expectedOutcome(run.file, run.body.event.subtype),
      });
    }
    console.log(
      [
        '| file | event/subtype | outcome |',
        '| --- | --- | --- |',
        ...table.map((row) => `| ${row.file} | ${row.event} | ${row.outcome} |`),
      ].join('\n'),
    );
    expect(table.map((row) => [row.file, row.outcome])).toEqual(
      table.map((row) => [row.file, row.documented]),
    );
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
    expect(rejections).toEqual([]);
  }, 240_000);
});

describe('bad input: each a log line (debug or warn), an ack, no crash', () => {
  /** The wrong-type stand-in for a value: another JSON type. */
  const wrongType = (value: unknown): unknown => {
    switch (jsonType(value)) {
      case 'string':
        return 42;
      case 'number':
        return 'not a number';
      case 'boolean':
        return 'yes';
      default:
        return 'not an object';
    }
  };

  /** Delivers and checks: the expected status, at least one new debug/warn line, no error line. */
  async function expectLoggedAck(
    body: unknown,
    label: string,
    options: { raw?: string; status?: number } = {},
  ) {
    const lines = logger.lines.length;
    const response = await deliver(url, body, options.raw ? { raw: options.raw } : {});
    expect(response.status, label).toBe(options.status ?? 200);
    await until(() => logger.lines.length > lines, 5_000).catch(() => undefined);
    const fresh = logger.lines.slice(lines);
    expect(
      fresh.some((line) => line.level === 'debug' || line.level === 'warn'),
      `${label}: a log line`,
    ).toBe(true);
    expect(
      fresh.filter((line) => line.level === 'error'),
      label,
    ).toEqual([]);
  }

  it('every subscribed sample with each top-level and event field removed or of the wrong type', async () => {
    let requests = 0;
    for (const name of subscribedSamples()) {
      // Delivered where the bot does not answer (no support channel, a thread it is not in).
      const base = () =>
        eventFromSample(name, { channel: elsewhere, threadTs: '1600000000.000001', text: 'x' });
      const template = base();
      const mutations: [string, (body: Record<string, unknown>) => void][] = [];
      for (const key of Object.keys(template)) {
        mutations.push([`${key} removed`, (body) => delete body[key]]);
        mutations.push([`${key} of the wrong type`, (body) => (body[key] = wrongType(body[key]))]);
      }
      for (const key of Object.keys(template.event)) {
        mutations.push([
          `event.${key} removed`,
          (body) => delete (body.event as Record<string, unknown>)[key],
        ]);
        mutations.push([
          `event.${key} of the wrong type`,
          (body) => {
            const event = body.event as Record<string, unknown>;
            event[key] = wrongType(event[key]);
          },
        ]);
      }
      for (const [label, mutate] of mutations) {
        const body = base() as Record<string, unknown>;
        mutate(body);
        await expectLoggedAck(body, `${name}: ${label}`);
        requests++;
      }
    }
    expect(requests).toBeGreaterThan(500);
    // Nothing was answered: no bot message in those channels.
    expect(fake.messages.filter((posted) => posted.channel === elsewhere)).toEqual([]);
    expect(rejections).toEqual([]);
  }, 300_000);

  it('unknown event types and subtypes', async () => {
    await expectLoggedAck(eventFromSample('ReactionAddedPayload'), 'reaction_added (not subscribed)');
    await expectLoggedAck(
      message('A question in a future shape', {
        channel: supportChannel,
        set: { subtype: 'some_future_subtype' },
      }),
      'an unknown subtype',
    );
    const future = eventFromSample('MessagePayload', { channel: supportChannel });
    future.event.type = 'some_future_event';
    await expectLoggedAck(future, 'an unknown event type');
    expect(logger.lines.some((line) => /subtype some_future_subtype is not a question/.test(line.msg))).toBe(
      true,
    );
  });

  it('interaction payloads for buttons the bot never posted, and feedback buttons without a value', async () => {
    // No block_actions sample is in the fixtures (java-slack-sdk keeps them under app-backend/): the
    // payload follows https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
    const click = (action: Record<string, unknown>) => ({
      type: 'block_actions',
      team: { id: 'T0001', domain: 'fake' },
      user: { id: 'U0CUSTOMER', team_id: 'T0001' },
      api_app_id: 'A0001',
      token: 'verification-token',
      container: { type: 'message', channel_id: supportChannel, message_ts: '1700000000.000100' },
      channel: { id: supportChannel, name: 'support' },
      trigger_id: 'trigger',
      response_url: `${fake.apiUrl.replace('/api/', '')}/response`,
      actions: [{ type: 'button', block_id: 'b', action_ts: '1700000001.000001', ...action }],
    });
    const send = async (payload: unknown, label: string) => {
      const lines = logger.lines.length;
      const form = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
      const response = await deliver(url, undefined, {
        raw: form,
        contentType: 'application/x-www-form-urlencoded',
      });
      expect(response.status, label).toBe(200);
      await until(() => logger.lines.length > lines, 5_000);
      expect(logger.lines.slice(lines).filter((line) => line.level === 'error')).toEqual([]);
    };
    await send(click({ action_id: 'open_ticket_42', value: 'x' }), 'unknown action_id');
    expect(logger.lines.some((line) => line.msg === 'Slack interaction for an unknown action ignored')).toBe(
      true,
    );
    await send(click({ action_id: 'feedback_helpful' }), 'feedback without a value');
    await send(click({ action_id: 'feedback_unhelpful', value: 42 }), 'feedback with a numeric value');
    expect(
      logger.lines.filter((line) => line.msg === 'feedback click without a turn or user ignored'),
    ).toHaveLength(2);
    expect(
      (await harness.core.metrics.registry.getSingleMetricAsString('supportbot_feedback_total')) ?? '',
    ).not.toMatch(/verdict="helpful"\} [1-9]/);
  });

  it('a body that is not JSON: 400 and a warn line', async () => {
    await expectLoggedAck(undefined, 'not JSON', { raw: '{"type": "event_callback", ', status: 400 });
    await sleep(50);
    expect(rejections).toEqual([]);
  });
});
