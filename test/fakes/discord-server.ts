import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A local stand-in for Discord, faithful to the API docs excerpts in test/fixtures/discord/: the
 * gateway (HELLO, heartbeats, IDENTIFY checked for token, intents and shard, READY, GUILD_CREATE,
 * dispatches with increasing sequence numbers, RESUME, and on demand INVALID_SESSION, RECONNECT, a
 * server-requested heartbeat, close codes and frames that are not JSON), the Message Content intent
 * (content, embeds, attachments and components emptied where Discord empties them), and the REST
 * routes a support bot uses (messages, edits, threads, typing, interaction callbacks) with per-route
 * rate-limit headers and user, shared and global 429s. Message and interaction payloads start from
 * the docs' own examples with test values substituted.
 * @see test/fixtures/discord/README.md
 */

const fixtures = new URL('../fixtures/discord/', import.meta.url);
const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8')) as T;
/** The docs' "Example Message" (message-object.md). */
const exampleMessage = fixture<Record<string, unknown>>('message.example.json');
/** The docs' slash-command "Example Interaction" (interactions.md). */
/** Close code → its Description in the docs' table, sent as the close reason. */
const closeReasons = new Map(
  fixture<{ code: number; description: string }[]>('gateway-close-codes.json').map((row) => [
    row.code,
    row.description,
  ]),
);
const exampleInteraction = fixture<Record<string, unknown> & { member: Record<string, unknown> }>(
  'interaction.slash-command.example.json',
);

/** Intent bits Discord defines; any other bit closes the connection with 4013. */
const knownIntentBits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 21, 24, 25];
const knownIntents = knownIntentBits.reduce((mask, bit) => mask | (1 << bit), 0);
/** The privileged intents, which must be enabled for the app in the Developer Portal. */
export const privilegedIntentBits = {
  GUILD_MEMBERS: 1 << 1,
  GUILD_PRESENCES: 1 << 8,
  MESSAGE_CONTENT: 1 << 15,
} as const;
export type PrivilegedIntent = keyof typeof privilegedIntentBits;
const intentBits = { GUILDS: 1 << 0, GUILD_MESSAGES: 1 << 9, DIRECT_MESSAGES: 1 << 12 } as const;
/** Opcodes a client may send (opcodes-and-status-codes: Client Action Send). */
const clientOpcodes = new Set([1, 2, 3, 4, 6, 8, 31, 43]);

/** A REST call as received. */
export interface DiscordCall {
  method: string;
  path: string;
  body: unknown;
  status: number;
  at: number;
  /** Response headers the fake sent. */
  headers?: Record<string, string>;
  /** The response body the fake sent (parsed JSON). */
  response?: unknown;
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

/** A gateway frame the fake sent, as text (what went over the wire). */
export interface GatewayFrame {
  at: number;
  session: string | undefined;
  frame: string;
}

interface Session {
  id: string;
  shard: [number, number];
  intents: number;
  socket: WebSocket | undefined;
  sequence: number;
  /** Set by INVALID_SESSION d=false: a RESUME of it fails. */
  invalid: boolean;
  /** Dispatches sent, for RESUME replays. */
  sent: { s: number; payload: string }[];
}

/** A 429 to answer with on demand: see {@link FakeDiscord.rateLimit}. */
export interface RateLimitInjection {
  /** `user` (a route's bucket), `shared` (the resource: not counted against the bot), `global`. */
  scope: 'user' | 'shared' | 'global';
  /** Seconds, as Discord's float `retry_after`. */
  retryAfter: number;
  /** For user and shared: the channel whose message routes are limited. */
  channelId?: string;
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
  /**
   * The bot token Discord knows. Unset: any token is accepted. A wrong one gets 401 from REST
   * (discord.js then stops before the gateway) and closes the gateway with 4004.
   */
  token?: string;
  /** Where the token is checked. `gateway`: only IDENTIFY (to reach 4004). @defaultValue 'rest-and-gateway' */
  tokenCheck?: 'rest-and-gateway' | 'gateway';
  /**
   * Privileged intents enabled for the app in the Developer Portal; IDENTIFY asking for another
   * one closes with 4014. @defaultValue all three
   */
  privilegedIntents?: PrivilegedIntent[];
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

/** What {@link FakeDiscord.sendMessage} takes. */
export interface FakeMessageInput {
  channel_id: string;
  guild_id?: string;
  content: string;
  author: { id: string; username: string; bot?: boolean };
  mentions?: { id: string; username: string }[];
  message_reference?: { message_id: string };
  /** A reply pings (mentions) the replied-to author unless this is false, as in Discord. @defaultValue true */
  replyPing?: boolean;
  /** Role ids of the author's guild member. */
  roles?: string[];
  attachments?: { id: string; filename: string; size?: number; url?: string }[];
  sticker_items?: { id: string; name: string; format_type: number }[];
  embeds?: unknown[];
  /** Message type: 0 default, 19 reply, 7 member join… */
  type?: number;
}

/** A running fake. */
export interface FakeDiscord {
  /** For `rest: { api }`: ends in `/api`. */
  api: string;
  /** The gateway URL (what GET /gateway/bot returns). */
  gateway: string;
  calls: DiscordCall[];
  messages: DiscordMessage[];
  channels: Map<string, { id: string; type: number; guild_id?: string; name?: string; parent_id?: string }>;
  /** Sends MESSAGE_CREATE (guild messages to the shard that owns the guild). */
  sendMessage(message: FakeMessageInput): DiscordMessage;
  /** The MESSAGE_CREATE `d` the fake would send for a message (before the intent check). */
  messageCreatePayload(message: FakeMessageInput): Record<string, unknown>;
  /** Sends any dispatch (e.g. INTERACTION_CREATE) to the shard that owns the guild. */
  dispatch(type: string, data: unknown, guildId?: string): void;
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
  /** Closes every gateway connection with a close code (e.g. 4014 after the portal changed). */
  closeConnections(code: number, reason?: string): void;
  /** Sends INVALID_SESSION (op 9); `false` also ends the sessions, so they cannot be resumed. */
  invalidateSessions(resumable: boolean): void;
  /** Sends RECONNECT (op 7): clients should reconnect and resume. */
  requestReconnect(): void;
  /** Sends a Heartbeat (op 1): clients must answer with a heartbeat at once. */
  requestHeartbeat(): void;
  /** Sends a text frame as it is (e.g. one that is not JSON) on every connection. */
  sendRaw(frame: string): void;
  /** The next request the injection applies to answers 429; user and shared ones keep the channel limited for `retryAfter`, a global one every route of the bot. */
  rateLimit(injection: RateLimitInjection): void;
  /** Changes the privileged intents enabled for the app (takes effect at the next IDENTIFY). */
  setPrivilegedIntents(intents: PrivilegedIntent[]): void;
  /** Every gateway frame sent, in order. */
  frames: GatewayFrame[];
  /** Close codes the fake closed connections with, in order. */
  closeCodes: number[];
  /** IDENTIFY payloads' `d`, token removed. */
  identifyPayloads: Record<string, unknown>[];
  identifies(): number;
  resumes(): number;
  /** Heartbeats (op 1) received. */
  heartbeats(): number;
  close(): Promise<void>;
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const botId = options.botId ?? '100000000000000001';
  const applicationId = options.applicationId ?? botId;
  const guilds = options.guilds ?? [{ id: '200000000000000001', channels: [{ id: '300000000000000001' }] }];
  const limit = options.channelLimit ?? { limit: 5, windowMs: 5_000 };
  const forbidden = new Set(options.forbiddenChannels ?? []);
  const tokenCheck = options.tokenCheck ?? 'rest-and-gateway';
  let privileged = privilegedMask(
    options.privilegedIntents ?? (Object.keys(privilegedIntentBits) as PrivilegedIntent[]),
  );
  const interactionReplies: InteractionReply[] = [];
  const commands: unknown[] = [];
  const calls: DiscordCall[] = [];
  const messages: DiscordMessage[] = [];
  const frames: GatewayFrame[] = [];
  const closeCodes: number[] = [];
  const identifyPayloads: Record<string, unknown>[] = [];
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
  /** Channels whose message routes answer 429 until a time (after a user or shared 429). */
  const channelBlocks = new Map<string, { until: number; scope: 'user' | 'shared' }>();
  const injections: RateLimitInjection[] = [];
  let globalBlockedUntil = 0;
  const sockets = new Set<Socket>();
  const nextId = snowflake;
  let identifyCount = 0;
  let resumeCount = 0;
  let heartbeatCount = 0;
  const bot = {
    id: botId,
    username: 'supportbot',
    discriminator: '0000',
    global_name: null,
    avatar: null,
    bot: true,
  };

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    let session: Session | undefined;
    const write = (payload: unknown) => sendFrame(socket, undefined, JSON.stringify(payload));
    const version = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams.get('v');
    if (version !== null && version !== '10' && version !== '9') return closeWith(socket, 4012);
    write({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null });
    socket.on('message', (data) => {
      let payload: { op: number; d: Record<string, unknown> | null };
      try {
        payload = JSON.parse(String(data));
      } catch {
        return closeWith(socket, 4002);
      }
      if (typeof payload?.op !== 'number' || !clientOpcodes.has(payload.op)) return closeWith(socket, 4001);
      if (payload.op === 1) {
        heartbeatCount++;
        return write({ op: 11, d: null, s: null, t: null });
      }
      const d = (payload.d ?? {}) as Record<string, unknown>;
      if (payload.op === 2) {
        if (session) return closeWith(socket, 4005);
        const { token, ...rest } = d;
        identifyPayloads.push(rest);
        if (options.token !== undefined && token !== options.token) return closeWith(socket, 4004);
        const intents = d.intents;
        if (typeof intents !== 'number' || !Number.isInteger(intents) || (intents & ~knownIntents) !== 0)
          return closeWith(socket, 4013);
        const notAllowed = intents & privilegedMask('all') & ~privileged;
        if (notAllowed !== 0) return closeWith(socket, 4014);
        const shard = (d.shard as [number, number] | undefined) ?? [0, 1];
        if (
          !Array.isArray(shard) ||
          shard.length !== 2 ||
          !shard.every(Number.isInteger) ||
          shard[1] < 1 ||
          shard[0] < 0 ||
          shard[0] >= shard[1]
        )
          return closeWith(socket, 4010);
        identifyCount++;
        session = {
          id: `session-${identifyCount}`,
          shard,
          intents,
          socket,
          sequence: 0,
          invalid: false,
          sent: [],
        };
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
        if (intents & intentBits.GUILDS)
          for (const guild of own) send(session, 'GUILD_CREATE', guildPayload(guild));
        return;
      }
      if (payload.op === 6) {
        if (options.token !== undefined && d.token !== options.token) return closeWith(socket, 4004);
        const found = sessions.find((candidate) => candidate.id === d.session_id && !candidate.invalid);
        if (!found) {
          write({ op: 9, d: false, s: null, t: null });
          return;
        }
        resumeCount++;
        found.socket = socket;
        session = found;
        // Everything the client missed since the sequence it last saw, then RESUMED.
        for (const item of found.sent) if (item.s > Number(d.seq)) sendFrame(socket, found.id, item.payload);
        send(found, 'RESUMED', {});
        return;
      }
      // Presence, voice, member requests…: nothing a support bot sends before identifying.
      if (!session) return closeWith(socket, 4003);
    });
    socket.on('close', () => {
      if (session?.socket === socket) session.socket = undefined;
    });
  });

  function sendFrame(socket: WebSocket, sessionId: string | undefined, frame: string): void {
    frames.push({ at: Date.now(), session: sessionId, frame });
    socket.send(frame);
  }

  function closeWith(socket: WebSocket, code: number, reason = closeReasons.get(code) ?? ''): void {
    closeCodes.push(code);
    socket.close(code, reason);
  }

  function privilegedMask(intents: PrivilegedIntent[] | 'all'): number {
    const names = intents === 'all' ? (Object.keys(privilegedIntentBits) as PrivilegedIntent[]) : intents;
    return names.reduce((mask, name) => mask | privilegedIntentBits[name], 0);
  }

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
    const payload = JSON.stringify({ op: 0, d: data, s: session.sequence, t: type });
    session.sent.push({ s: session.sequence, payload });
    if (session.socket) sendFrame(session.socket, session.id, payload);
  }

  function sessionFor(guildId: string | undefined): Session | undefined {
    const live = sessions.filter(
      (session) => !session.invalid && (session.socket || session.sent.length > 0),
    );
    if (!guildId) return live.find((session) => session.shard[0] === 0) ?? live[0];
    return live.findLast((session) => shardOf(guildId, session.shard[1]) === session.shard[0]);
  }

  function liveSockets(): WebSocket[] {
    return [...wss.clients];
  }

  /** Applies the Message Content intent: what a session without it sees of a message. */
  function visibleTo(session: Session, data: Record<string, unknown>): Record<string, unknown> {
    if (session.intents & privilegedIntentBits.MESSAGE_CONTENT) return data;
    const readable = (message: Record<string, unknown>) =>
      !message.guild_id ||
      (message.author as { id?: string } | undefined)?.id === botId ||
      ((message.mentions as { id: string }[] | undefined) ?? []).some((user) => user.id === botId);
    const strip = (message: Record<string, unknown>, guildId: unknown) => {
      if (readable({ ...message, guild_id: guildId })) return message;
      const { poll: _poll, ...rest } = message;
      return { ...rest, content: '', embeds: [], attachments: [], components: [] };
    };
    const stripped = strip(data, data.guild_id);
    const referenced = data.referenced_message as Record<string, unknown> | null | undefined;
    return referenced ? { ...stripped, referenced_message: strip(referenced, data.guild_id) } : stripped;
  }

  function windowOf(channelId: string): number[] {
    const now = Date.now();
    const window = (windows.get(channelId) ?? []).filter((time) => time > now - limit.windowMs);
    windows.set(channelId, window);
    return window;
  }

  /** Seconds until the channel's window has room again (0 when it has room now). */
  function secondsUntilRoom(window: number[]): number {
    if (window.length < limit.limit) return 0;
    return ((window[window.length - limit.limit] as number) + limit.windowMs - Date.now()) / 1000;
  }

  /** X-RateLimit-* headers of a channel's message bucket after this request. */
  function bucketHeaders(channelId: string): Record<string, string> {
    const window = windowOf(channelId);
    const remaining = Math.max(0, limit.limit - window.length);
    // The real time until the window frees a slot (or, with room, until the oldest request leaves it).
    const resetAfter =
      remaining > 0 && window.length > 0
        ? ((window[0] as number) + limit.windowMs - Date.now()) / 1000
        : window.length === 0
          ? limit.windowMs / 1000
          : secondsUntilRoom(window);
    return {
      'x-ratelimit-limit': String(limit.limit),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset-after': seconds(resetAfter),
      'x-ratelimit-reset': seconds((Date.now() + resetAfter * 1000) / 1000),
      // Per route, not per channel: the top-level resource is not part of the bucket.
      'x-ratelimit-bucket': bucketHash('POST/PATCH/DELETE /channels/{channel.id}/messages'),
    };
  }

  /** A 429 for a channel's message route, when one applies now. */
  function channelLimited(
    channelId: string,
  ): { status: 429; body: unknown; headers: Record<string, string> } | undefined {
    const now = Date.now();
    const injected = injections.findIndex(
      (injection) => injection.scope !== 'global' && injection.channelId === channelId,
    );
    if (injected >= 0) {
      const [injection] = injections.splice(injected, 1) as [RateLimitInjection];
      channelBlocks.set(channelId, {
        until: now + injection.retryAfter * 1000,
        scope: injection.scope as 'user' | 'shared',
      });
    }
    const block = channelBlocks.get(channelId);
    if (block && block.until > now) {
      const retryAfter = (block.until - now) / 1000;
      if (block.scope === 'shared') {
        return {
          status: 429,
          body: {
            message: 'The resource is being rate limited.',
            retry_after: round(retryAfter),
            global: false,
          },
          headers: {
            ...bucketHeaders(channelId),
            'retry-after': String(Math.ceil(retryAfter)),
            'x-ratelimit-scope': 'shared',
          },
        };
      }
      return {
        status: 429,
        body: { message: 'You are being rate limited.', retry_after: round(retryAfter), global: false },
        headers: {
          ...bucketHeaders(channelId),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': seconds(retryAfter),
          'x-ratelimit-reset': seconds(block.until / 1000),
          'retry-after': String(Math.ceil(retryAfter)),
          'x-ratelimit-scope': 'user',
        },
      };
    }
    const window = windowOf(channelId);
    if (window.length >= limit.limit) {
      const retryAfter = secondsUntilRoom(window);
      return {
        status: 429,
        body: { message: 'You are being rate limited.', retry_after: round(retryAfter), global: false },
        headers: {
          ...bucketHeaders(channelId),
          'retry-after': String(Math.ceil(retryAfter)),
          'x-ratelimit-scope': 'user',
        },
      };
    }
    window.push(now);
    return undefined;
  }

  /** A global 429, when one applies now (every route authorised by the bot token). */
  function globallyLimited(): { status: 429; body: unknown; headers: Record<string, string> } | undefined {
    const now = Date.now();
    const injected = injections.findIndex((injection) => injection.scope === 'global');
    if (injected >= 0) {
      const [injection] = injections.splice(injected, 1) as [RateLimitInjection];
      globalBlockedUntil = now + injection.retryAfter * 1000;
    }
    if (globalBlockedUntil <= now) return undefined;
    const retryAfter = (globalBlockedUntil - now) / 1000;
    return {
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: round(retryAfter), global: true },
      headers: {
        'retry-after': String(Math.ceil(retryAfter)),
        'x-ratelimit-global': 'true',
        'x-ratelimit-scope': 'global',
      },
    };
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
      call.headers = { ...(data === undefined ? {} : { 'content-type': 'application/json' }), ...headers };
      if (data !== undefined) call.response = data;
      response.writeHead(status, call.headers);
      response.end(data === undefined ? undefined : JSON.stringify(data));
    };
    // Interaction callbacks and webhook calls are authorised by the token in the path, not a header.
    const tokenInPath = /^\/(?:interactions|webhooks)\//.test(path);
    const authorization = request.headers.authorization ?? '';
    const authorised =
      authorization.startsWith('Bot ') &&
      (options.token === undefined ||
        tokenCheck === 'gateway' ||
        authorization.slice('Bot '.length) === options.token);
    if (!tokenInPath && !authorised) return reply(401, { message: '401: Unauthorized', code: 0 });
    if (path === '/gateway/bot') {
      return reply(200, {
        url: `ws://127.0.0.1:${port}/gateway`,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
      });
    }
    if (path === '/gateway') return reply(200, { url: `ws://127.0.0.1:${port}/gateway` });
    // Interaction endpoints are not bound to the global rate limit (rate-limits.md).
    if (!tokenInPath) {
      const global = globallyLimited();
      if (global) return reply(global.status, global.body, global.headers);
    }

    const channelRoute = /^\/channels\/(\d+)(\/.*)?$/.exec(path);
    if (channelRoute) {
      const [, channelId, rest = ''] = channelRoute as unknown as [string, string, string];
      const channel = channels.get(channelId);
      if (!channel) return reply(404, { message: 'Unknown Channel', code: 10003 });
      if (rest === '/typing' && call.method === 'POST') return reply(204);
      if (forbidden.has(channelId) || (channel.parent_id && forbidden.has(channel.parent_id)))
        return reply(403, { message: 'Missing Permissions', code: 50013 });
      if (rest.startsWith('/messages')) {
        const limited = channelLimited(channelId);
        if (limited) return reply(limited.status, limited.body, limited.headers);
      }
      const headers = bucketHeaders(channelId);
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
        return reply(200, messagePayload(message), headers);
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
        return reply(200, messagePayload(message), headers);
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
        if (session && session.intents & intentBits.GUILDS)
          send(session, 'THREAD_CREATE', { ...created, newly_created: true });
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
        return reply(200, messagePayload(message));
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
        return reply(200, messagePayload(target));
      }
      return reply(200, messagePayload(target));
    }
    return reply(404, { message: `Unknown Route ${call.method} ${path}`, code: 0 });
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

  /** A user object as Discord sends it in `author` and `mentions`. */
  function userObject(user: { id: string; username: string; bot?: boolean }) {
    return { discriminator: '0', global_name: null, avatar: null, ...user };
  }

  /** A message object (REST shape): the docs' example message with this message's values. */
  function messagePayload(message: DiscordMessage): Record<string, unknown> {
    // A new message has no reactions yet; the example's one is dropped.
    const { reactions: _reactions, ...example } = exampleMessage;
    return {
      ...example,
      id: message.id,
      channel_id: message.channel_id,
      author: userObject(message.author),
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
      ...(message.interactionToken ? { application_id: applicationId, webhook_id: applicationId } : {}),
      ...(message.message_reference ? { message_reference: message.message_reference } : {}),
    };
  }

  /** The MESSAGE_CREATE `d`: a message object plus the extra fields (message-create.md). */
  function messageCreatePayload(input: FakeMessageInput, message: DiscordMessage): Record<string, unknown> {
    const referenced = input.message_reference
      ? messages.find((candidate) => candidate.id === input.message_reference?.message_id)
      : undefined;
    const mentions = [...(input.mentions ?? [])];
    // A reply pings the author of the message it replies to (unless turned off): they are mentioned.
    if (referenced && input.replyPing !== false && !mentions.some((user) => user.id === referenced.author.id))
      mentions.push(referenced.author);
    return {
      ...messagePayload(message),
      ...(input.guild_id ? { guild_id: input.guild_id } : {}),
      type: input.type ?? (input.message_reference ? 19 : 0),
      // Discord sends the channel's type with each message (discord.js needs it for DMs).
      channel_type: channels.get(input.channel_id)?.type ?? 0,
      mentions: mentions.map(userObject),
      embeds: input.embeds ?? [],
      attachments: (input.attachments ?? []).map((attachment) => ({
        size: 1024,
        url: `https://cdn.invalid/${attachment.filename}`,
        proxy_url: `https://cdn.invalid/${attachment.filename}`,
        ...attachment,
      })),
      ...(input.sticker_items ? { sticker_items: input.sticker_items } : {}),
      ...(input.message_reference
        ? {
            message_reference: {
              type: 0,
              message_id: input.message_reference.message_id,
              channel_id: input.channel_id,
              ...(input.guild_id ? { guild_id: input.guild_id } : {}),
            },
          }
        : {}),
      ...(referenced ? { referenced_message: messagePayload(referenced) } : {}),
      // On MESSAGE_CREATE the member object carries no `user` (message-create.md, excerpt 3).
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
    };
  }

  function deliver(input: FakeMessageInput, id = nextId()): DiscordMessage {
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
    const data = messageCreatePayload(input, message);
    messages.push(message);
    const session = sessionFor(input.guild_id);
    const intent = input.guild_id ? intentBits.GUILD_MESSAGES : intentBits.DIRECT_MESSAGES;
    if (session && session.intents & intent) send(session, 'MESSAGE_CREATE', visibleTo(session, data));
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
    gateway: `ws://127.0.0.1:${port}/gateway`,
    calls,
    messages,
    channels,
    sendMessage(input) {
      return deliver(input);
    },
    messageCreatePayload(input) {
      return messageCreatePayload(input, {
        id: nextId(),
        channel_id: input.channel_id,
        content: input.content,
        author: input.author,
        edits: 0,
        ...(input.message_reference ? { message_reference: input.message_reference } : {}),
      });
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
      if (session && session.intents & intentBits.GUILDS)
        send(session, 'THREAD_CREATE', { ...created, newly_created: true });
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
      const user = userObject(input.user);
      // The docs' slash-command example, with this interaction's values.
      const {
        data: _data,
        member: exampleMember,
        guild_id: _guild,
        guild_locale: _locale,
        ...example
      } = exampleInteraction;
      const session = sessionFor(input.guild_id);
      if (!session) return { id, token };
      send(session, 'INTERACTION_CREATE', {
        ...example,
        id,
        application_id: applicationId,
        type: input.type,
        ...(input.data ? { data: input.data } : {}),
        ...(input.guild_id ? { guild_id: input.guild_id, guild_locale: 'en-US' } : {}),
        channel_id: input.channel_id,
        channel: {
          id: input.channel_id,
          type: channel?.type ?? 0,
          ...(channel?.guild_id ? { guild_id: channel.guild_id } : {}),
        },
        ...(input.guild_id
          ? {
              member: {
                ...exampleMember,
                user,
                roles: input.roles ?? [],
                permissions: '1071698660928',
                joined_at: new Date().toISOString(),
                flags: 0,
              },
            }
          : { user }),
        ...(input.message ? { message: messagePayload(input.message) } : {}),
        token,
        version: 1,
        app_permissions: '1071698660928',
        locale: 'en-US',
        entitlements: [],
        authorizing_integration_owners: input.guild_id ? { '0': input.guild_id } : { '0': '0' },
        context: input.guild_id ? 0 : 1,
        attachment_size_limit: 10_485_760,
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
    closeConnections(code, reason) {
      for (const socket of liveSockets()) closeWith(socket, code, reason);
    },
    invalidateSessions(resumable) {
      for (const session of sessions) {
        if (!session.socket) continue;
        if (!resumable) session.invalid = true;
        sendFrame(session.socket, session.id, JSON.stringify({ op: 9, d: resumable, s: null, t: null }));
      }
    },
    requestReconnect() {
      for (const session of sessions)
        if (session.socket)
          sendFrame(session.socket, session.id, JSON.stringify({ op: 7, d: null, s: null, t: null }));
    },
    requestHeartbeat() {
      for (const socket of liveSockets())
        sendFrame(socket, undefined, JSON.stringify({ op: 1, d: null, s: null, t: null }));
    },
    sendRaw(frame) {
      for (const socket of liveSockets()) sendFrame(socket, undefined, frame);
    },
    rateLimit(injection) {
      if (injection.scope !== 'global' && !injection.channelId)
        throw new Error(`a ${injection.scope} rate limit needs a channelId`);
      injections.push(injection);
    },
    setPrivilegedIntents(intents) {
      privileged = privilegedMask(intents);
    },
    frames,
    closeCodes,
    identifyPayloads,
    identifies: () => identifyCount,
    resumes: () => resumeCount,
    heartbeats: () => heartbeatCount,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Discord's epoch (2015-01-01T00:00:00Z): snowflakes count milliseconds from it. */
const discordEpoch = 1_420_070_400_000n;
let increment = 0n;

/**
 * A snowflake as Discord builds it: milliseconds since its epoch << 22, then a 12-bit increment.
 * Shared by every fake in the process, so ids never repeat between tests that share a store.
 */
function snowflake(): string {
  increment = (increment + 1n) & 0xfffn;
  if (increment === 0n) lastMs++;
  lastMs = BigInt(Math.max(Number(lastMs), Date.now()));
  return String(((lastMs - discordEpoch) << 22n) | increment);
}
let lastMs = 0n;

/** Discord's shard formula: (guild_id >> 22) % shard_count. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/** An opaque bucket id for a route, as Discord's X-RateLimit-Bucket. */
function bucketHash(route: string): string {
  return createHash('sha1').update(route).digest('hex').slice(0, 32);
}

function round(value: number): number {
  return Math.max(0, Math.round(value * 1000) / 1000);
}

function seconds(value: number): string {
  return round(value).toFixed(3);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}
