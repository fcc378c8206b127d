import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * A local stand-in for Slack: the Web API methods the bot uses (form-encoded or JSON, Bearer token,
 * `{ok, error}` answers, 429 with Retry-After past per-method limits), a Socket Mode WebSocket
 * endpoint, and helpers that sign Events API requests the way Slack does.
 */

/** One Web API call as received. */
export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  status: number;
  error?: string;
}

/** A message as the fake keeps it. */
export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  user: string;
  streaming?: boolean;
  updates: number;
}

/** Options of {@link startFakeSlack}. */
export interface FakeSlackOptions {
  /** The bot token the fake accepts. @defaultValue 'xoxb-test' */
  botToken?: string;
  /** The app-level token for Socket Mode. @defaultValue 'xapp-test' */
  appToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  /** Members of user groups, by group id. */
  userGroups?: Record<string, string[]>;
  /** Per-method limits: calls per window; past it, 429 with Retry-After. */
  limits?: Record<string, { limit: number; windowMs: number; perChannel?: boolean }>;
  /** Whether chat.startStream is allowed (the workspace has streaming). @defaultValue true */
  streaming?: boolean;
}

/** A running fake. */
export interface FakeSlack {
  /** For `clientOptions.slackApiUrl`: ends in `/api/`. */
  apiUrl: string;
  calls: SlackCall[];
  messages: SlackMessage[];
  /** Channels where the bot is not a member (`not_in_channel`). */
  notInChannel: Set<string>;
  /** Tokens that no longer work (`token_revoked`). */
  revokedTokens: Set<string>;
  /** Stream timestamps that have expired (`message_not_in_streaming_state`). */
  expiredStreams: Set<string>;
  /** Messages of one thread, oldest first. */
  thread(channel: string, threadTs: string): SlackMessage[];
  /** Sends an Events API envelope over Socket Mode and resolves when the app acknowledges it. */
  sendSocketEvent(payload: Record<string, unknown>, type?: 'events_api' | 'interactive'): Promise<void>;
  /** Socket Mode connections opened so far. */
  socketConnections(): number;
  close(): Promise<void>;
}

const defaultLimits: NonNullable<FakeSlackOptions['limits']> = {
  'chat.postMessage': { limit: 1, windowMs: 1_000, perChannel: true },
  'chat.update': { limit: 50, windowMs: 60_000 },
  'chat.appendStream': { limit: 100, windowMs: 60_000 },
};

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = options.botToken ?? 'xoxb-test';
  const appToken = options.appToken ?? 'xapp-test';
  const teamId = options.teamId ?? 'T0001';
  const botUserId = options.botUserId ?? 'U0BOT';
  const botId = options.botId ?? 'B0BOT';
  const limits = { ...defaultLimits, ...options.limits };
  const calls: SlackCall[] = [];
  const messages: SlackMessage[] = [];
  const notInChannel = new Set<string>();
  const revokedTokens = new Set<string>();
  const expiredStreams = new Set<string>();
  const windows = new Map<string, number[]>();
  let clock = 1_700_000_000_000;
  const nextTs = () => {
    clock = Math.max(clock + 1, Date.now() * 1000);
    return `${Math.floor(clock / 1_000_000)}.${String(clock % 1_000_000).padStart(6, '0')}`;
  };
  const sockets = new Set<Socket>();
  const pendingAcks = new Map<string, () => void>();
  let connections = 0;

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket) => {
    connections++;
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake' },
        connection_info: { app_id: 'A0001' },
      }),
    );
    socket.on('message', (data) => {
      const ack = JSON.parse(String(data)) as { envelope_id?: string };
      if (ack.envelope_id) pendingAcks.get(ack.envelope_id)?.();
    });
  });

  function limited(method: string, channel: string | undefined): number | undefined {
    const rule = limits[method];
    if (!rule) return undefined;
    const key = rule.perChannel ? `${method}:${channel}` : method;
    const now = Date.now();
    const window = (windows.get(key) ?? []).filter((time) => time > now - rule.windowMs);
    if (window.length >= rule.limit) {
      windows.set(key, window);
      return Math.max(1, Math.ceil(((window[0] as number) + rule.windowMs - now) / 1000));
    }
    window.push(now);
    windows.set(key, window);
    return undefined;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = url.pathname.replace(/^\/api\//, '');
    const raw = await readBody(request);
    const args = parseArgs(raw, request.headers['content-type'] ?? '');
    const token = (request.headers.authorization ?? '').replace(/^Bearer\s+/, '') || String(args.token ?? '');
    const call: SlackCall = { method, args, at: Date.now(), status: 200 };
    calls.push(call);
    const reply = (body: Record<string, unknown>, status = 200, headers: Record<string, string> = {}) => {
      call.status = status;
      if (body.ok === false) call.error = String(body.error);
      const text = JSON.stringify(body);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      response.end(text);
    };
    const fail = (error: string) => reply({ ok: false, error });

    if (method === 'apps.connections.open') {
      if (token !== appToken) return fail('invalid_auth');
      const { port } = server.address() as AddressInfo;
      return reply({ ok: true, url: `ws://127.0.0.1:${port}/socket` });
    }
    if (revokedTokens.has(token)) return fail('token_revoked');
    if (token !== botToken) return fail(token ? 'invalid_auth' : 'not_authed');
    const channel = typeof args.channel === 'string' ? args.channel : undefined;
    const retryAfter = limited(method, channel);
    if (retryAfter !== undefined) {
      return reply({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': String(retryAfter) });
    }
    if (channel && notInChannel.has(channel) && method.startsWith('chat.')) return fail('not_in_channel');

    switch (method) {
      case 'auth.test':
        return reply({
          ok: true,
          url: 'https://fake.slack.test/',
          team: 'Fake',
          user: 'supportbot',
          team_id: teamId,
          user_id: botUserId,
          bot_id: botId,
        });
      case 'chat.postMessage': {
        const text = String(args.text ?? '');
        if (!channel) return fail('channel_not_found');
        if (!text && !args.blocks && !args.markdown_text) return fail('no_text');
        if (text.length > 40_000) return fail('msg_too_long');
        const message: SlackMessage = {
          channel,
          ts: nextTs(),
          ...(args.thread_ts ? { threadTs: String(args.thread_ts) } : {}),
          text,
          ...(args.blocks ? { blocks: args.blocks as unknown[] } : {}),
          user: botUserId,
          updates: 0,
        };
        messages.push(message);
        return reply({
          ok: true,
          channel,
          ts: message.ts,
          message: {
            type: 'message',
            text,
            user: botUserId,
            bot_id: botId,
            ts: message.ts,
            ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
          },
        });
      }
      case 'chat.update': {
        const message = messages.find(
          (candidate) => candidate.channel === channel && candidate.ts === args.ts,
        );
        if (!message) return fail('message_not_found');
        message.text = String(args.text ?? message.text);
        if (args.blocks) message.blocks = args.blocks as unknown[];
        message.updates++;
        return reply({ ok: true, channel, ts: message.ts, text: message.text });
      }
      case 'chat.delete': {
        const index = messages.findIndex(
          (candidate) => candidate.channel === channel && candidate.ts === args.ts,
        );
        if (index === -1) return fail('message_not_found');
        messages.splice(index, 1);
        return reply({ ok: true, channel, ts: args.ts });
      }
      case 'chat.getPermalink':
        return reply({
          ok: true,
          channel,
          permalink: `https://fake.slack.test/archives/${channel}/p${String(args.message_ts).replace('.', '')}`,
        });
      case 'chat.startStream': {
        if (options.streaming === false) return fail('not_allowed_token_type');
        if (!channel || !args.thread_ts) return fail('invalid_arguments');
        const message: SlackMessage = {
          channel,
          ts: nextTs(),
          threadTs: String(args.thread_ts),
          text: String(args.markdown_text ?? ''),
          user: botUserId,
          streaming: true,
          updates: 0,
        };
        messages.push(message);
        return reply({ ok: true, channel, ts: message.ts });
      }
      case 'chat.appendStream':
      case 'chat.stopStream': {
        const message = messages.find(
          (candidate) => candidate.channel === channel && candidate.ts === args.ts,
        );
        if (!message) return fail('message_not_found');
        if (!message.streaming || expiredStreams.has(message.ts))
          return fail('message_not_in_streaming_state');
        message.text += String(args.markdown_text ?? '');
        message.updates++;
        if (method === 'chat.stopStream') {
          message.streaming = false;
          if (args.blocks) message.blocks = args.blocks as unknown[];
        }
        return reply({ ok: true, channel, ts: message.ts });
      }
      case 'usergroups.users.list': {
        const users = options.userGroups?.[String(args.usergroup)];
        return users ? reply({ ok: true, users }) : fail('no_such_subteam');
      }
      case 'conversations.info':
        return reply({
          ok: true,
          channel: { id: channel, name: `name-${channel}`, is_member: !notInChannel.has(channel ?? '') },
        });
      default:
        return fail('unknown_method');
    }
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
    if (!request.url?.startsWith('/socket')) return socket.destroy();
    wss.handleUpgrade(request, socket, head, (client) => wss.emit('connection', client, request));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let envelopes = 0;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    notInChannel,
    revokedTokens,
    expiredStreams,
    thread: (channel, threadTs) =>
      messages.filter(
        (message) =>
          message.channel === channel && (message.threadTs === threadTs || message.ts === threadTs),
      ),
    sendSocketEvent(payload, type = 'events_api') {
      const envelopeId = `env-${++envelopes}`;
      const open = [...wss.clients].find((client) => client.readyState === WebSocket.OPEN);
      if (!open) return Promise.reject(new Error('no Socket Mode connection'));
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`envelope ${envelopeId} was not acknowledged`)),
          5_000,
        );
        pendingAcks.set(envelopeId, () => {
          clearTimeout(timer);
          pendingAcks.delete(envelopeId);
          resolve();
        });
        open.send(
          JSON.stringify({
            envelope_id: envelopeId,
            type,
            payload,
            accepts_response_payload: false,
            retry_attempt: 0,
            retry_reason: '',
          }),
        );
      });
    },
    socketConnections: () => connections,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

function parseArgs(raw: string, type: string): Record<string, unknown> {
  if (!raw) return {};
  if (type.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    // Nested arguments (blocks, chunks) arrive as JSON strings.
    args[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return args;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}

/** Headers Slack sends with an Events API request: a `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`. */
export function signSlackRequest(
  signingSecret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': `v0=${signature}` };
}
