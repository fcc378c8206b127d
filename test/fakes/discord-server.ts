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
  guilds?: { id: string; name?: string; channels: { id: string; type?: number; name?: string }[] }[];
  /** Messages per window per channel before 429s. @defaultValue 5 per 5 s */
  channelLimit?: { limit: number; windowMs: number };
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
  }): DiscordMessage;
  /** Sends any dispatch (e.g. INTERACTION_CREATE) to the shard that owns the guild. */
  dispatch(type: string, data: Record<string, unknown>, guildId?: string): void;
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
        {
          id: guild.id,
          name: '@everyone',
          permissions: '1071698660928',
          position: 0,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      emojis: [],
      stickers: [],
      members: [],
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
    const path = url.pathname.replace(/^\/api\/v\d+/, '');
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
    if (!(request.headers.authorization ?? '').startsWith('Bot '))
      return reply(401, { message: '401: Unauthorized', code: 0 });

    const channelRoute = /^\/channels\/(\d+)(\/.*)?$/.exec(path);
    if (channelRoute) {
      const [, channelId, rest = ''] = channelRoute as unknown as [string, string, string];
      const channel = channels.get(channelId);
      if (!channel) return reply(404, { message: 'Unknown Channel', code: 10003 });
      if (rest === '/typing' && call.method === 'POST') return reply(204);
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
        if (input.content !== undefined) message.content = input.content;
        if (input.embeds) message.embeds = input.embeds;
        if (input.components) message.components = input.components;
        message.edits++;
        return reply(200, messagePayload(message, channel.guild_id), headers);
      }
      const thread = /^\/messages\/(\d+)\/threads$/.exec(rest);
      if (thread && call.method === 'POST') {
        const id = nextId();
        const created = {
          id,
          type: 11,
          guild_id: channel.guild_id as string,
          name: String((body as { name?: string }).name ?? 'thread'),
          parent_id: channelId,
        };
        channels.set(id, created);
        return reply(201, {
          ...created,
          owner_id: botId,
          thread_metadata: { archived: false, auto_archive_duration: 1440, locked: false },
          message_count: 0,
          member_count: 1,
        });
      }
    }
    const callback = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path);
    if (callback && call.method === 'POST') return reply(204);
    const original = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(@original|\d+)$/.exec(path);
    if (original)
      return reply(200, {
        id: nextId(),
        channel_id: '0',
        content: (body as { content?: string })?.content ?? '',
        author: bot,
        type: 0,
        timestamp: new Date().toISOString(),
        embeds: [],
        attachments: [],
        mentions: [],
        mention_roles: [],
        pinned: false,
        mention_everyone: false,
        tts: false,
      });
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
      const message: DiscordMessage = {
        id: nextId(),
        channel_id: input.channel_id,
        content: input.content,
        author: input.author,
        edits: 0,
        ...(input.message_reference ? { message_reference: input.message_reference } : {}),
      };
      messages.push(message);
      const session = sessionFor(input.guild_id);
      if (session) {
        send(session, 'MESSAGE_CREATE', {
          ...messagePayload(message, input.guild_id),
          mentions: input.mentions ?? [],
          ...(input.guild_id
            ? {
                member: {
                  roles: [],
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
    },
    dispatch(type, data, guildId) {
      const session = sessionFor(guildId);
      if (session) send(session, type, data);
    },
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
