import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A local stand-in for Discord: the gateway (HELLO, heartbeats, IDENTIFY, READY, GUILD_CREATE,
 * dispatches with increasing sequence numbers, RESUME after a dropped connection) and the REST
 * routes a support bot uses (messages, edits, threads, typing, interaction callbacks), with
 * per-channel rate-limit headers and 429s.
 */

/** A REST call as received. */
export interface DiscordCall {
  method: string;
  path: string;
  body: unknown;
  status: number;
  at: number;
}

/** A message as the fake keeps it. */
export interface DiscordMessage {
  id: string;
  channel_id: string;
  content: string;
  author: { id: string; username: string; bot?: boolean };
  edits: number;
  deleted?: boolean;
  /** For interaction messages: the interaction token. */
  interactionToken?: string;
  embeds?: unknown[];
  components?: unknown[];
  message_reference?: { message_id: string };
}

interface Session {
  id: string;
  shard: [number, number];
  socket: WebSocket | undefined;
  sequence: number;
  /** Dispatches sent, for RESUME replays. */
  sent: { s: number; payload: string }[];
}

/** Options of {@link startFakeDiscord}. */
export interface FakeDiscordOptions {
  botId?: string;
  applicationId?: string;
  guilds?: FakeGuild[];
  /** Messages per window per channel before 429s. @defaultValue 5 per 5 s */
  channelLimit?: { limit: number; windowMs: number };
  /** Channels where the bot may not post: REST answers 403 "Missing Permissions" (50013). */
  forbiddenChannels?: string[];
}

/** A guild the fake serves. Channel types: 0 text, 5 announcement, 15 forum. */
export interface FakeGuild {
  id: string;
  name?: string;
  roles?: { id: string; name: string }[];
  channels: { id: string; type?: number; name?: string }[];
}

/** An interaction callback or webhook (follow-up / @original) call, as the bot made it. */
export interface InteractionReply {
  token: string;
  /** `callback` (type 4/5/6/8…), `original` (edit of the deferred reply), `followup`, `edit`, `delete`. */
  kind: 'callback' | 'original' | 'followup' | 'edit' | 'delete';
  messageId?: string;
  body: Record<string, unknown> | undefined;
}

/** A running fake. */
export interface FakeDiscord {
  /** For `rest: { api }`: ends in `/api`. */
  api: string;
  calls: DiscordCall[];
  messages: DiscordMessage[];
  channels: Map<string, { id: string; type: number; guild_id?: string; name?: string; parent_id?: string }>;
  /** Sends MESSAGE_CREATE (guild messages to the shard that owns the guild). */
  sendMessage(message: {
    channel_id: string;
    guild_id?: string;
    content: string;
    author: { id: string; username: string; bot?: boolean };
    mentions?: { id: string; username: string }[];
    message_reference?: { message_id: string };
    /** Role ids of the author's guild member. */
    roles?: string[];
    attachments?: { id: string; filename: string; size?: number; url?: string }[];
    sticker_items?: { id: string; name: string; format_type: number }[];
    /** Message type: 0 default, 19 reply, 7 member join… */
    type?: number;
  }): DiscordMessage;
  /** Sends any dispatch (e.g. INTERACTION_CREATE) to the shard that owns the guild. */
  dispatch(type: string, data: Record<string, unknown>, guildId?: string): void;
  /** A customer opens a forum post: THREAD_CREATE, then the starter MESSAGE_CREATE in it. */
  createForumPost(input: {
    forumId: string;
    guild_id: string;
    title: string;
    content: string;
    author: { id: string; username: string; bot?: boolean };
  }): DiscordMessage;
  /** Sends INTERACTION_CREATE with a complete payload; returns its token. */
  sendInteraction(input: {
    type: number;
    data?: Record<string, unknown>;
    guild_id?: string;
    channel_id: string;
    user: { id: string; username: string };
    roles?: string[];
    message?: DiscordMessage;
  }): { id: string; token: string };
  /** Interaction callbacks and webhook calls, in order. */
  interactionReplies: InteractionReply[];
  /** The text an interaction shows now: the edited original and follow-ups, in order. */
  interactionMessages(token: string): DiscordMessage[];
  /** Application commands registered with PUT /applications/:id/commands. */
  commands: unknown[];
  /** Drops the gateway connections without closing the sessions, so clients RESUME. */
  dropConnections(): void;
  identifies(): number;
  resumes(): number;
  close(): Promise<void>;
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const botId = options.botId ?? '100000000000000001';
  const applicationId = options.applicationId ?? botId;
  const guilds = options.guilds ?? [{ id: '200000000000000001', channels: [{ id: '300000000000000001' }] }];
  const limit = options.channelLimit ?? { limit: 5, windowMs: 5_000 };
  const forbidden = new Set(options.forbiddenChannels ?? []);
  const interactionReplies: InteractionReply[] = [];
  const commands: unknown[] = [];
  const calls: DiscordCall[] = [];
  const messages: DiscordMessage[] = [];
  const channels = new Map<
    string,
    { id: string; type: number; guild_id?: string; name?: string; parent_id?: string }
  >();
  for (const guild of guilds) {
    for (const channel of guild.channels) {
      channels.set(channel.id, {
        id: channel.id,
        type: channel.type ?? 0,
        guild_id: guild.id,
        name: channel.name ?? `channel-${channel.id.slice(-4)}`,
      });
    }
  }
  const sessions: Session[] = [];
  const interactions = new Map<string, { channelId: string; guildId?: string; acknowledged: boolean }>();
  const windows = new Map<string, number[]>();
  const sockets = new Set<Socket>();
  let snowflake = 400_000_000_000_000_000n;
  const nextId = () => String(++snowflake);
  let identifyCount = 0;
  let resumeCount = 0;
  const bot = {
    id: botId,
    username: 'supportbot',
    discriminator: '0000',
    global_name: null,
    avatar: null,
    bot: true,
  };

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket) => {
    let session: Session | undefined;
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null }));
    socket.on('message', (data) => {
      const payload = JSON.parse(String(data)) as { op: number; d: Record<string, unknown> };
      if (payload.op === 1) socket.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
      if (payload.op === 2) {
        identifyCount++;
        const shard = (payload.d.shard as [number, number] | undefined) ?? [0, 1];
        session = { id: `session-${identifyCount}`, shard, socket, sequence: 0, sent: [] };
        sessions.push(session);
        const own = guilds.filter((guild) => shardOf(guild.id, shard[1]) === shard[0]);
        send(session, 'READY', {
          v: 10,
          user: bot,
          guilds: own.map((guild) => ({ id: guild.id, unavailable: true })),
          session_id: session.id,
          resume_gateway_url: `ws://127.0.0.1:${port}/gateway`,
          shard,
          application: { id: applicationId, flags: 0 },
        });
        for (const guild of own) send(session, 'GUILD_CREATE', guildPayload(guild));
      }
      if (payload.op === 6) {
        const found = sessions.find((candidate) => candidate.id === payload.d.session_id);
        if (!found) {
          socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
          return;
        }
        resumeCount++;
        found.socket = socket;
        session = found;
        // Everything the client missed since the sequence it last saw, then RESUMED.
        for (const item of found.sent) if (item.s > Number(payload.d.seq)) socket.send(item.payload);
        send(found, 'RESUMED', {});
      }
    });
    socket.on('close', () => {
      if (session?.socket === socket) session.socket = undefined;
    });
  });

  function guildPayload(guild: (typeof guilds)[number]) {
    return {
      id: guild.id,
      name: guild.name ?? `guild-${guild.id.slice(-4)}`,
      icon: null,
      owner_id: '900000000000000009',
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      features: [],
      mfa_level: 0,
      system_channel_flags: 0,
      premium_tier: 0,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      roles: [
        { id: guild.id, name: '@everyone', permissions: '1071698660928', position: 0 },
        ...(guild.roles ?? []).map((role, index) => ({ ...role, permissions: '0', position: index + 1 })),
      ].map((role) => ({ color: 0, hoist: false, managed: false, mentionable: true, flags: 0, ...role })),
      emojis: [],
      stickers: [],
      // Discord always includes the bot's own member, so permissions can be computed.
      members: [
        { user: bot, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 },
      ],
      channels: guild.channels.map((channel) => ({
        id: channel.id,
        type: channel.type ?? 0,
        name: channels.get(channel.id)?.name,
        position: 0,
        permission_overwrites: [],
        guild_id: guild.id,
      })),
      threads: [],
      voice_states: [],
      presences: [],
      unavailable: false,
      member_count: 2,
      large: false,
      joined_at: new Date().toISOString(),
    };
  }

  function send(session: Session, type: string, data: unknown): void {
    session.sequence++;
    const payload = JSON.stringify({ op: 0, t: type, s: session.sequence, d: data });
    session.sent.push({ s: session.sequence, payload });
    session.socket?.send(payload);
  }

  function sessionFor(guildId: string | undefined): Session | undefined {
    const live = sessions.filter((session) => session.socket || session.sent.length > 0);
    if (!guildId) return live.find((session) => session.shard[0] === 0) ?? live[0];
    return live.findLast((session) => shardOf(guildId, session.shard[1]) === session.shard[0]);
  }

  function limited(channelId: string): number | undefined {
    const now = Date.now();
    const window = (windows.get(channelId) ?? []).filter((time) => time > now - limit.windowMs);
    windows.set(channelId, window);
    if (window.length >= limit.limit) return ((window[0] as number) + limit.windowMs - now) / 1000;
    window.push(now);
    return undefined;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v\d+/, '');
    const raw = await readBody(request);
    const body =
      raw && (request.headers['content-type'] ?? '').includes('json') ? JSON.parse(raw) : raw || undefined;
    const call: DiscordCall = { method: request.method ?? 'GET', path, body, status: 200, at: Date.now() };
    calls.push(call);
    const reply = (status: number, data?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      response.writeHead(status, {
        ...(data === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
      response.end(data === undefined ? undefined : JSON.stringify(data));
    };
    if (path === '/gateway/bot') {
      return reply(200, {
        url: `ws://127.0.0.1:${port}/gateway`,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
      });
    }
    if (path === '/gateway') return reply(200, { url: `ws://127.0.0.1:${port}/gateway` });
    // Interaction callbacks and webhook calls are authorised by the token in the path, not a header.
    const tokenInPath = /^\/(?:interactions|webhooks)\//.test(path);
    if (!tokenInPath && !(request.headers.authorization ?? '').startsWith('Bot '))
      return reply(401, { message: '401: Unauthorized', code: 0 });

    const channelRoute = /^\/channels\/(\d+)(\/.*)?$/.exec(path);
    if (channelRoute) {
      const [, channelId, rest = ''] = channelRoute as unknown as [string, string, string];
      const channel = channels.get(channelId);
      if (!channel) return reply(404, { message: 'Unknown Channel', code: 10003 });
      if (rest === '/typing' && call.method === 'POST') return reply(204);
      if (forbidden.has(channelId) || (channel.parent_id && forbidden.has(channel.parent_id)))
        return reply(403, { message: 'Missing Permissions', code: 50013 });
      const retryAfter = rest.startsWith('/messages') ? limited(channelId) : undefined;
      const headers = rateHeaders(channelId);
      if (retryAfter !== undefined) {
        return reply(
          429,
          { message: 'You are being rate limited.', retry_after: retryAfter, global: false },
          {
            ...headers,
            'retry-after': String(Math.ceil(retryAfter)),
            'x-ratelimit-remaining': '0',
            'x-ratelimit-scope': 'user',
          },
        );
      }
      if (rest === '/messages' && call.method === 'POST') {
        const input = body as {
          content?: string;
          embeds?: unknown[];
          components?: unknown[];
          message_reference?: { message_id: string };
        };
        if (!input?.content && !input?.embeds?.length)
          return reply(400, { message: 'Cannot send an empty message', code: 50006 });
        if ((input.content ?? '').length > 2_000)
          return reply(400, { message: 'Invalid Form Body', code: 50035 });
        const message: DiscordMessage = {
          id: nextId(),
          channel_id: channelId,
          content: input.content ?? '',
          author: bot,
          edits: 0,
          ...(input.embeds ? { embeds: input.embeds } : {}),
          ...(input.components ? { components: input.components } : {}),
          ...(input.message_reference ? { message_reference: input.message_reference } : {}),
        };
        messages.push(message);
        return reply(200, messagePayload(message, channel.guild_id), headers);
      }
      const edit = /^\/messages\/(\d+)$/.exec(rest);
      if (edit && call.method === 'PATCH') {
        const message = messages.find((candidate) => candidate.id === edit[1]);
        if (!message) return reply(404, { message: 'Unknown Message', code: 10008 });
        const input = body as { content?: string; embeds?: unknown[]; components?: unknown[] };
        if ((input.content ?? '').length > 2_000)
          return reply(400, { message: 'Invalid Form Body', code: 50035 });
        if (message.deleted) return reply(404, { message: 'Unknown Message', code: 10008 });
        if (input.content !== undefined) message.content = input.content;
        if (input.embeds) message.embeds = input.embeds;
        if (input.components) message.components = input.components;
        message.edits++;
        return reply(200, messagePayload(message, channel.guild_id), headers);
      }
      if (edit && call.method === 'DELETE') {
        const message = messages.find((candidate) => candidate.id === edit[1]);
        if (!message || message.deleted) return reply(404, { message: 'Unknown Message', code: 10008 });
        message.deleted = true;
        return reply(204, undefined, headers);
      }
      const thread = /^\/messages\/(\d+)\/threads$/.exec(rest);
      if (thread && call.method === 'POST') {
        if (channel.type !== 0 && channel.type !== 5)
          return reply(400, { message: 'Cannot execute action on this channel type', code: 50024 });
        const name = String((body as { name?: string }).name ?? '');
        if (name.length < 1 || name.length > 100)
          return reply(400, { message: 'Invalid Form Body', code: 50035 });
        const created = threadPayload(
          // A thread started from a message takes that message's id, as on Discord.
          thread[1] as string,
          name,
          channelId,
          channel.guild_id as string,
          botId,
        );
        channels.set(created.id, {
          id: created.id,
          type: 11,
          guild_id: created.guild_id,
          name,
          parent_id: channelId,
        });
        const session = sessionFor(channel.guild_id);
        if (session) send(session, 'THREAD_CREATE', { ...created, newly_created: true });
        return reply(201, created, headers);
      }
    }
    const commandRoute = /^\/applications\/(\d+)\/commands$/.exec(path);
    if (commandRoute && call.method === 'PUT') {
      commands.splice(0, commands.length);
      for (const command of body as Record<string, unknown>[])
        commands.push({ ...command, id: nextId(), application_id: applicationId, version: '1', type: 1 });
      return reply(200, commands);
    }
    const callback = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path);
    if (callback && call.method === 'POST') {
      const token = callback[2] as string;
      const known = interactions.get(token);
      if (!known) return reply(404, { message: 'Unknown interaction', code: 10062 });
      if (known.acknowledged)
        return reply(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
      known.acknowledged = true;
      const input = body as {
        type: number;
        data?: { content?: string; embeds?: unknown[]; components?: unknown[] };
      };
      interactionReplies.push({ token, kind: 'callback', body: input as Record<string, unknown> });
      // Type 4 (a message now) and 5 (deferred: "thinking…") create the original response.
      if (input.type === 4 || input.type === 5) {
        messages.push({
          id: nextId(),
          channel_id: known.channelId,
          content: input.data?.content ?? '',
          author: bot,
          edits: 0,
          interactionToken: token,
          ...(input.data?.embeds ? { embeds: input.data.embeds } : {}),
          ...(input.data?.components ? { components: input.data.components } : {}),
        });
      }
      return reply(204);
    }
    const webhook = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(path);
    if (webhook) {
      const token = webhook[2] as string;
      const known = interactions.get(token);
      if (!known) return reply(404, { message: 'Unknown Webhook', code: 10015 });
      const input = (body ?? {}) as { content?: string; embeds?: unknown[]; components?: unknown[] };
      if ((input.content ?? '').length > 2_000)
        return reply(400, { message: 'Invalid Form Body', code: 50035 });
      const own = messages.filter((message) => message.interactionToken === token && !message.deleted);
      if (!webhook[3] && call.method === 'POST') {
        if (!known.acknowledged) return reply(404, { message: 'Unknown Webhook', code: 10015 });
        const message: DiscordMessage = {
          id: nextId(),
          channel_id: known.channelId,
          content: input.content ?? '',
          author: bot,
          edits: 0,
          interactionToken: token,
          ...(input.embeds ? { embeds: input.embeds } : {}),
          ...(input.components ? { components: input.components } : {}),
        };
        messages.push(message);
        interactionReplies.push({ token, kind: 'followup', messageId: message.id, body: input });
        return reply(200, messagePayload(message, known.guildId));
      }
      const target = webhook[3] === '@original' ? own[0] : own.find((message) => message.id === webhook[3]);
      if (!target) return reply(404, { message: 'Unknown Message', code: 10008 });
      if (call.method === 'DELETE') {
        target.deleted = true;
        interactionReplies.push({ token, kind: 'delete', messageId: target.id, body: undefined });
        return reply(204);
      }
      if (call.method === 'PATCH') {
        if (input.content !== undefined) target.content = input.content;
        if (input.embeds) target.embeds = input.embeds;
        if (input.components) target.components = input.components;
        target.edits++;
        interactionReplies.push({
          token,
          kind: webhook[3] === '@original' ? 'original' : 'edit',
          messageId: target.id,
          body: input,
        });
        return reply(200, messagePayload(target, known.guildId));
      }
      return reply(200, messagePayload(target, known.guildId));
    }
    return reply(404, { message: `Unknown route ${call.method} ${path}`, code: 0 });
  }

  function rateHeaders(channelId: string): Record<string, string> {
    const used = windows.get(channelId)?.length ?? 0;
    return {
      'x-ratelimit-limit': String(limit.limit),
      'x-ratelimit-remaining': String(Math.max(0, limit.limit - used)),
      'x-ratelimit-reset-after': String(limit.windowMs / 1000),
      'x-ratelimit-reset': String((Date.now() + limit.windowMs) / 1000),
      'x-ratelimit-bucket': `channel-${channelId}`,
    };
  }

  function threadPayload(id: string, name: string, parentId: string, guildId: string, ownerId: string) {
    return {
      id,
      type: 11,
      guild_id: guildId,
      name,
      parent_id: parentId,
      owner_id: ownerId,
      thread_metadata: {
        archived: false,
        auto_archive_duration: 1440,
        archive_timestamp: new Date().toISOString(),
        locked: false,
      },
      message_count: 0,
      member_count: 1,
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  function messagePayload(message: DiscordMessage, guildId?: string) {
    return {
      id: message.id,
      channel_id: message.channel_id,
      ...(guildId ? { guild_id: guildId } : {}),
      author: message.author,
      content: message.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: message.edits ? new Date().toISOString() : null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: message.embeds ?? [],
      components: message.components ?? [],
      pinned: false,
      type: message.message_reference ? 19 : 0,
      ...(message.message_reference ? { message_reference: message.message_reference } : {}),
    };
  }

  function deliver(input: Parameters<FakeDiscord['sendMessage']>[0], id = nextId()): DiscordMessage {
    // A DM channel the fake has not seen yet comes into being with the first message.
    if (!input.guild_id && !channels.has(input.channel_id))
      channels.set(input.channel_id, { id: input.channel_id, type: 1 });
    const message: DiscordMessage = {
      id,
      channel_id: input.channel_id,
      content: input.content,
      author: input.author,
      edits: 0,
      ...(input.message_reference ? { message_reference: input.message_reference } : {}),
    };
    messages.push(message);
    const referenced = input.message_reference
      ? messages.find((candidate) => candidate.id === input.message_reference?.message_id)
      : undefined;
    const session = sessionFor(input.guild_id);
    if (session) {
      send(session, 'MESSAGE_CREATE', {
        ...messagePayload(message, input.guild_id),
        type: input.type ?? (input.message_reference ? 19 : 0),
        // Discord sends the channel's type with each message (discord.js needs it for DMs).
        channel_type: channels.get(input.channel_id)?.type ?? 0,
        mentions: input.mentions ?? [],
        attachments: (input.attachments ?? []).map((attachment) => ({
          size: 1024,
          url: `https://cdn.invalid/${attachment.filename}`,
          proxy_url: `https://cdn.invalid/${attachment.filename}`,
          ...attachment,
        })),
        sticker_items: input.sticker_items ?? [],
        ...(referenced ? { referenced_message: messagePayload(referenced, input.guild_id) } : {}),
        ...(input.guild_id
          ? {
              member: {
                roles: input.roles ?? [],
                joined_at: new Date().toISOString(),
                deaf: false,
                mute: false,
                flags: 0,
              },
            }
          : {}),
      });
    }
    return message;
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request, socket, head) => {
    if (!request.url?.startsWith('/gateway')) return socket.destroy();
    wss.handleUpgrade(request, socket, head, (client) => wss.emit('connection', client, request));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    api: `http://127.0.0.1:${port}/api`,
    calls,
    messages,
    channels,
    sendMessage(input) {
      return deliver(input);
    },
    dispatch(type, data, guildId) {
      const session = sessionFor(guildId);
      if (session) send(session, type, data);
    },
    createForumPost(input) {
      const forum = channels.get(input.forumId);
      if (forum?.type !== 15) throw new Error(`${input.forumId} is not a forum channel`);
      // A forum post is a thread whose id is its starter message's id.
      const id = nextId();
      const created = threadPayload(id, input.title, input.forumId, input.guild_id, input.author.id);
      channels.set(id, {
        id,
        type: 11,
        guild_id: input.guild_id,
        name: input.title,
        parent_id: input.forumId,
      });
      const session = sessionFor(input.guild_id);
      if (session) send(session, 'THREAD_CREATE', { ...created, newly_created: true });
      return deliver({ ...input, channel_id: id }, id);
    },
    sendInteraction(input) {
      const id = nextId();
      const token = `interaction-token-${id}`;
      interactions.set(token, {
        channelId: input.channel_id,
        ...(input.guild_id ? { guildId: input.guild_id } : {}),
        acknowledged: false,
      });
      const channel = channels.get(input.channel_id);
      const user = { ...input.user, discriminator: '0', global_name: null, avatar: null };
      send(sessionFor(input.guild_id) as Session, 'INTERACTION_CREATE', {
        id,
        application_id: applicationId,
        type: input.type,
        ...(input.data ? { data: input.data } : {}),
        ...(input.guild_id ? { guild_id: input.guild_id } : {}),
        channel_id: input.channel_id,
        channel: {
          id: input.channel_id,
          type: channel?.type ?? 0,
          ...(channel?.guild_id ? { guild_id: channel.guild_id } : {}),
        },
        ...(input.guild_id
          ? {
              member: {
                user,
                roles: input.roles ?? [],
                permissions: '1071698660928',
                joined_at: new Date().toISOString(),
                deaf: false,
                mute: false,
                flags: 0,
              },
            }
          : { user }),
        ...(input.message ? { message: messagePayload(input.message, input.guild_id) } : {}),
        token,
        version: 1,
        app_permissions: '1071698660928',
        locale: 'en-US',
        guild_locale: 'en-US',
        entitlements: [],
        authorizing_integration_owners: {},
        context: input.guild_id ? 0 : 1,
      });
      return { id, token };
    },
    interactionReplies,
    interactionMessages: (token) =>
      messages.filter((message) => message.interactionToken === token && !message.deleted),
    commands,
    dropConnections() {
      for (const session of sessions) session.socket?.terminate();
    },
    identifies: () => identifyCount,
    resumes: () => resumeCount,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Discord's shard formula: (guild_id >> 22) % shard_count. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}
