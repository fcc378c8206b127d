import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackBot } from '../../adapters/slack/slack-bot.ts';
import { PlatformError } from '../../src/errors.ts';
import { PlatformSupervisor } from '../../src/lifecycle/platform-supervisor.ts';
import { HealthRegistry } from '../../src/observability/health.ts';
import { type FakeSlack, type SlackFault, startFakeSlack } from '../fakes/slack-server.ts';
import {
  answerMessages,
  botMessages,
  capturingLogger,
  deliver,
  type SlackHarness,
  sleep,
  sourcesMessage,
  startSlackHarness,
  until,
} from '../support/slack-harness.ts';
import { eventFromSample, mention } from '../support/slack-payloads.ts';

/**
 * Start-up and lifecycle of the real Bolt adapter against the fake: refused tokens, passing
 * failures, stop and start again, the app uninstalled or its tokens revoked, and Socket Mode
 * disconnects and redeliveries.
 */

let harness: SlackHarness;

beforeAll(async () => {
  harness = await startSlackHarness({ name: 'slack-lifecycle' });
});

afterAll(async () => {
  await harness.close();
});

describe('Slack start-up: what start() rejects with', () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack({ botToken: 'xoxb-the-real-one', appToken: 'xapp-the-real-one' });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('an invalid bot token: a non-retryable PlatformError naming SLACK_BOT_TOKEN and where to get one', async () => {
    const { slack } = harness.buildSlack(fake);
    const started = slack.start();
    await expect(started).rejects.toBeInstanceOf(PlatformError);
    await expect(started).rejects.toMatchObject({
      platform: 'slack',
      code: 'invalid_auth',
      retryable: false,
      message: expect.stringMatching(
        /^SLACK_BOT_TOKEN was refused \(invalid_auth\): copy the Bot User OAuth Token .* from OAuth & Permissions/,
      ),
    });
    await slack.stop();
  });

  it.each(['token_revoked', 'token_expired', 'account_inactive', 'missing_scope', 'not_allowed_token_type'])(
    'auth.test answering %s: non-retryable, naming SLACK_BOT_TOKEN',
    async (error) => {
      const good = await startFakeSlack();
      try {
        good.injectFault({ method: 'auth.test', error });
        const { slack } = harness.buildSlack(good);
        await expect(slack.start()).rejects.toMatchObject({
          code: error,
          retryable: false,
          message: expect.stringContaining(`SLACK_BOT_TOKEN was refused (${error})`),
        });
        await slack.stop();
      } finally {
        await good.close();
      }
    },
  );

  it('an invalid app token in socket mode: non-retryable, naming SLACK_APP_TOKEN', async () => {
    const { slack, logger } = harness.buildSlack(fake, {
      SLACK_BOT_TOKEN: 'xoxb-the-real-one',
      SLACK_MODE: 'socket',
      SLACK_APP_TOKEN: 'xapp-wrong',
    });
    await expect(slack.start()).rejects.toMatchObject({
      code: 'invalid_auth',
      retryable: false,
      message: expect.stringMatching(
        /^SLACK_APP_TOKEN was refused \(invalid_auth\): create an app-level token/,
      ),
    });
    await slack.stop();
    // The supervisor reports it; the adapter adds no error line of its own (the SDK's goes to debug).
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('a bot token given as SLACK_APP_TOKEN (wrong token type): non-retryable, naming SLACK_APP_TOKEN', async () => {
    const { slack } = harness.buildSlack(fake, {
      SLACK_BOT_TOKEN: 'xoxb-the-real-one',
      SLACK_MODE: 'socket',
      SLACK_APP_TOKEN: 'xoxb-the-real-one',
    });
    await expect(slack.start()).rejects.toMatchObject({
      code: 'invalid_token_type',
      retryable: false,
      message: expect.stringMatching(/^SLACK_APP_TOKEN is not an app-level token/),
    });
    await slack.stop();
  });

  it.each<[string, SlackFault]>([
    ['HTTP 503', { method: 'auth.test', status: 503, times: 2 }],
    ['a reset connection', { method: 'auth.test', status: 'reset', times: 2 }],
    ['HTTP 429', { method: 'auth.test', status: 429, retryAfterSeconds: 3 }],
    ['200 ratelimited', { method: 'auth.test', error: 'ratelimited' }],
    ['200 internal_error', { method: 'auth.test', error: 'internal_error' }],
  ])('%s from auth.test: a retryable PlatformError', async (_, fault) => {
    const good = await startFakeSlack();
    try {
      good.injectFault(fault);
      const { slack } = harness.buildSlack(good);
      await expect(slack.start()).rejects.toMatchObject({ platform: 'slack', retryable: true });
      await slack.stop();
    } finally {
      await good.close();
    }
  });
});

describe('Slack lifecycle: stop, start again, supervised', () => {
  it('starts again after stop() (HTTP mode): a fresh Bolt app, and it answers', async () => {
    const fake = await startFakeSlack();
    const { slack } = harness.buildSlack(fake);
    try {
      fake.injectFault({ method: 'auth.test', status: 503, times: 2 });
      await expect(slack.start()).rejects.toMatchObject({ retryable: true });
      await slack.stop();
      const server = await slack.start();
      const firstApp = slack.app;
      await slack.stop();
      const again = await slack.start();
      // A Bolt receiver starts once: the second connection is a fresh app with its own server.
      expect(slack.app).not.toBe(firstApp);
      expect(again).toBeDefined();
      expect(again).not.toBe(server);
      const url = `http://127.0.0.1:${(again?.address() as { port: number } | null)?.port}/slack/events`;
      const event = mention('How long do refunds take after a restart?');
      expect((await deliver(url, event)).status).toBe(200);
      await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    } finally {
      await slack.stop();
      await slack.stop();
      await fake.close();
    }
  });

  it('starts again after stop() in Socket Mode: one new connection, the old one stays closed, it answers', async () => {
    const fake = await startFakeSlack();
    const { slack } = harness.buildSlack(
      fake,
      { SLACK_MODE: 'socket', SLACK_APP_TOKEN: 'xapp-test' },
      { socketPingTimeoutMs: 500 },
    );
    try {
      await slack.start();
      expect(fake.socketConnections()).toBe(1);
      await slack.stop();
      await until(() => fake.openSockets() === 0, 5_000);
      await slack.start();
      // Longer than the SDK's reconnect delay: the stopped client must not come back.
      await sleep(1_200);
      expect(fake.socketConnections()).toBe(2);
      expect(fake.openSockets()).toBe(1);
      const event = mention('Do you ship to Finland?');
      await fake.sendSocketEvent(event);
      await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
      expect(answerMessages(botMessages(fake, 'C0GENERAL', event.event.ts))).toHaveLength(1);
    } finally {
      await slack.stop();
      await fake.close();
    }
  });

  it('under the PlatformSupervisor: a bad token is one warn line and /healthz down with the fix', async () => {
    const fake = await startFakeSlack({ botToken: 'xoxb-the-real-one' });
    const health = new HealthRegistry();
    const supervisorLog = capturingLogger();
    const { slack, logger } = harness.buildSlack(fake, {}, { health: health.reporter('slack') });
    const supervisor = new PlatformSupervisor({
      platform: { name: 'slack', start: async () => void (await slack.start()), stop: () => slack.stop() },
      health,
      logger: supervisorLog,
      initialBackoffMs: 20,
    });
    try {
      await supervisor.start();
      await supervisor.settled;
      expect(health.get('slack')).toMatchObject({ state: 'down', code: 'invalid_auth' });
      expect(health.get('slack')?.reason).toMatch(/SLACK_BOT_TOKEN/);
      const warnings = [...supervisorLog.lines, ...logger.lines].filter((line) => line.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toMatch(/SLACK_BOT_TOKEN was refused \(invalid_auth\)/);
      expect(fake.calls.filter((call) => call.method === 'auth.test')).toHaveLength(1);
    } finally {
      await supervisor.stop();
      await fake.close();
    }
  });

  it('under the PlatformSupervisor: a passing failure is retried with backoff and comes up', async () => {
    const fake = await startFakeSlack();
    const health = new HealthRegistry();
    const { slack } = harness.buildSlack(fake, {}, { health: health.reporter('slack') });
    const supervisor = new PlatformSupervisor({
      platform: { name: 'slack', start: async () => void (await slack.start()), stop: () => slack.stop() },
      health,
      initialBackoffMs: 50,
    });
    try {
      // Two attempts' worth of 503s (the client retries each call once).
      fake.injectFault({ method: 'auth.test', status: 503, times: 4 });
      await supervisor.start();
      expect(health.get('slack')?.state).toBe('retrying');
      await until(() => health.get('slack')?.state === 'up', 10_000);
      expect(fake.calls.filter((call) => call.method === 'auth.test').length).toBe(5);
    } finally {
      await supervisor.stop();
      await fake.close();
    }
  });

  it.each([
    ['AppUninstalledPayload', 'app_uninstalled'],
    ['TokensRevokedPayload', 'tokens_revoked'],
  ])('%s: one warn line and health down with the reason and "reinstall"', async (sample, code) => {
    const fake = await startFakeSlack();
    const health = new HealthRegistry();
    const { slack, logger } = harness.buildSlack(fake, {}, { health: health.reporter('slack') });
    try {
      const server = await slack.start();
      expect(health.get('slack')?.state).toBe('up');
      const url = `http://127.0.0.1:${(server?.address() as { port: number } | null)?.port}/slack/events`;
      const event = eventFromSample(sample, {
        set: code === 'tokens_revoked' ? { tokens: { bot: ['U0BOT'] } } : {},
      });
      expect((await deliver(url, event)).status).toBe(200);
      await until(() => health.get('slack')?.state === 'down');
      expect(health.get('slack')).toMatchObject({ code });
      expect(health.get('slack')?.reason).toMatch(/reinstall/);
      expect(health.get('slack')?.reason).toMatch(/SLACK_BOT_TOKEN/);
      // Slack may send it again: still one line.
      await deliver(
        url,
        eventFromSample(sample, { set: code === 'tokens_revoked' ? { tokens: { bot: ['U0BOT'] } } : {} }),
      );
      await sleep(200);
      expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
      expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
    } finally {
      await slack.stop();
      await fake.close();
    }
  });
});

describe('Slack Socket Mode: disconnects and redeliveries', () => {
  let fake: FakeSlack;
  let slack: SlackBot;
  let logger: ReturnType<typeof capturingLogger>;
  const health = new HealthRegistry();

  beforeAll(async () => {
    fake = await startFakeSlack();
    ({ slack, logger } = await harness.startSlack(
      fake,
      { SLACK_MODE: 'socket', SLACK_APP_TOKEN: 'xapp-test' },
      { socketPingTimeoutMs: 500, health: health.reporter('slack') },
    ));
  });
  afterAll(async () => {
    await slack.stop();
    await fake.close();
  });

  it.each(['refresh_requested', 'warning'])(
    'a "%s" disconnect: the SDK reconnects, an event sent meanwhile is answered exactly once',
    async (reason) => {
      const before = fake.socketConnections();
      const disconnected = fake.disconnectSockets(reason);
      const event = mention(`Do you ship to Norway? (${reason})`);
      // Sent as soon as the old connection is gone: the fake waits for the new one, as Slack queues.
      await disconnected;
      expect(fake.openSockets()).toBe(0);
      const delivered = await fake.sendSocketEvent(event, 'events_api', { connectionTimeoutMs: 15_000 });
      expect(delivered.acked).toBe(true);
      expect(fake.socketConnections()).toBe(before + 1);
      await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
      await sleep(500);
      expect(answerMessages(botMessages(fake, 'C0GENERAL', event.event.ts))).toHaveLength(1);
      expect(health.get('slack')?.state).toBe('up');
      expect(logger.lines.some((line) => line.fields.reason === reason)).toBe(true);
    },
  );

  it('a redelivered envelope (retry_attempt 1, "timeout") is acknowledged and not answered twice', async () => {
    const event = mention('Do you ship to Iceland?');
    await fake.sendSocketEvent(event);
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    const redelivered = await fake.redeliverSocketEvent(event);
    expect(redelivered).toMatchObject({ acked: true, retry_attempt: 1, retry_reason: 'timeout' });
    await sleep(1_000);
    expect(answerMessages(botMessages(fake, 'C0GENERAL', event.event.ts))).toHaveLength(1);
    expect(botMessages(fake, 'C0GENERAL', event.event.ts).filter((message) => message.blocks)).toHaveLength(
      1,
    );
  });

  it('an envelope not acknowledged in time is redelivered; the event is answered once', async () => {
    const event = mention('Do you ship to Greenland?');
    // Slack gives up waiting after 1 ms here: the app's (late) ack does not count, Slack sends it again.
    const delivered = await fake
      .sendSocketEvent(event, 'events_api', { ackTimeoutMs: 1, retries: 3 })
      .catch(() => undefined);
    const sent = fake.envelopes.filter((envelope) => envelope.payload === event);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent[1]).toMatchObject({ retry_attempt: 1, retry_reason: 'timeout' });
    void delivered;
    await until(() => sourcesMessage(botMessages(fake, 'C0GENERAL', event.event.ts)));
    await sleep(1_000);
    expect(answerMessages(botMessages(fake, 'C0GENERAL', event.event.ts))).toHaveLength(1);
  });
});
