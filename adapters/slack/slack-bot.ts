import type { Server } from 'node:http';
import {
  App,
  type Logger as BoltLogger,
  HTTPReceiver,
  LogLevel,
  type Receiver,
  SocketModeReceiver,
} from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type Keyv from 'keyv';
import type { AgentEvent, SupportAgent } from '../../src/agent/support-agent.ts';
import { claimKey } from '../../src/cache/claim.ts';
import type { Config } from '../../src/config/schema.ts';
import { PlatformError, toSupportBotError } from '../../src/errors.ts';
import type { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import type { HealthReporter } from '../../src/observability/health.ts';
import { type LoggerLike, silentLogger } from '../../src/observability/logger-like.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { type Clock, systemClock } from '../../src/reply/clock.ts';
import { ReplyEngine } from '../../src/reply/progressive-reply.ts';
import { classifyIncoming, type IncomingSlackMessage, type SlackIdentity } from './incoming.ts';
import { openSlackReply, type SlackReply } from './slack-reply.ts';
import { toSlackStartError } from './slack-start-error.ts';
import {
  SlackReplyTransport,
  type SlackTarget,
  slackErrorCode,
  toTransportError,
} from './slack-transport.ts';

const defaultRestartNote = '_(The bot is restarting; please ask again.)_';

/** Options of {@link createSlackBot}. */
export interface SlackBotOptions {
  config: Config['slack'];
  agent: SupportAgent;
  /** Shared Keyv store: event de-duplication, thread participation, staff cache. */
  store: Keyv;
  feedback: FeedbackStore;
  metrics?: Metrics;
  logger?: LoggerLike;
  clock?: Clock;
  /**
   * The interface the Events API receiver (HTTP mode) listens on, as the HTTP API does (`HOST`).
   * @defaultValue '127.0.0.1'
   */
  host?: string;
  /**
   * Where the adapter reports what only it can see: `up` once connected, `down` when Slack says
   * the app was uninstalled or its tokens revoked, `retrying` while Socket Mode reconnects.
   */
  health?: HealthReporter;
  /**
   * Longest wait for Socket Mode to connect before start() gives up with a retryable error (the
   * SDK itself keeps retrying some failures for ever). @defaultValue 30_000
   */
  startTimeoutMs?: number;
  /**
   * Socket Mode: the SDK's ping interval; it also waits this long (times the failures in a row)
   * before reconnecting after Slack closes the connection. @defaultValue 5_000 (the SDK's)
   */
  socketPingTimeoutMs?: number;
  /**
   * Ends an answer that stop() cut short (config/prompts.yaml `replies.restarting`).
   * @defaultValue '_(The bot is restarting; please ask again.)_'
   */
  restartNote?: string;
}

/** A Slack connection that can be started, stopped and started again. */
export interface SlackBot {
  /** The Bolt app of the current (or last) connection attempt; a new one per start(). */
  readonly app: App;
  /**
   * Connects: auth.test with the bot token, then the Events API listener (HTTP mode: resolves with
   * its server) or the Socket Mode connection (resolves with undefined once Slack said hello).
   * Rejects with a {@link PlatformError}: `retryable` false when Slack refused a token (the message
   * names SLACK_BOT_TOKEN or SLACK_APP_TOKEN and where to get a good one), true for the network,
   * HTTP 5xx, rate limits and a Socket Mode connection that did not come up in time.
   */
  start(): Promise<Server | undefined>;
  /** Cancels the replies in flight (with a note) and disconnects; safe to call twice or before start(). */
  stop(): Promise<void>;
  /** Replies still streaming. */
  activeReplies(): number;
}

const seenTtlMs = 60 * 60_000;
const participationTtlMs = 7 * 24 * 3_600_000;
const defaults = {
  startTimeoutMs: 30_000,
  socketPingTimeoutMs: 5_000,
} as const satisfies Partial<SlackBotOptions>;

/**
 * Native-streaming refusals that hold for the whole workspace (the feature is not there, the token
 * may not use it): later replies there go straight to post-then-update.
 * @see https://docs.slack.dev/reference/methods/chat.startStream#errors
 */
const workspaceStreamingRefusals = new Set([
  'unknown_method',
  'not_allowed_token_type',
  'missing_scope',
  'team_access_not_granted',
  'enterprise_is_restricted',
  'accesslimited',
  'method_deprecated',
  'deprecated_endpoint',
  'is_bot',
]);

/**
 * Socket Mode `disconnect` reasons: the SDK closes the socket and reconnects on every one of them.
 * @see https://docs.slack.dev/apis/events-api/using-socket-mode#disconnect
 */
const disconnectNotes: Record<string, string> = {
  warning: 'Slack will recycle this Socket Mode connection in about 10 seconds',
  refresh_requested: 'Slack recycles this Socket Mode connection',
  link_disabled: 'Socket Mode was turned off for this app',
  too_many_websockets: 'this app has too many Socket Mode connections open (Slack allows 10)',
};

/**
 * The Slack adapter: a Bolt app (Events API over HTTP with signature checks, or Socket Mode) that
 * answers mentions in a thread, DMs, follow-ups in its threads (broadcast to the channel or not)
 * and every top-level message of the configured support channels; ignores whatever a bot wrote;
 * streams answers natively or by editing; posts sources with feedback buttons; and lets staff take
 * threads over and give them back. One WebClient for the adapter's life; a fresh Bolt app and
 * receiver per start(), so the supervisor can stop and start it again.
 */
export function createSlackBot(options: SlackBotOptions): SlackBot {
  const { config, agent, store, feedback, metrics, health } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const startTimeoutMs = options.startTimeoutMs ?? defaults.startTimeoutMs;
  const socketPingTimeoutMs = options.socketPingTimeoutMs ?? defaults.socketPingTimeoutMs;
  if (!config.botToken) {
    throw new PlatformError(
      'slack',
      'config_invalid',
      'Slack is not configured: set SLACK_BOT_TOKEN (OAuth & Permissions > Bot User OAuth Token)',
    );
  }
  const botToken = config.botToken;
  const boltLog = boltLogger(logger);
  const clientOptions: WebClientOptions = {
    ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}),
    logger: boltLog,
    // The reply engine paces and retries; the client must not hide 429s or retry for half an hour.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 1, factor: 2, minTimeout: 200, maxTimeout: 1_000 },
  };
  const client = new WebClient(botToken, clientOptions);
  const transport = new SlackReplyTransport({ client, updatesPerMinute: config.updatesPerMinute });
  const engine = new ReplyEngine<SlackTarget>({ transport, clock, logger });
  const active = new Map<string, { reply: SlackReply; messageTs: string }>();
  /** Workspaces where native streaming was refused for good. */
  const noNativeStreaming = new Set<string>();
  let self: SlackIdentity | undefined;
  let staffGroupCache: { members: Set<string>; at: number } | undefined;
  /** Set when Slack said the app is gone (uninstalled, tokens revoked): only an operator can fix it. */
  let lost: { code: string; reason: string } | undefined;

  let app = buildApp();
  /** Whether `app` was started (or tried to): a Bolt app and its receiver are started once. */
  let appUsed = false;
  let server: Server | undefined;
  let starting: Promise<Server | undefined> | undefined;

  function buildApp(): App {
    const receiver: Receiver =
      config.mode === 'socket'
        ? new SocketModeReceiver({
            appToken: config.appToken as string,
            logger: boltLog,
            clientPingTimeout: socketPingTimeoutMs,
            installerOptions: { clientOptions },
          })
        : new HTTPReceiver({
            signingSecret: config.signingSecret as string,
            logger: boltLog,
            // Events are acknowledged on arrival and interactions by their listeners; a request
            // Bolt cannot even classify (no event, no known type) is acknowledged after a second,
            // before Slack's 3 s retry timer, with a warn line instead of Bolt's error and 404.
            unhandledRequestTimeoutMillis: 1_000,
            // Bolt throws on some malformed payloads (an `event` that is not an object) before it
            // acknowledges: a warn line and a 200, since Slack would only retry what cannot work.
            processEventErrorHandler: async ({ error, response }) => {
              if (response.headersSent) {
                // After the ack: a listener failed, which app.error() has already reported.
                return false;
              }
              logger.warn(
                { err: toSupportBotError(error) },
                'malformed Slack request acknowledged and ignored',
              );
              response.writeHead(200);
              response.end();
              return true;
            },
            unhandledRequestHandler: ({ response }) => {
              logger.warn('Slack request of no known type acknowledged and ignored');
              if (!response.headersSent) {
                response.writeHead(200);
                response.end();
              }
            },
          });
    const next = new App({
      receiver,
      logger: boltLog,
      // The identity comes from the auth.test of start(): Bolt makes no call of its own.
      authorize: async () => {
        if (!self) throw new PlatformError('slack', 'not_started', 'the Slack adapter is not started');
        return { botToken, botId: self.botId, botUserId: self.botUserId, teamId: self.teamId };
      },
      clientOptions,
    });
    register(next);
    if (receiver instanceof SocketModeReceiver) watchSocket(receiver);
    return next;
  }

  /** Socket Mode's lifecycle, as log lines and health: the SDK itself reconnects. */
  function watchSocket(receiver: SocketModeReceiver): void {
    const socket = receiver.client;
    socket.on('ws_message', (data: unknown) => {
      let message: { type?: unknown; reason?: unknown };
      try {
        message = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as Buffer));
      } catch {
        return;
      }
      if (message.type !== 'disconnect') return;
      const reason = String(message.reason ?? 'unknown');
      const note = disconnectNotes[reason] ?? `Slack asked to disconnect (${reason})`;
      if (reason === 'link_disabled' || reason === 'too_many_websockets') {
        logger.warn({ reason }, `Slack Socket Mode: ${note}; reconnecting`);
      } else {
        logger.info({ reason }, `Slack Socket Mode: ${note}; reconnecting`);
      }
    });
    socket.on('reconnecting', () => {
      if (!lost)
        health?.report('retrying', { code: 'socket_reconnecting', reason: 'Socket Mode is reconnecting' });
    });
    socket.on('connected', () => {
      if (!lost && self) health?.report('up');
    });
  }

  async function isStaff(userId: string): Promise<boolean> {
    if (config.staffUserIds.includes(userId)) return true;
    if (!config.staffUserGroup) return false;
    if (!staffGroupCache || clock.now() - staffGroupCache.at > 5 * 60_000) {
      try {
        const result = await client.usergroups.users.list({ usergroup: config.staffUserGroup });
        staffGroupCache = { members: new Set(result.users ?? []), at: clock.now() };
      } catch (error) {
        logger.warn({ err: error, usergroup: config.staffUserGroup }, 'staff user group could not be read');
        staffGroupCache = { members: new Set(), at: clock.now() };
      }
    }
    return staffGroupCache.members.has(userId);
  }

  /** The app can no longer work in Slack until an operator reinstalls it: one warn line, health down. */
  function appLost(code: string, teamId: string): void {
    const reason =
      code === 'app_uninstalled'
        ? `The Slack app was uninstalled from workspace ${teamId || '(unknown)'}: reinstall it (api.slack.com/apps > your app > Install App), put the new Bot User OAuth Token in SLACK_BOT_TOKEN and restart`
        : `The Slack bot token was revoked in workspace ${teamId || '(unknown)'}: reinstall the app (api.slack.com/apps > your app > Install App), put the new Bot User OAuth Token in SLACK_BOT_TOKEN and restart`;
    if (lost?.code === code) return;
    lost = { code, reason };
    metrics?.platformErrors.inc({ platform: 'slack', error: code });
    health?.report('down', { code, reason });
    logger.warn({ platform: 'slack', code, teamId }, reason);
  }

  function register(target: App): void {
    // Slack retries an event it thinks was not acknowledged (HTTP X-Slack-Retry-Num, Socket Mode
    // retry_attempt): each event id is handled once, in every process that shares the store.
    target.use(async ({ body, next }) => {
      const eventId = (body as { event_id?: unknown }).event_id;
      const received = (body as { event?: { type?: unknown; subtype?: unknown } }).event;
      logger.debug(
        {
          eventId,
          type: (body as { type?: unknown }).type,
          eventType: received?.type,
          subtype: received?.subtype,
        },
        'Slack request received',
      );
      if (typeof eventId === 'string' && eventId) {
        // One atomic claim (Redis SET NX PX): two instances, or three concurrent deliveries to one,
        // can never all see "not handled yet". With Redis down the claim is local to this instance.
        if (!(await claimKey(store, `slack:event:${eventId}`, seenTtlMs))) {
          logger.debug({ eventId }, 'duplicate Slack event ignored');
          return;
        }
      }
      const event = (body as { event?: unknown }).event;
      if ((body as { type?: unknown }).type === 'event_callback') {
        if (!event || typeof event !== 'object' || typeof (event as { type?: unknown }).type !== 'string') {
          logger.warn({ eventId }, 'malformed Slack event ignored: no event type');
          return;
        }
      }
      await next();
    });

    target.event('app_mention', async ({ event, body }) => {
      await consider(event as unknown as Record<string, unknown>, body as unknown as Record<string, unknown>);
    });

    target.message(async ({ message, body }) => {
      await consider(
        message as unknown as Record<string, unknown>,
        body as unknown as Record<string, unknown>,
      );
    });

    // Slack sends both to every app, subscribed or not.
    target.event('app_uninstalled', async ({ body }) => {
      appLost('app_uninstalled', String((body as { team_id?: unknown }).team_id ?? ''));
    });
    target.event('tokens_revoked', async ({ event, body }) => {
      const tokens = (event as { tokens?: { bot?: unknown; oauth?: unknown } }).tokens;
      const bots = Array.isArray(tokens?.bot) ? tokens.bot : [];
      // A single-workspace app has one bot token: any bot entry is ours. User tokens are not used.
      if (bots.length > 0) appLost('tokens_revoked', String((body as { team_id?: unknown }).team_id ?? ''));
      else logger.debug({ tokens }, 'Slack user tokens revoked; the bot uses none');
    });

    target.action(/^feedback_(helpful|unhelpful)$/, async ({ ack, action, body, respond }) => {
      await ack();
      const helpful = (action as { action_id: string }).action_id === 'feedback_helpful';
      const turnId = (action as { value?: unknown }).value;
      const userId = (body as { user?: { id?: unknown } }).user?.id;
      if (typeof turnId !== 'string' || !turnId || typeof userId !== 'string') {
        logger.warn(
          { actionId: (action as { action_id: string }).action_id },
          'feedback click without a turn or user ignored',
        );
        return;
      }
      await feedback.record({ platform: 'slack', turnId, userId, helpful, at: Date.now() });
      metrics?.feedback.inc({ platform: 'slack', verdict: helpful ? 'helpful' : 'not_helpful' });
      await respond({
        replace_original: true,
        text: helpful
          ? 'Thanks for the feedback!'
          : 'Thanks for telling us. A person can help: just reply "human".',
      }).catch((error: unknown) => logger.debug({ err: error }, 'feedback acknowledgement not shown'));
    });

    // Buttons this bot never posted (an old message, another app's blocks): acknowledged, not acted on.
    target.action(/.*/, async ({ ack, action }) => {
      const actionId = (action as { action_id?: unknown }).action_id;
      // The feedback listener above acknowledges its own clicks.
      if (typeof actionId === 'string' && /^feedback_(helpful|unhelpful)$/.test(actionId)) return;
      await ack();
      logger.debug({ actionId }, 'Slack interaction for an unknown action ignored');
    });

    target.error(async (error) => {
      const code =
        slackErrorCode((error as { original?: unknown }).original ?? error) ??
        (error as { code?: string }).code;
      metrics?.platformErrors.inc({ platform: 'slack', error: String(code ?? 'unknown') });
      logger.error({ err: toSupportBotError(error), code }, 'Slack handler failed');
    });
  }

  async function consider(event: Record<string, unknown>, body: Record<string, unknown>): Promise<void> {
    const identity = self;
    if (!identity) return;
    const decision = classifyIncoming(event, body, identity);
    if (decision.action === 'deleted') {
      logger.debug({ ts: decision.ts }, 'Slack message deleted');
      // The customer took the question back: stop its answer cleanly.
      for (const [key, entry] of active) {
        if (decision.ts && entry.messageTs === decision.ts) {
          await entry.reply.cancel('_(The question was deleted.)_');
          active.delete(key);
        }
      }
      return;
    }
    if (decision.action === 'ignore') {
      const fields = { eventType: event.type, subtype: event.subtype, eventId: body.event_id };
      if (decision.level === 'warn') logger.warn(fields, `malformed Slack event ignored: ${decision.reason}`);
      else logger.debug(fields, `Slack event ignored: ${decision.reason}`);
      return;
    }
    const message = decision.message;
    if (!message.viaMention) {
      const isDm = message.channelType === 'im';
      const inOurThread = message.threadTs
        ? Boolean(await store.get(participationKey(message.channel, message.threadTs)))
        : false;
      const supportChannel = config.supportChannels.includes(message.channel) && !message.threadTs;
      if (!isDm && !inOurThread && !supportChannel) {
        logger.debug(
          { channel: message.channel, broadcast: message.broadcast },
          'Slack message not addressed to the bot ignored',
        );
        return;
      }
    }
    await handleMessage(message, identity);
  }

  async function handleMessage(message: IncomingSlackMessage, identity: SlackIdentity): Promise<void> {
    const threadTs = message.threadTs ?? message.ts;
    const threadKey = `${message.channel}:${threadTs}`;
    const ref = { platform: 'slack', threadId: threadKey };
    const staff = await isStaff(message.user);
    const text = message.text.replaceAll(`<@${identity.botUserId}>`, '').trim();
    try {
      if (staff) {
        if (/^resume\b/i.test(text)) {
          await agent.resume(ref);
          await postPaced(
            { teamId: message.teamId, channel: message.channel, threadTs },
            {
              channel: message.channel,
              thread_ts: threadTs,
              text: "Thanks! I'll take it from here and answer new questions in this thread.",
            },
          );
          return;
        }
        // A staff reply (broadcast to the channel or not) takes the thread over; an answer still
        // streaming there stops.
        const running = active.get(threadKey);
        if (running && (message.threadTs || message.viaMention)) {
          await running.reply.cancel('_(A person from our team has joined this thread.)_');
          active.delete(threadKey);
        }
        if (!message.threadTs) {
          // Staff asking the bot a question at the top level are just customers here.
        } else {
          for await (const _ of agent.handle({
            ...baseMessage(message, threadKey, text),
            userIsStaff: true,
          })) {
          }
          return;
        }
      }
      if (!text && message.hasFiles) {
        await postPaced(
          { teamId: message.teamId, channel: message.channel, threadTs },
          {
            channel: message.channel,
            thread_ts: threadTs,
            text: 'Thanks for the file! I can only read text, so could you type your question? A person can also help: just say "human".',
          },
        );
        await store.set(participationKey(message.channel, threadTs), true, participationTtlMs);
        return;
      }
      if ((await agent.threadOwner(ref)) === 'staff') {
        for await (const _ of agent.handle(baseMessage(message, threadKey, text))) {
        }
        return;
      }
      await store.set(participationKey(message.channel, threadTs), true, participationTtlMs);
      await answer(message, threadKey, threadTs, text);
    } catch (error) {
      const code = slackErrorCode((error as { cause?: unknown }).cause ?? error) ?? slackErrorCode(error);
      metrics?.platformErrors.inc({ platform: 'slack', error: code ?? 'internal' });
      logger.error(
        { err: toSupportBotError(error), channel: message.channel, code },
        'Slack message could not be answered',
      );
    }
  }

  async function answer(
    message: IncomingSlackMessage,
    threadKey: string,
    threadTs: string,
    text: string,
  ): Promise<void> {
    const target: SlackTarget = { teamId: message.teamId, channel: message.channel, threadTs };
    const reply = openSlackReply({
      client,
      engine,
      target,
      recipientUserId: message.user,
      native: config.streaming !== 'update' && !noNativeStreaming.has(message.teamId),
      clock,
      logger,
      onFallback: (code) => {
        // A workspace without streaming will not get it later either; a refusal that concerns one
        // channel or one message (an expired stream, a channel type) leaves the others streaming.
        if (config.streaming === 'auto' && workspaceStreamingRefusals.has(code)) {
          noNativeStreaming.add(message.teamId);
          logger.info(
            { teamId: message.teamId, code },
            'Slack native streaming is not available in this workspace; answering by edits from now on',
          );
        }
      },
    });
    active.set(threadKey, { reply, messageTs: message.ts });
    let end: (AgentEvent & { type: 'answer-end' }) | undefined;
    try {
      for await (const event of agent.handle(baseMessage(message, threadKey, text))) {
        if (event.type === 'answer-delta') reply.append(event.text);
        else if (event.type === 'answer-end') end = event;
      }
      if (!end) {
        await reply.finish('');
        return;
      }
      const { ts } = await reply.finish(end.text);
      if (end.sources.length > 0) await postSources(target, end);
      if (end.handoff) await announceHandoff(message, threadTs, ts, end);
      if (end.notice) await postStaffNote(message, threadTs, ts, end.notice);
    } finally {
      active.delete(threadKey);
    }
  }

  async function postSources(target: SlackTarget, end: AgentEvent & { type: 'answer-end' }): Promise<void> {
    const sources = end.sources
      .map((source) => (source.url ? `<${source.url}|${source.title}>` : source.title))
      .join(' · ');
    await postPaced(target, {
      channel: target.channel,
      thread_ts: target.threadTs,
      text: `Sources: ${end.sources.map((source) => source.title).join(', ')}`,
      blocks: [
        { type: 'context', elements: [{ type: 'mrkdwn', text: `*Sources:* ${sources}` }] },
        {
          type: 'actions',
          block_id: 'feedback',
          elements: [
            {
              type: 'button',
              action_id: 'feedback_helpful',
              text: { type: 'plain_text', text: '👍 Helpful' },
              value: end.turnId,
            },
            {
              type: 'button',
              action_id: 'feedback_unhelpful',
              text: { type: 'plain_text', text: '👎 Not helpful' },
              value: end.turnId,
            },
          ],
        },
      ],
    }).catch((error: unknown) =>
      logger.warn({ err: error, channel: target.channel }, 'sources could not be posted'),
    );
  }

  /** A post outside the reply engine that still spends the channel's budget (and waits out 429s). */
  async function postPaced(
    target: SlackTarget,
    args: Parameters<WebClient['chat']['postMessage']>[0],
  ): Promise<void> {
    const scopes = transport.scopes(target, 'post');
    await engine.scheduler.schedulePaced(
      {
        priority: 2,
        scopes,
        owner: target,
        run: async () => {
          await client.chat.postMessage(args);
        },
      },
      {
        maxRetries: 5,
        toError: (error) =>
          toTransportError(
            error,
            scopes.map((scope) => scope.key),
          ),
      },
    );
  }

  async function announceHandoff(
    message: IncomingSlackMessage,
    threadTs: string,
    replyTs: string | undefined,
    end: AgentEvent & { type: 'answer-end' },
  ): Promise<void> {
    if (!config.staffChannel || !end.handoff) return;
    try {
      const link = await client.chat.getPermalink({
        channel: message.channel,
        message_ts: replyTs ?? threadTs,
      });
      const tag = config.staffUserGroup ? `<!subteam^${config.staffUserGroup}> ` : '';
      await postPaced(
        { teamId: message.teamId, channel: config.staffChannel, threadTs: '' },
        {
          channel: config.staffChannel,
          text: `${tag}Hand-off (${end.handoff.reason.replace('_', ' ')}) from <@${message.user}>: ${escapeSlackText(end.handoff.summary)}\n<${link.permalink}|Open the thread>`,
          unfurl_links: false,
        },
      );
    } catch (error) {
      logger.error({ err: error, channel: config.staffChannel }, 'hand-off could not be announced to staff');
    }
  }

  /** A note for staff that leaves the thread with the bot (a customer over a message limit). */
  async function postStaffNote(
    message: IncomingSlackMessage,
    threadTs: string,
    replyTs: string | undefined,
    note: string,
  ): Promise<void> {
    if (!config.staffChannel) return;
    try {
      const link = await client.chat.getPermalink({
        channel: message.channel,
        message_ts: replyTs ?? threadTs,
      });
      await postPaced(
        { teamId: message.teamId, channel: config.staffChannel, threadTs: '' },
        {
          channel: config.staffChannel,
          text: `${escapeSlackText(note)}\n<${link.permalink}|Open the thread>`,
          unfurl_links: false,
        },
      );
    } catch (error) {
      logger.warn({ err: error, channel: config.staffChannel }, 'staff note could not be posted');
    }
  }

  /** auth.test with the bot token: who the bot is, or why the token is refused. */
  async function checkBotToken(): Promise<SlackIdentity> {
    let auth: Awaited<ReturnType<WebClient['auth']['test']>>;
    try {
      auth = await client.auth.test();
    } catch (error) {
      throw toSlackStartError(error, 'bot');
    }
    if (!auth.bot_id || !auth.user_id) {
      // A user token (xoxp-) passes auth.test but is no bot: nothing would be answered as the bot.
      throw new PlatformError(
        'slack',
        'invalid_token_type',
        'SLACK_BOT_TOKEN is not a bot token (invalid token type): copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions',
        { retryable: false },
      );
    }
    return {
      teamId: String(auth.team_id ?? ''),
      botUserId: String(auth.user_id),
      botId: String(auth.bot_id),
    };
  }

  async function connect(): Promise<Server | undefined> {
    if (config.mode === 'socket' && !/^xapp-/.test(config.appToken ?? '')) {
      // Slack's client would retry a wrong kind of token for ever (not_allowed_token_type).
      throw new PlatformError(
        'slack',
        'invalid_token_type',
        'SLACK_APP_TOKEN is not an app-level token (invalid token type, it starts with xapp-): create one with the connections:write scope under Basic Information > App-Level Tokens',
        { retryable: false },
      );
    }
    self = await checkBotToken();
    lost = undefined;
    // A Bolt receiver is started once: every attempt after the first gets a fresh app.
    if (appUsed) app = buildApp();
    appUsed = true;
    const current = app;
    if (config.mode === 'socket') {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          current.start(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new PlatformError(
                    'slack',
                    'socket_timeout',
                    `Socket Mode did not connect within ${Math.round(startTimeoutMs / 1000)} s; will retry`,
                    { retryable: true },
                  ),
                ),
              startTimeoutMs,
            );
          }),
        ]);
      } catch (error) {
        throw toSlackStartError(error, 'app');
      } finally {
        clearTimeout(timer);
      }
      health?.report('up');
      return undefined;
    }
    try {
      server = (await current.start({ port: config.port, host: options.host ?? '127.0.0.1' })) as Server;
    } catch (error) {
      throw toSlackStartError(error, 'bot');
    }
    health?.report('up');
    return server;
  }

  return {
    get app() {
      return app;
    },
    start() {
      starting ??= connect().finally(() => {
        starting = undefined;
      });
      return starting;
    },
    async stop() {
      await starting?.catch(() => undefined);
      // The receiver first, so no new event starts an answer; then the replies in flight end with
      // the note (they go through the Web API, which stays usable).
      let stopping: Promise<unknown> = Promise.resolve();
      if (appUsed) {
        // HTTP: the receiver closes its server (an unstarted one throws: nothing to close), which
        // waits for open connections: they are closed, not waited for.
        stopping = app.stop().catch(() => undefined);
        server?.closeAllConnections();
        server = undefined;
      }
      await Promise.allSettled(
        [...active.values()].map((entry) => entry.reply.cancel(options.restartNote ?? defaultRestartNote)),
      );
      active.clear();
      await stopping;
    },
    activeReplies: () => active.size,
  };
}

function baseMessage(message: IncomingSlackMessage, threadKey: string, text: string) {
  return {
    platform: 'slack',
    channelId: message.channel,
    threadId: threadKey,
    messageId: message.ts,
    userId: message.user,
    text,
  };
}

function participationKey(channel: string, threadTs: string): string {
  return `slack:thread:${channel}:${threadTs}`;
}

/**
 * Bolt's and the Web API client's logger interface over ours. The SDK logs a refused Socket Mode
 * token at error level before start() rejects; the supervisor reports that failure once, so the
 * SDK's copy goes to debug.
 */
function boltLogger(logger: LoggerLike): BoltLogger {
  let level = LogLevel.INFO;
  const write =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    (...messages: unknown[]) => {
      const text = messages.map((part) => (part instanceof Error ? part.message : String(part))).join(' ');
      const demoted = method === 'error' && /^Failed to retrieve a new WSS URL/.test(text);
      logger[demoted ? 'debug' : method]({ source: 'bolt' }, text);
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/**
 * Customer text re-posted by the bot, made inert: Slack reads `<!channel>`, `<@U…>` and
 * `<https://…|label>` in a message's text as a broadcast, a mention and a disguised link, so `&`,
 * `<` and `>` are escaped as Slack asks.
 * @see https://api.slack.com/reference/surfaces/formatting#escaping
 */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
