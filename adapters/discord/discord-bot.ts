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
import type { Config } from '../../src/config/schema.ts';
import { toSupportBotError } from '../../src/errors.ts';
import type { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import { type LoggerLike, silentLogger } from '../../src/observability/logger-like.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { priority } from '../../src/reply/budget-scheduler.ts';
import { type Clock, systemClock } from '../../src/reply/clock.ts';
import { type ProgressiveReply, ReplyEngine } from '../../src/reply/progressive-reply.ts';
import { ReplyDeliveryError } from '../../src/reply/transport.ts';
import {
  DiscordReplyTransport,
  type DiscordTarget,
  discordErrorCode,
  permanentDiscordErrors,
  toTransportError,
} from './discord-transport.ts';

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
}

/** A running Discord connection. */
export interface DiscordBot {
  client: Client;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Replies still streaming. */
  activeReplies(): number;
}

/** The gateway intents the bot needs. MessageContent is privileged: enable it in the Developer Portal. */
export const discordIntents = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages,
];

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
  if (!config.token) throw new Error('Discord is not configured: set DISCORD_TOKEN');

  const client = new Client({
    intents: discordIntents,
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
  const transport = new DiscordReplyTransport({ rest: client.rest });
  const engine = new ReplyEngine<DiscordTarget>({ transport, clock, logger });
  const active = new Map<string, { reply: ProgressiveReply<DiscordTarget>; messageId: string }>();
  const forbiddenUntil = new Map<string, number>();

  client.rest.on(RESTEvents.RateLimited, (info) =>
    logger.debug(
      { route: info.route, retryAfterMs: info.retryAfter, global: info.global },
      'discord rate limit',
    ),
  );
  client.on(Events.Error, (error) => logger.error({ err: error }, 'Discord client error'));
  client.on(Events.ShardError, (error, shardId) =>
    logger.warn({ err: error, shardId }, 'Discord gateway connection error; reconnecting'),
  );
  client.on(Events.ShardResume, (shardId, replayed) =>
    logger.info({ shardId, replayed }, 'Discord gateway session resumed'),
  );
  client.on(Events.Warn, (message) => logger.warn({ source: 'discord.js' }, message));

  client.on(Events.MessageCreate, (message) => {
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
  client.on(Events.InteractionCreate, (interaction) => {
    onInteraction(interaction).catch((error: unknown) => failed(error, interaction.channelId ?? ''));
  });
  client.once(Events.ClientReady, (ready) => {
    logger.info(
      {
        user: ready.user.tag,
        guilds: ready.guilds.cache.size,
        shards: ready.ws.shards.map((shard) => shard.id),
      },
      'discord connected',
    );
  });

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

  /** True the first time a key is seen (in every process sharing the store). */
  async function firstTime(key: string): Promise<boolean> {
    if (await store.get(key)) return false;
    await store.set(key, true, seenTtlMs);
    return true;
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
      { toError: toTransportError },
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
            `${tag}**Hand-off** (${end.handoff.reason.replace('_', ' ')}) from <@${userId}>: ${end.handoff.summary}\n${link}`.slice(
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
    client,
    async start() {
      const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
      await client.login(config.token);
      await registerCommands(await ready);
    },
    async stop() {
      await Promise.allSettled(
        [...active.values()].map((entry) =>
          entry.reply.cancel('_(The bot is restarting; please ask again.)_'),
        ),
      );
      await client.destroy();
    },
    activeReplies: () => active.size,
  };
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
