import type { Server } from 'node:http';
import { App, type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type Keyv from 'keyv';
import type { AgentEvent, SupportAgent } from '../../src/agent/support-agent.ts';
import type { Config } from '../../src/config/schema.ts';
import { toSupportBotError } from '../../src/errors.ts';
import type { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import { type LoggerLike, silentLogger } from '../../src/observability/logger-like.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { type Clock, systemClock } from '../../src/reply/clock.ts';
import { ReplyEngine } from '../../src/reply/progressive-reply.ts';
import { openSlackReply, type SlackReply } from './slack-reply.ts';
import {
  SlackReplyTransport,
  type SlackTarget,
  slackErrorCode,
  toTransportError,
} from './slack-transport.ts';

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
}

/** A running Slack connection. */
export interface SlackBot {
  app: App;
  /** HTTP mode: the Events API server (its port); socket mode: undefined. */
  start(): Promise<Server | undefined>;
  stop(): Promise<void>;
  /** Replies still streaming. */
  activeReplies(): number;
}

interface IncomingSlackMessage {
  teamId: string;
  channel: string;
  channelType?: string;
  ts: string;
  threadTs?: string;
  user: string;
  text: string;
  hasFiles: boolean;
  viaMention: boolean;
}

const seenTtlMs = 60 * 60_000;
const participationTtlMs = 7 * 24 * 3_600_000;

/**
 * The Slack adapter: a Bolt app (Events API over HTTP with signature checks, or Socket Mode) that
 * answers mentions in a thread, DMs, follow-ups in its threads and every top-level message of the
 * configured support channels; streams answers natively or by editing; posts sources with feedback
 * buttons; and lets staff take threads over and give them back.
 */
export function createSlackBot(options: SlackBotOptions): SlackBot {
  const { config, agent, store, feedback, metrics } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  if (!config.botToken) throw new Error('Slack is not configured: set SLACK_BOT_TOKEN');

  const app = new App({
    token: config.botToken,
    ...(config.mode === 'socket'
      ? { socketMode: true, appToken: config.appToken as string }
      : { signingSecret: config.signingSecret as string }),
    logger: boltLogger(logger),
    clientOptions: {
      ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}),
      // The reply engine paces and retries; the client must not hide 429s or retry for half an hour.
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 1, factor: 2, minTimeout: 200, maxTimeout: 1_000 },
    },
  });
  const client = app.client as unknown as WebClient;
  const transport = new SlackReplyTransport({ client, updatesPerMinute: config.updatesPerMinute });
  const engine = new ReplyEngine<SlackTarget>({
    transport,
    clock,
    logger,
  });
  const active = new Map<string, { reply: SlackReply; messageTs: string }>();
  let nativeStreaming = config.streaming !== 'update';
  let botUserId: string | undefined;
  let staffGroupCache: { members: Set<string>; at: number } | undefined;

  async function identity(): Promise<string> {
    if (!botUserId) {
      const auth = await client.auth.test();
      botUserId = String(auth.user_id);
    }
    return botUserId;
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

  // Slack retries an event it thinks was not acknowledged: each event id is handled once, in
  // every process that shares the store.
  app.use(async ({ body, next }) => {
    const eventId = (body as { event_id?: string }).event_id;
    if (eventId) {
      const key = `slack:event:${eventId}`;
      if (await store.get(key)) {
        logger.debug({ eventId }, 'duplicate Slack event ignored');
        return;
      }
      await store.set(key, true, seenTtlMs);
    }
    await next();
  });

  app.event('app_mention', async ({ event, body }) => {
    const mention = event as unknown as Record<string, unknown>;
    await handleMessage({
      teamId: String((body as { team_id?: string }).team_id ?? mention.team ?? ''),
      channel: String(mention.channel),
      ts: String(mention.ts),
      ...(mention.thread_ts ? { threadTs: String(mention.thread_ts) } : {}),
      user: String(mention.user ?? ''),
      text: String(mention.text ?? ''),
      hasFiles: Array.isArray(mention.files) && mention.files.length > 0,
      viaMention: true,
    });
  });

  app.message(async ({ message, body }) => {
    const event = message as unknown as Record<string, unknown>;
    const subtype = event.subtype as string | undefined;
    if (subtype === 'message_deleted') {
      // The customer took the question back: stop its answer cleanly.
      const previous = event.previous_message as { ts?: string } | undefined;
      for (const [key, entry] of active) {
        if (entry.messageTs === previous?.ts) {
          await entry.reply.cancel('_(The question was deleted.)_');
          active.delete(key);
        }
      }
      return;
    }
    // Edits, joins, bot messages and other subtypes are not questions; file shares are, politely.
    if ((subtype && subtype !== 'file_share') || event.bot_id || !event.user) return;
    const self = await identity();
    if (event.user === self) return;
    const text = String(event.text ?? '');
    // A mention also arrives as app_mention; answer it there only.
    if (text.includes(`<@${self}>`)) return;
    const channel = String(event.channel);
    const channelType = String(event.channel_type ?? '');
    const threadTs = event.thread_ts ? String(event.thread_ts) : undefined;
    const isDm = channelType === 'im';
    const inOurThread = threadTs ? Boolean(await store.get(participationKey(channel, threadTs))) : false;
    const supportChannel = config.supportChannels.includes(channel) && !threadTs;
    if (!isDm && !inOurThread && !supportChannel) return;
    await handleMessage({
      teamId: String((body as { team_id?: string }).team_id ?? event.team ?? ''),
      channel,
      channelType,
      ts: String(event.ts),
      ...(threadTs ? { threadTs } : {}),
      user: String(event.user),
      text,
      hasFiles: Array.isArray(event.files) && event.files.length > 0,
      viaMention: false,
    });
  });

  app.action(/^feedback_(helpful|unhelpful)$/, async ({ ack, action, body, respond }) => {
    await ack();
    const helpful = (action as { action_id: string }).action_id === 'feedback_helpful';
    const turnId = String((action as { value?: string }).value ?? '');
    const userId = String((body as { user?: { id?: string } }).user?.id ?? '');
    await feedback.record({ platform: 'slack', turnId, userId, helpful, at: Date.now() });
    metrics?.feedback.inc({ platform: 'slack', verdict: helpful ? 'helpful' : 'not_helpful' });
    await respond({
      replace_original: true,
      text: helpful
        ? 'Thanks for the feedback!'
        : 'Thanks for telling us. A person can help: just reply "human".',
    }).catch((error: unknown) => logger.debug({ err: error }, 'feedback acknowledgement not shown'));
  });

  app.error(async (error) => {
    const code =
      slackErrorCode((error as { original?: unknown }).original ?? error) ??
      (error as { code?: string }).code;
    metrics?.platformErrors.inc({ platform: 'slack', error: String(code ?? 'unknown') });
    logger.error({ err: toSupportBotError(error), code }, 'Slack handler failed');
  });

  async function handleMessage(message: IncomingSlackMessage): Promise<void> {
    const self = await identity();
    const threadTs = message.threadTs ?? message.ts;
    const threadKey = `${message.channel}:${threadTs}`;
    const ref = { platform: 'slack', threadId: threadKey };
    const staff = await isStaff(message.user);
    const text = message.text.replaceAll(`<@${self}>`, '').trim();
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
        // A staff reply takes the thread over; an answer still streaming there stops.
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
      native: nativeStreaming,
      clock,
      logger,
      onFallback: (reason) => {
        // A workspace without streaming will not get it later either.
        if (
          config.streaming === 'auto' &&
          /not_allowed|unknown_method|missing_scope|not_supported/.test(reason)
        ) {
          nativeStreaming = false;
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
    await engine.scheduler.schedulePaced(
      {
        priority: 2,
        scopes: transport.scopes(target, 'post'),
        owner: target,
        run: async () => {
          await client.chat.postMessage(args);
        },
      },
      { maxRetries: 5, toError: toTransportError },
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
          text: `${tag}Hand-off (${end.handoff.reason.replace('_', ' ')}) from <@${message.user}>: ${end.handoff.summary}\n<${link.permalink}|Open the thread>`,
          unfurl_links: false,
        },
      );
    } catch (error) {
      logger.error({ err: error, channel: config.staffChannel }, 'hand-off could not be announced to staff');
    }
  }

  let server: Server | undefined;
  return {
    app,
    async start() {
      await identity();
      if (config.mode === 'socket') {
        await app.start();
        return undefined;
      }
      server = (await app.start(config.port)) as Server;
      return server;
    },
    async stop() {
      await Promise.allSettled(
        [...active.values()].map((entry) =>
          entry.reply.cancel('_(The bot is restarting; please ask again.)_'),
        ),
      );
      await app.stop().catch(() => undefined);
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

/** Bolt's logger interface over ours. */
function boltLogger(logger: LoggerLike): BoltLogger {
  let level = LogLevel.INFO;
  const write =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    (...messages: unknown[]) =>
      logger[method](
        { source: 'bolt' },
        messages.map((part) => (part instanceof Error ? part.message : String(part))).join(' '),
      );
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
