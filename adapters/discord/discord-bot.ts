import {
  type APIEmbed,
  type ApplicationCommandDataResolvable,
  ApplicationCommandOptionType,
  ButtonStyle,
  ChannelType,
  type ChatInputCommandInteraction,
  Client,
  ComponentType,
  Events,
  escapeMarkdown,
  GatewayDispatchEvents,
  GatewayIntentBits,
  type Interaction,
  type Message,
  MessageFlags,
  MessageType,
  Partials,
  PermissionFlagsBits,
  type PermissionsBitField,
  RESTEvents,
  ThreadAutoArchiveDuration,
} from 'discord.js';
import type Keyv from 'keyv';
import type { AgentEvent, IncomingMessage, SupportAgent } from '../../src/agent/support-agent.ts';
import { claimKey } from '../../src/cache/claim.ts';
import type { Config } from '../../src/config/schema.ts';
import { PlatformError, toSupportBotError } from '../../src/errors.ts';
import type { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import type { HealthReporter } from '../../src/observability/health.ts';
import { type LoggerLike, silentLogger } from '../../src/observability/logger-like.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { priority } from '../../src/reply/budget-scheduler.ts';
import { type Clock, systemClock } from '../../src/reply/clock.ts';
import { type ProgressiveReply, ReplyEngine } from '../../src/reply/progressive-reply.ts';
import { ReplyDeliveryError } from '../../src/reply/transport.ts';
import { messageContentFix, toStartError } from './discord-errors.ts';
import {
  DiscordReplyTransport,
  type DiscordTarget,
  discordErrorCode,
  permanentDiscordErrors,
  toTransportError,
} from './discord-transport.ts';

const defaultRestartNote = '_(The bot is restarting; please ask again.)_';

/** Options of {@link createDiscordBot}. */
export interface DiscordBotOptions {
  config: Config['discord'];
  agent: SupportAgent;
  /** Shared Keyv store: message de-duplication, thread participation, inline conversations. */
  store: Keyv;
  feedback: FeedbackStore;
  metrics?: Metrics;
  logger?: LoggerLike;
  clock?: Clock;
  /**
   * Shards this client runs, of `shardCount`. Default: what discord.js's ShardingManager gives the
   * process (SHARDS / SHARD_COUNT), else one shard.
   */
  shards?: number[];
  shardCount?: number;
  /**
   * Where the adapter reports its state: `up`; `degraded` (code `disallowed_intents`) while it runs
   * without the Message Content intent; `down` with the operator's fix when it cannot run.
   */
  health?: HealthReporter;
  /**
   * How long {@link DiscordBot.stop} waits for streaming answers to post their "restarting" note
   * (a rate-limited channel could hold them for minutes). @defaultValue 5_000
   */
  stopGraceMs?: number;
  /**
   * Ends an answer that stop() cut short (config/prompts.yaml `replies.restarting`).
   * @defaultValue '_(The bot is restarting; please ask again.)_'
   */
  restartNote?: string;
}

/**
 * A Discord connection that a PlatformSupervisor (src/lifecycle) can start, stop and start again:
 * every attempt builds a fresh discord.js Client.
 */
export interface DiscordBot {
  /** The current attempt's discord.js Client (a new one after each start). */
  readonly client: Client;
  /**
   * Connects; resolves once the client is ready (commands registered). When Discord refuses the
   * Message Content intent (4014) it logs one warn line, reports `degraded` and connects again at
   * once without it. Rejects with a {@link PlatformError}: `retryable: false` for what only an
   * operator can fix (`invalid_token`, `invalid_shard`, `sharding_required`, `invalid_api_version`,
   * `invalid_intents`, `disallowed_intents`), `true` for the network, 5xx and rate limits.
   */
  start(): Promise<void>;
  /** Cancels streaming answers (waiting at most `stopGraceMs`) and destroys the client; safe to call twice. */
  stop(): Promise<void>;
  /** Replies still streaming. */
  activeReplies(): number;
  /** Whether the current connection has the Message Content intent. */
  readonly messageContent: boolean;
}

/** The gateway intents the bot needs. MessageContent is privileged: enable it in the Developer Portal. */
export const discordIntents = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages,
];

/**
 * What the bot runs with when Discord refuses MessageContent (close code 4014): it still reads DMs,
 * messages that mention it (a reply pings its author by default) and `/ask`.
 * @see https://discord.com/developers/docs/events/gateway#message-content-intent
 */
export const intentsWithoutMessageContent = discordIntents.filter(
  (intent) => intent !== GatewayIntentBits.MessageContent,
);

/** Dispatch types discord.js knows; others are logged and ignored. */
const knownDispatches = new Set<string>(Object.values(GatewayDispatchEvents));

/** What the invite URL asks for: see the README. */
export const discordPermissions =
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.SendMessagesInThreads |
  PermissionFlagsBits.CreatePublicThreads |
  PermissionFlagsBits.EmbedLinks |
  PermissionFlagsBits.ReadMessageHistory;

/** The `/ask` slash command. */
export const askCommand = {
  name: 'ask',
  description: 'Ask the support assistant a question',
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: 'question',
      description: 'Your question',
      required: true,
      max_length: 4_000,
    },
  ],
} satisfies ApplicationCommandDataResolvable;

interface Conversation {
  /** Where the reply goes. */
  target: DiscordTarget;
  /** The agent's thread id (history, hand-off ownership). */
  threadKey: string;
  guildId: string | undefined;
}

type AnswerEnd = AgentEvent & { type: 'answer-end' };

const seenTtlMs = 60 * 60_000;
const participationTtlMs = 7 * 24 * 3_600_000;
const forbiddenCooldownMs = 5 * 60_000;
const degradedReason = `Discord refused the Message Content intent (gateway close 4014), so the bot answers only mentions, replies that mention it, DMs and /ask: ${messageContentFix}`;

/**
 * The Discord adapter: a discord.js client that answers mentions and replies to the bot (in a new
 * thread where the channel allows, otherwise inline), DMs, follow-ups in its threads, every new
 * message or forum post of the configured support channels, and `/ask`; streams answers by editing
 * through the progressive reply engine; adds sources with feedback buttons; and lets staff take
 * threads over and give them back.
 */
export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const { config, agent, store, feedback, metrics } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  if (!config.token)
    throw new PlatformError('discord', 'not_configured', 'Discord is not configured: set DISCORD_TOKEN');

  const stopGraceMs = options.stopGraceMs ?? 5_000;
  const health = options.health;
  /** Clients that have tried to log in: discord.js does not promise a second login after destroy. */
  const used = new WeakSet<Client>();
  /** The current attempt's client, replaced by {@link connect}; the first one serves `client` before start. */
  let client = buildClient(discordIntents);
  /** Whether the current connection reads message content. */
  let messageContent = true;
  let connected = false;
  let stopped = false;
  let starting: Promise<void> | undefined;
  let warnedAboutIntent = false;
  const transport = new DiscordReplyTransport({ rest: () => client.rest });
  const engine = new ReplyEngine<DiscordTarget>({ transport, clock, logger });
  const active = new Map<string, { reply: ProgressiveReply<DiscordTarget>; messageId: string }>();
  const forbiddenUntil = new Map<string, number>();
  /** Gateway packets already found malformed (and logged): discord.js does not get them. */
  const malformedPackets = new WeakSet<object>();

  /** A discord.js Client with the bot's handlers; events of a client no longer current are ignored. */
  function buildClient(intents: readonly GatewayIntentBits[]): Client {
    const built = new Client({
      intents: [...intents],
      // DMs arrive for channels the client has never seen.
      partials: [Partials.Channel],
      allowedMentions: { parse: [], repliedUser: true },
      rest: {
        ...(config.apiUrl ? { api: config.apiUrl } : {}),
        // Message and webhook routes throw on a spent bucket instead of queueing stale edits: the
        // reply engine waits and then sends the newest text.
        rejectOnRateLimit: ['/channels', '/webhooks'],
        retries: 2,
      },
      ...(options.shards ? { shards: options.shards, shardCount: options.shardCount ?? 1 } : {}),
    });
    const current = () => built === client && !stopped;
    built.rest.on(RESTEvents.RateLimited, (info) =>
      logger.debug(
        { route: info.route, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope },
        'discord rate limit',
      ),
    );
    built.on(Events.Error, (error) => logger.error({ err: error }, 'Discord client error'));
    /** Set once the gateway closed with a code discord.js does not reconnect after. */
    let closedFor: number | undefined;
    built.on(Events.ShardError, (error, shardId) => {
      // discord.js reports 4004/4010-4014 as an error too: the close itself is reported once, below.
      if (closedFor !== undefined)
        logger.debug({ err: error, shardId, code: closedFor }, 'Discord gateway closed');
      else logger.warn({ err: error, shardId }, 'Discord gateway connection error');
    });
    built.on(Events.ShardResume, (shardId, replayed) =>
      logger.info({ shardId, replayed }, 'Discord gateway session resumed'),
    );
    built.on(Events.Warn, (message) => logger.warn({ source: 'discord.js' }, message));
    built.on(Events.ShardDisconnect, (event, shardId) => {
      closedFor = event.code;
      // During start() the attempt handles the close itself; afterwards it is a lost connection.
      if (current() && connected) void connectionLost(built, event.code, shardId);
    });
    built.on(Events.Raw, (packet: { op?: number; t?: string | null; s?: number; d?: unknown }) => {
      if (packet.op !== 0 || !packet.t) return;
      if (!knownDispatches.has(packet.t))
        logger.debug({ type: packet.t }, 'unknown Discord gateway dispatch ignored');
      const problem =
        packet.t === GatewayDispatchEvents.MessageCreate ? malformedMessage(packet.d) : undefined;
      if (problem) {
        // Raw is emitted with the very object discord.js handles next: the guard below drops it.
        malformedPackets.add(packet);
        metrics?.platformErrors.inc({ platform: 'discord', error: 'malformed_event' });
        logger.warn(
          { type: packet.t, sequence: packet.s, problem },
          'malformed Discord gateway event dropped',
        );
      }
    });
    guardPacketHandling(built);
    built.on(Events.MessageCreate, (message) => {
      if (!current()) return;
      onMessage(message).catch((error: unknown) => {
        if (error instanceof ChannelForbiddenError)
          reportForbidden(
            error.channelId,
            ['Send Messages', 'Create Public Threads'],
            message.guildId ?? undefined,
          );
        else failed(error, message.channelId);
      });
    });
    built.on(Events.InteractionCreate, (interaction) => {
      if (!current()) return;
      onInteraction(interaction).catch((error: unknown) => failed(error, interaction.channelId ?? ''));
    });
    return built;
  }

  /**
   * discord.js parses a dispatch inside its gateway listener: a malformed event (a MESSAGE_CREATE
   * without `author`, say) throws there and surfaces as an unhandled rejection. Such a packet is
   * dropped with a warn line instead, and the connection goes on. (This wraps discord.js's internal
   * WebSocketManager#handlePacket; without it the guard is simply absent.)
   */
  function guardPacketHandling(built: Client): void {
    const manager = built.ws as unknown as {
      handlePacket?: (packet?: { t?: string; s?: number }, shard?: unknown) => boolean;
    };
    const original = manager.handlePacket;
    if (typeof original !== 'function') return;
    manager.handlePacket = function guardedHandlePacket(packet, shard) {
      try {
        // Called without a packet, discord.js only works off its queue of early events.
        if (packet && malformedPackets.has(packet)) return original.call(this, undefined, shard);
        return original.call(this, packet, shard);
      } catch (error) {
        metrics?.platformErrors.inc({ platform: 'discord', error: 'malformed_event' });
        logger.warn(
          { err: error, type: packet?.t, sequence: packet?.s },
          'malformed Discord gateway event dropped',
        );
        return true;
      }
    };
  }

  /** One connection attempt with `intents`: resolves with the ready client, rejects with a PlatformError. */
  async function connect(intents: readonly GatewayIntentBits[]): Promise<Client<true>> {
    const wanted = intents.includes(GatewayIntentBits.MessageContent);
    const reusable =
      !used.has(client) && client.options.intents.has(GatewayIntentBits.MessageContent) === wanted;
    const attempt = reusable ? client : buildClient(intents);
    used.add(attempt);
    client = attempt;
    let closeCode: number | undefined;
    const ready = new Promise<Client<true>>((resolve, reject) => {
      attempt.once(Events.ClientReady, resolve);
      attempt.on(Events.ShardDisconnect, (event) => {
        closeCode = event.code;
        reject(toStartError(new Error(`the gateway closed with ${event.code}`), event.code));
      });
    });
    ready.catch(() => undefined);
    try {
      await attempt.login(config.token);
      const readyClient = await ready;
      logger.info(
        {
          user: readyClient.user.tag,
          guilds: readyClient.guilds.cache.size,
          shards: readyClient.ws.shards.map((shard) => shard.id),
          messageContent: wanted,
        },
        'discord connected',
      );
      return readyClient;
    } catch (error) {
      throw toStartError(error, closeCode);
    }
  }

  const destroyed = new WeakSet<Client>();
  async function destroyClient(target: Client): Promise<void> {
    if (destroyed.has(target)) return;
    destroyed.add(target);
    used.add(target);
    await target
      .destroy()
      .catch((error: unknown) => logger.debug({ err: error }, 'discord client could not be destroyed'));
  }

  /** Logs the fix once and reports `degraded`: the bot goes on without the intent. */
  function runWithoutMessageContent(): void {
    if (!warnedAboutIntent) {
      warnedAboutIntent = true;
      logger.warn({ platform: 'discord', code: 'disallowed_intents' }, degradedReason);
    } else logger.debug({ platform: 'discord' }, 'connecting again without the Message Content intent');
    health?.report('degraded', { code: 'disallowed_intents', reason: degradedReason });
  }

  async function startOnce(): Promise<void> {
    stopped = false;
    try {
      let ready: Client<true>;
      try {
        // Set before connecting: messages may be handled as soon as the client is ready.
        messageContent = true;
        ready = await connect(discordIntents);
      } catch (error) {
        if (!(error instanceof PlatformError && error.code === 'disallowed_intents')) throw error;
        await destroyClient(client);
        if (stopped) return;
        runWithoutMessageContent();
        messageContent = false;
        ready = await connect(intentsWithoutMessageContent);
      }
      if (stopped) return;
      connected = true;
      if (messageContent) health?.report('up');
      else health?.report('degraded', { code: 'disallowed_intents', reason: degradedReason });
      await registerCommands(ready);
    } catch (error) {
      const wrapped = toStartError(error);
      connected = false;
      await destroyClient(client);
      if (!wrapped.retryable) health?.report('down', { code: wrapped.code, reason: wrapped.message });
      throw wrapped;
    }
  }

  /**
   * A running connection closed for good (discord.js does not reconnect after 4004, 4010-4014):
   * after 4014 the bot connects again at once without the Message Content intent; otherwise it
   * reports `down` with the fix.
   */
  async function connectionLost(lost: Client, code: number, shardId: number): Promise<void> {
    connected = false;
    const error = toStartError(new Error(`the gateway closed with ${code}`), code);
    await destroyClient(lost);
    if (stopped || lost !== client) return;
    if (error.code === 'disallowed_intents' && messageContent) {
      runWithoutMessageContent();
      try {
        messageContent = false;
        await connect(intentsWithoutMessageContent);
        if (stopped) return;
        connected = true;
        health?.report('degraded', { code: 'disallowed_intents', reason: degradedReason });
        return;
      } catch (reconnectError) {
        const wrapped = toStartError(reconnectError);
        await destroyClient(client);
        health?.report('down', { code: wrapped.code, reason: wrapped.message });
        logger.warn(
          { platform: 'discord', code: wrapped.code, err: wrapped },
          `discord is off: ${wrapped.message} (the rest of the bot keeps running)`,
        );
        return;
      }
    }
    health?.report('down', { code: error.code, reason: error.message });
    logger.warn(
      { platform: 'discord', code: error.code, shardId },
      `discord is off: ${error.message} (the rest of the bot keeps running)`,
    );
  }

  /** Registers `/ask` once per bot (on the first shard), not per shard. */
  async function registerCommands(ready: Client<true>): Promise<void> {
    if (!config.registerCommands || (ready.shard && !ready.shard.ids.includes(0))) return;
    try {
      await ready.application.commands.set([askCommand]);
      logger.debug('slash command /ask registered');
    } catch (error) {
      logger.warn({ err: error }, 'the /ask command could not be registered');
    }
  }

  /**
   * True the first time a key is seen, in every process sharing the store: one atomic claim (Redis
   * SET NX PX), so concurrent deliveries never both pass. With Redis down the claim is local to
   * this process.
   */
  function firstTime(key: string): Promise<boolean> {
    return claimKey(store, key, seenTtlMs);
  }

  function isStaff(userId: string, roles: { has(id: string): boolean } | undefined): boolean {
    if (config.staffUserIds.includes(userId)) return true;
    return Boolean(config.staffRoleId && roles?.has(config.staffRoleId));
  }

  async function onMessage(message: Message): Promise<void> {
    const self = client.user?.id;
    if (!self || message.author.bot || message.author.id === self || message.system) return;
    if (message.type !== MessageType.Default && message.type !== MessageType.Reply) return;
    const channel = message.channel;
    const isDm = !message.inGuild();
    const inThread = channel.isThread();
    const mentioned = message.mentions.users.has(self);
    const repliedToUs = message.mentions.repliedUser?.id === self;
    const ours = inThread ? Boolean(await store.get(participationKey(channel.id))) : false;
    const supportChannel = !inThread && config.supportChannels.includes(channel.id);
    // A forum post's starter message has the thread's id.
    const forumPost =
      inThread &&
      message.id === channel.id &&
      Boolean(channel.parentId && config.supportChannels.includes(channel.parentId));
    if (!isDm && !mentioned && !repliedToUs && !ours && !supportChannel && !forumPost) return;
    if (!messageContent && !isDm && !mentioned) {
      // Without the intent Discord sends such messages with empty content: nothing to answer.
      logger.debug(
        { channel: channel.id, message: message.id, thread: inThread },
        'message skipped: without the Message Content intent Discord sends it empty',
      );
      return;
    }
    // A resumed gateway session replays what was missed; nothing is answered twice.
    if (!(await firstTime(`discord:message:${message.id}`))) return;

    const text = message.content.replace(new RegExp(`<@!?${self}>`, 'g'), '').trim();
    const staff = isStaff(message.author.id, message.member?.roles.cache);
    const until = forbiddenUntil.get(channel.id);
    if (until && until > clock.now()) {
      logger.debug({ channel: channel.id }, 'message ignored: the bot may not post in this channel');
      return;
    }
    if (message.inGuild() && !inThread && 'permissionsFor' in channel) {
      const missing = missingPermissions(channel.permissionsFor(self));
      if (missing.length > 0) return reportForbidden(channel.id, missing, message.guildId);
    }

    if (staff && (inThread || repliedToUs)) {
      const conversation = await locate(message, { create: false });
      if (conversation && (inThread ? ours : true)) return staffMessage(message, conversation, text);
    }
    if (!text && (message.attachments.size > 0 || message.stickers.size > 0)) {
      const conversation = await locate(message, { create: true });
      await postPaced(conversation.target, {
        content:
          'Thanks! I can only read text, so could you type your question? A person can also help: just say "human".',
      });
      await rememberConversation(conversation);
      return;
    }
    const conversation = await locate(message, { create: true });
    const ref = { platform: 'discord', threadId: conversation.threadKey };
    if ((await agent.threadOwner(ref)) === 'staff') {
      // Staff own it: the message goes into the history, the bot stays quiet.
      for await (const _ of agent.handle(incoming(message, conversation, text))) {
      }
      return;
    }
    await rememberConversation(conversation);
    await answer(conversation, incoming(message, conversation, text), message.author.id);
  }

  /**
   * Where a message's conversation lives: a DM, the thread it was written in, a new thread started
   * from it (mention or support channel, where threads are allowed), or inline in the channel.
   */
  async function locate(message: Message, options: { create: false }): Promise<Conversation | undefined>;
  async function locate(message: Message, options: { create: true }): Promise<Conversation>;
  async function locate(
    message: Message,
    { create }: { create: boolean },
  ): Promise<Conversation | undefined> {
    const channel = message.channel;
    const guildId = message.guildId ?? undefined;
    if (!message.inGuild())
      return { target: { kind: 'channel', channelId: channel.id }, threadKey: `dm:${channel.id}`, guildId };
    if (channel.isThread())
      return { target: { kind: 'channel', channelId: channel.id }, threadKey: channel.id, guildId };
    // Replies to one of our inline answers continue its conversation.
    const referenced = message.reference?.messageId;
    const inline = referenced ? await store.get<string>(inlineKey(referenced)) : undefined;
    if (inline)
      return {
        target: { kind: 'channel', channelId: channel.id, replyTo: message.id },
        threadKey: inline,
        guildId,
      };
    if (!create) return undefined;
    const threadable =
      config.threads &&
      (channel.type === ChannelType.GuildText || channel.type === ChannelType.GuildAnnouncement) &&
      missingPermissions(
        'permissionsFor' in channel ? channel.permissionsFor(message.client.user.id) : null,
        [PermissionFlagsBits.CreatePublicThreads, PermissionFlagsBits.SendMessagesInThreads],
      ).length === 0;
    if (threadable) {
      try {
        const threadId = await startThread(message);
        return { target: { kind: 'channel', channelId: threadId }, threadKey: threadId, guildId };
      } catch (error) {
        const code = discordErrorCode(error);
        // Not allowed to post here at all: replying inline would fail the same way.
        if (code === 50013 || code === 50001) throw new ChannelForbiddenError(channel.id, error);
        logger.warn(
          { err: error, channel: channel.id, code },
          'thread could not be started; replying inline',
        );
      }
    }
    return {
      target: { kind: 'channel', channelId: channel.id, replyTo: message.id },
      threadKey: `${channel.id}:${message.id}`,
      guildId,
    };
  }

  /** Starts a thread from the message, spending the parent channel's budget. */
  async function startThread(message: Message): Promise<string> {
    const name = threadName(message.content.replace(/<@!?\d+>/g, ''));
    let threadId = '';
    await engine.scheduler.schedulePaced(
      {
        priority: priority.first,
        scopes: transport.scopes({ kind: 'channel', channelId: message.channelId }, 'post'),
        owner: message,
        run: async () => {
          const thread = await message.startThread({
            name,
            autoArchiveDuration: ThreadAutoArchiveDuration.OneDay,
          });
          threadId = thread.id;
        },
      },
      {
        toError: (error) =>
          toTransportError(error, {
            scopeKey: transport.scopeKey({ kind: 'channel', channelId: message.channelId }, 'post'),
          }),
      },
    );
    return threadId;
  }

  async function rememberConversation(conversation: Conversation): Promise<void> {
    if (conversation.target.kind === 'channel' && !conversation.target.replyTo)
      await store.set(participationKey(conversation.target.channelId), true, participationTtlMs);
  }

  async function staffMessage(message: Message, conversation: Conversation, text: string): Promise<void> {
    const ref = { platform: 'discord', threadId: conversation.threadKey };
    if (/^resume\b/i.test(text)) {
      await agent.resume(ref);
      await postPaced(conversation.target, {
        content: "Thanks! I'll take it from here and answer new questions in this thread.",
      });
      return;
    }
    // A staff message takes the conversation over; an answer still streaming there stops.
    const running = active.get(conversation.threadKey);
    if (running) {
      active.delete(conversation.threadKey);
      await running.reply.cancel('_(A person from our team has joined this conversation.)_');
    }
    for await (const _ of agent.handle({ ...incoming(message, conversation, text), userIsStaff: true })) {
    }
    logger.info(
      { thread: conversation.threadKey, staff: message.author.id },
      'staff took the conversation over',
    );
  }

  async function answer(conversation: Conversation, input: IncomingMessage, userId: string): Promise<void> {
    const reply = engine.open(conversation.target);
    active.set(conversation.threadKey, { reply, messageId: input.messageId });
    let end: AnswerEnd | undefined;
    try {
      for await (const event of agent.handle(input)) {
        if (event.type === 'answer-delta') reply.append(event.text);
        else if (event.type === 'answer-end') end = event;
      }
      const outcome = await reply.finish(end?.text ?? '');
      if (!end || outcome.interrupted === 'cancelled') return;
      const first = outcome.messageIds[0];
      if (conversation.target.kind === 'channel' && conversation.target.replyTo && first)
        await store.set(inlineKey(first), conversation.threadKey, participationTtlMs);
      if (end.sources.length > 0) await postSources(conversation.target, end);
      if (end.handoff) await announceHandoff(conversation, first, userId, end);
      if (end.notice) await postStaffNote(conversation, first, end.notice);
    } catch (error) {
      if (error instanceof ReplyDeliveryError) {
        const code = discordErrorCode(error);
        if (code === 50013 || code === 50001)
          return reportForbidden(conversation.target.channelId, ['Send Messages'], conversation.guildId);
      }
      throw error;
    } finally {
      if (active.get(conversation.threadKey)?.reply === reply) active.delete(conversation.threadKey);
    }
  }

  async function postSources(target: DiscordTarget, end: AnswerEnd): Promise<void> {
    const lines = end.sources.map((source, index) =>
      source.url ? `${index + 1}. [${source.title}](${source.url})` : `${index + 1}. ${source.title}`,
    );
    const embed: APIEmbed = { title: 'Sources', description: lines.join('\n'), color: 0x5865f2 };
    const plain =
      target.kind === 'channel' ? { kind: 'channel' as const, channelId: target.channelId } : target;
    await postPaced(plain, {
      embeds: [embed],
      components: [
        {
          type: ComponentType.ActionRow,
          components: [
            {
              type: ComponentType.Button,
              style: ButtonStyle.Secondary,
              custom_id: `feedback:helpful:${end.turnId}`,
              label: 'Helpful',
              emoji: { name: '👍' },
            },
            {
              type: ComponentType.Button,
              style: ButtonStyle.Secondary,
              custom_id: `feedback:unhelpful:${end.turnId}`,
              label: 'Not helpful',
              emoji: { name: '👎' },
            },
          ],
        },
      ],
    }).catch((error: unknown) =>
      logger.warn({ err: error, channel: target.channelId }, 'sources could not be posted'),
    );
  }

  async function announceHandoff(
    conversation: Conversation,
    messageId: string | undefined,
    userId: string,
    end: AnswerEnd,
  ): Promise<void> {
    if (!config.staffChannel || !end.handoff) return;
    const where = conversation.target;
    const id = messageId === '@original' || !messageId ? undefined : messageId;
    const link = `https://discord.com/channels/${conversation.guildId ?? '@me'}/${where.channelId}${id ? `/${id}` : ''}`;
    const tag = config.staffRoleId ? `<@&${config.staffRoleId}> ` : '';
    try {
      await postPaced(
        { kind: 'channel', channelId: config.staffChannel },
        {
          content:
            `${tag}**Hand-off** (${end.handoff.reason.replace('_', ' ')}) from <@${userId}>: ${inert(end.handoff.summary)}\n${link}`.slice(
              0,
              2_000,
            ),
          allowed_mentions: { parse: [], roles: config.staffRoleId ? [config.staffRoleId] : [] },
        },
      );
    } catch (error) {
      logger.error({ err: error, channel: config.staffChannel }, 'hand-off could not be announced to staff');
    }
  }

  /** A note for staff that leaves the thread with the bot (a customer over a message limit). */
  async function postStaffNote(
    conversation: Conversation,
    messageId: string | undefined,
    note: string,
  ): Promise<void> {
    if (!config.staffChannel) return;
    const where = conversation.target;
    const id = messageId === '@original' || !messageId ? undefined : messageId;
    const link = `https://discord.com/channels/${conversation.guildId ?? '@me'}/${where.channelId}${id ? `/${id}` : ''}`;
    await postPaced(
      { kind: 'channel', channelId: config.staffChannel },
      { content: `${inert(note)}\n${link}`.slice(0, 2_000), allowed_mentions: { parse: [] } },
    ).catch((error: unknown) =>
      logger.warn({ err: error, channel: config.staffChannel }, 'staff note could not be posted'),
    );
  }

  /** A post outside a streamed answer that still spends the channel's budget (and waits out 429s). */
  async function postPaced(target: DiscordTarget, body: Record<string, unknown>): Promise<void> {
    const { content, ...extra } = body;
    await engine.scheduler.schedulePaced({
      priority: priority.continuation,
      scopes: transport.scopes(target, 'post'),
      owner: target,
      run: async () => {
        await transport.postMessage(target, String(content ?? ''), extra);
      },
    });
  }

  async function onInteraction(interaction: Interaction): Promise<void> {
    if (!(await firstTime(`discord:interaction:${interaction.id}`))) return;
    if (interaction.isButton()) {
      const match = /^feedback:(helpful|unhelpful):(.+)$/.exec(interaction.customId);
      if (!match) return unknownInteraction(interaction);
      const helpful = match[1] === 'helpful';
      await feedback.record({
        platform: 'discord',
        turnId: match[2] as string,
        userId: interaction.user.id,
        helpful,
        at: Date.now(),
      });
      metrics?.feedback.inc({ platform: 'discord', verdict: helpful ? 'helpful' : 'not_helpful' });
      await interaction.reply({
        content: helpful
          ? 'Thanks for the feedback!'
          : 'Thanks for telling us. A person can help: just reply "human".',
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    if (interaction.isChatInputCommand() && interaction.commandName === askCommand.name)
      return ask(interaction);
    if (interaction.isAutocomplete()) {
      await interaction.respond([]);
      return;
    }
    return unknownInteraction(interaction);
  }

  async function unknownInteraction(interaction: Interaction): Promise<void> {
    logger.info(
      {
        type: interaction.type,
        id: interaction.id,
        command: interaction.isCommand() ? interaction.commandName : undefined,
      },
      'unknown interaction answered politely',
    );
    if (interaction.isRepliable())
      await interaction.reply({
        content: "Sorry, I don't know that one. Ask me anything with `/ask`, or mention me.",
        flags: MessageFlags.Ephemeral,
      });
  }

  async function ask(interaction: ChatInputCommandInteraction): Promise<void> {
    const question = interaction.options.getString('question') ?? '';
    // Discord shows "thinking…" until the first part replaces it (15 minutes to do so).
    await interaction.deferReply();
    const conversation: Conversation = {
      target: {
        kind: 'interaction',
        channelId: interaction.channelId,
        applicationId: interaction.applicationId,
        token: interaction.token,
        state: { originalUsed: false },
      },
      threadKey: `ask:${interaction.id}`,
      guildId: interaction.guildId ?? undefined,
    };
    await answer(
      conversation,
      {
        platform: 'discord',
        channelId: interaction.channelId,
        threadId: conversation.threadKey,
        messageId: interaction.id,
        userId: interaction.user.id,
        text: question.trim(),
      },
      interaction.user.id,
    );
  }

  function reportForbidden(channelId: string, missing: string[], guildId?: string): void {
    forbiddenUntil.set(channelId, clock.now() + forbiddenCooldownMs);
    metrics?.platformErrors.inc({ platform: 'discord', error: 'missing_permissions' });
    logger.warn(
      { channel: channelId, guild: guildId, missing },
      `missing permissions in Discord channel ${channelId}: grant the bot ${missing.join(', ')} there (messages in it are ignored for 5 minutes)`,
    );
  }

  function failed(error: unknown, channelId: string): void {
    const code = discordErrorCode(error);
    metrics?.platformErrors.inc({ platform: 'discord', error: code ? String(code) : 'internal' });
    logger.error(
      {
        err: toSupportBotError(error),
        channel: channelId,
        code,
        ...(code && code in permanentDiscordErrors ? { meaning: permanentDiscordErrors[code] } : {}),
      },
      'Discord message could not be answered',
    );
  }

  return {
    get client() {
      return client;
    },
    get messageContent() {
      return messageContent;
    },
    start() {
      if (connected && !stopped) return Promise.resolve();
      starting ??= startOnce().finally(() => {
        starting = undefined;
      });
      return starting;
    },
    async stop() {
      stopped = true;
      connected = false;
      const cancelled = Promise.allSettled(
        [...active.values()].map((entry) => entry.reply.cancel(options.restartNote ?? defaultRestartNote)),
      );
      const grace = new AbortController();
      await Promise.race([cancelled, clock.sleep(stopGraceMs, grace.signal).catch(() => undefined)]);
      grace.abort();
      // Destroying the client also ends an attempt still logging in.
      await destroyClient(client);
      await starting?.catch(() => undefined);
      await destroyClient(client);
    },
    activeReplies: () => active.size,
  };
}

/**
 * Why a MESSAGE_CREATE cannot be trusted, checked against the fields of the message object the
 * adapter reads (all required by the docs); undefined when it looks as documented.
 * @see https://discord.com/developers/docs/resources/message#message-object
 */
export function malformedMessage(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'd is not an object';
  const message = data as Record<string, unknown>;
  const snowflake = (value: unknown) => typeof value === 'string' && /^\d{1,20}$/.test(value);
  if (!snowflake(message.id)) return 'id is not a snowflake';
  if (!snowflake(message.channel_id)) return 'channel_id is not a snowflake';
  const author = message.author as Record<string, unknown> | null | undefined;
  if (typeof author !== 'object' || author === null || !snowflake(author.id))
    return 'author is not a user object';
  if (typeof message.content !== 'string') return 'content is not a string';
  if (!Number.isInteger(message.type)) return 'type is not an integer';
  for (const field of ['mentions', 'mention_roles', 'attachments', 'embeds'])
    if (!Array.isArray(message[field])) return `${field} is not an array`;
  if (message.components !== undefined && !Array.isArray(message.components))
    return 'components is not an array';
  return undefined;
}

/** Discord refused to let the bot post in a channel (50013 Missing Permissions, 50001 Missing Access). */
class ChannelForbiddenError extends Error {
  readonly channelId: string;
  constructor(channelId: string, cause: unknown) {
    super(`the bot may not post in channel ${channelId}`, { cause });
    this.channelId = channelId;
  }
}

/** Names of permissions the bot lacks (empty when unknown: the REST call will tell). */
function missingPermissions(
  permissions: Readonly<PermissionsBitField> | null,
  needed: bigint[] = [PermissionFlagsBits.ViewChannel, PermissionFlagsBits.SendMessages],
): string[] {
  if (!permissions) return [];
  const names: Record<string, string> = {
    [String(PermissionFlagsBits.ViewChannel)]: 'View Channel',
    [String(PermissionFlagsBits.SendMessages)]: 'Send Messages',
    [String(PermissionFlagsBits.CreatePublicThreads)]: 'Create Public Threads',
    [String(PermissionFlagsBits.SendMessagesInThreads)]: 'Send Messages in Threads',
  };
  return needed.filter((flag) => !permissions.has(flag)).map((flag) => names[String(flag)] ?? String(flag));
}

function incoming(message: Message, conversation: Conversation, text: string): IncomingMessage {
  return {
    platform: 'discord',
    channelId: message.channelId,
    threadId: conversation.threadKey,
    messageId: message.id,
    userId: message.author.id,
    text,
  };
}

/** A thread title from the question: 1–100 characters on one line. */
export function threadName(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (!line) return 'Support question';
  return line.length <= 90 ? line : `${line.slice(0, 89).replace(/\s+\S*$/, '')}…`;
}

function participationKey(channelId: string): string {
  return `discord:thread:${channelId}`;
}

function inlineKey(messageId: string): string {
  return `discord:inline:${messageId}`;
}

/**
 * Customer text re-posted by the bot, made inert: markdown and masked links (`[your order](https://…)`,
 * which would show a label over another address) escaped with discord.js's own escaper, and
 * mentions broken with a zero-width space so they neither ping (allowed_mentions already forbids
 * that) nor render as a mention of someone the customer picked.
 */
function inert(text: string): string {
  return escapeMarkdown(text, { maskedLink: true })
    .replace(/<(@[!&]?|#)(\d+)>/g, '<\u200b$1$2>')
    .replace(/@(everyone|here)\b/g, '@\u200b$1');
}
