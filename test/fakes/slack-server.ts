import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * A local stand-in for Slack: the Web API methods the bot uses (form-encoded or JSON, Bearer token,
 * answers shaped like java-slack-sdk's recorded samples in test/fixtures/slack/api/, 429 with
 * Retry-After past per-method limits), every failure Slack produces on demand through one fault
 * API ({@link FakeSlack.injectFault}), a Socket Mode WebSocket endpoint with `disconnect` messages
 * and redeliveries, and helpers that sign and deliver Events API requests the way Slack does
 * (`X-Slack-Retry-Num` / `X-Slack-Retry-Reason` on retries).
 */

/** One Web API call as received. */
export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  status: number;
  error?: string;
  /** The JSON body the fake answered with (absent for a reset connection). */
  response?: Record<string, unknown>;
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

/**
 * A failure to produce on the next matching call(s).
 * - `status` 200 (default): `{ok: false, error}`, as Slack answers almost every failure;
 * - `status` 429: `{ok: false, error: 'ratelimited'}` with `Retry-After` (seconds, default 1);
 * - `status` 5xx: an HTML error page, as Slack's edge sends;
 * - `status` `'reset'`: the connection is destroyed before any answer (a network failure).
 */
export interface SlackFault {
  /** A Web API method (`chat.update`) or `*` for any. */
  method: string;
  /** Slack's `error` string. @defaultValue 'ratelimited' for 429, else 'internal_error' */
  error?: string;
  status?: number | 'reset';
  /** `Retry-After` header, seconds; sent with any status when given. */
  retryAfterSeconds?: number;
  /** How many calls fail. @defaultValue 1 */
  times?: number;
  /** Only calls for this channel. */
  channel?: string;
  /** Extra fields of the error body (`needed`, `provided` for missing_scope). */
  body?: Record<string, unknown>;
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
  appId?: string;
  /** Members of user groups, by group id. */
  userGroups?: Record<string, string[]>;
  /** Per-method limits: calls per window; past it, 429 with Retry-After. */
  limits?: Record<string, { limit: number; windowMs: number; perChannel?: boolean }>;
  /**
   * Whether chat.startStream is allowed. `false` refuses it with `streamingRefusal`. @defaultValue true
   */
  streaming?: boolean;
  /**
   * The error chat.startStream answers when streaming is off. `unknown_method` ("This method is
   * currently not available") is what a workspace without the feature sees; others from the
   * method's error list: `not_allowed_token_type`, `team_access_not_granted`, `missing_scope`,
   * `channel_type_not_supported`, `restricted_action`. @defaultValue 'unknown_method'
   * @see https://docs.slack.dev/reference/methods/chat.startStream
   */
  streamingRefusal?: string;
}

/** Options of {@link FakeSlack.sendSocketEvent}. */
export interface SocketDeliveryOptions {
  /** How long Slack waits for the ack before redelivering. @defaultValue 3_000 */
  ackTimeoutMs?: number;
  /** Redeliveries after an ack timeout (Slack tries up to 3 times). @defaultValue 0 */
  retries?: number;
  /** `retry_attempt` / `retry_reason` of the first delivery (a redelivery Slack decided on). */
  retryAttempt?: number;
  retryReason?: string;
  /** How long to wait for an open connection before giving up. @defaultValue 10_000 */
  connectionTimeoutMs?: number;
}

/** A Socket Mode envelope the fake sent. */
export interface SocketEnvelope {
  envelope_id: string;
  type: string;
  payload: Record<string, unknown>;
  retry_attempt: number;
  retry_reason: string;
  /** Which connection (1-based, in opening order) it went to. */
  connection: number;
  acked: boolean;
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
  /** Makes the next matching call(s) fail; returns how to see how many are left. */
  injectFault(fault: SlackFault): { remaining(): number };
  /** Removes every fault not yet spent. */
  clearFaults(): void;
  /**
   * Sends an Events API envelope over Socket Mode and resolves when the app acknowledges it
   * (redelivering after `ackTimeoutMs` while `retries` last, as Slack does); rejects if it never is.
   */
  sendSocketEvent(
    payload: Record<string, unknown>,
    type?: 'events_api' | 'interactive',
    options?: SocketDeliveryOptions,
  ): Promise<SocketEnvelope>;
  /** Sends the same payload again as Slack's redelivery: `retry_attempt` 1, `retry_reason` "timeout". */
  redeliverSocketEvent(payload: Record<string, unknown>): Promise<SocketEnvelope>;
  /**
   * Sends `{type: "disconnect", reason, debug_info}` on every open connection, then closes them
   * after `closeAfterMs`, as Slack does when it recycles a connection. Resolves once they are closed.
   */
  disconnectSockets(reason?: string, options?: { closeAfterMs?: number }): Promise<void>;
  /** Every envelope sent so far. */
  envelopes: SocketEnvelope[];
  /** Socket Mode connections opened so far. */
  socketConnections(): number;
  /** Socket Mode connections open now. */
  openSockets(): number;
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
  const appId = options.appId ?? 'A0001';
  const limits = { ...defaultLimits, ...options.limits };
  const calls: SlackCall[] = [];
  const messages: SlackMessage[] = [];
  const notInChannel = new Set<string>();
  const revokedTokens = new Set<string>();
  const expiredStreams = new Set<string>();
  const windows = new Map<string, number[]>();
  const faults: (SlackFault & { left: number })[] = [];
  let clock = 1_700_000_000_000;
  const nextTs = () => {
    clock = Math.max(clock + 1, Date.now() * 1000);
    return `${Math.floor(clock / 1_000_000)}.${String(clock % 1_000_000).padStart(6, '0')}`;
  };
  const sockets = new Set<Socket>();
  const pendingAcks = new Map<string, () => void>();
  const envelopes: SocketEnvelope[] = [];
  const socketNumbers = new Map<WebSocket, number>();
  let connections = 0;
  let envelopeCount = 0;

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket) => {
    connections++;
    socketNumbers.set(socket, connections);
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: wss.clients.size,
        debug_info: { host: 'applink-fake-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
    );
    socket.on('message', (data) => {
      let ack: { envelope_id?: string };
      try {
        ack = JSON.parse(String(data)) as { envelope_id?: string };
      } catch {
        return;
      }
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

  function takeFault(method: string, channel: string | undefined): SlackFault | undefined {
    const index = faults.findIndex(
      (fault) =>
        (fault.method === method || fault.method === '*') &&
        (fault.channel === undefined || fault.channel === channel),
    );
    if (index === -1) return undefined;
    const fault = faults[index] as SlackFault & { left: number };
    fault.left--;
    if (fault.left <= 0) faults.splice(index, 1);
    return fault;
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
      call.response = body;
      if (body.ok === false) call.error = String(body.error);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      response.end(JSON.stringify(body));
    };
    const fail = (error: string, extra: Record<string, unknown> = {}) =>
      reply({ ok: false, error, ...extra });
    const channel = typeof args.channel === 'string' ? args.channel : undefined;

    const fault = takeFault(method, channel);
    if (fault) {
      const headers: Record<string, string> =
        fault.retryAfterSeconds !== undefined || fault.status === 429
          ? { 'retry-after': String(fault.retryAfterSeconds ?? 1) }
          : {};
      if (fault.status === 'reset') {
        call.status = 0;
        call.error = 'reset';
        request.socket.destroy();
        return;
      }
      const status = fault.status ?? 200;
      if (status >= 500) {
        call.status = status;
        call.error = fault.error ?? 'internal_error';
        response.writeHead(status, { 'content-type': 'text/html', ...headers });
        response.end('<html><body>Slack is having trouble</body></html>');
        return;
      }
      const error = fault.error ?? (status === 429 ? 'ratelimited' : 'internal_error');
      return reply({ ok: false, error, ...fault.body }, status, headers);
    }

    if (method === 'apps.connections.open') {
      if (token !== appToken) return fail(token ? 'invalid_auth' : 'not_authed');
      const { port } = server.address() as AddressInfo;
      return reply({ ok: true, url: `ws://127.0.0.1:${port}/socket` });
    }
    if (revokedTokens.has(token)) return fail('token_revoked');
    if (token !== botToken) return fail(token ? 'invalid_auth' : 'not_authed');
    const retryAfter = limited(method, channel);
    if (retryAfter !== undefined) {
      return reply({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': String(retryAfter) });
    }
    if (channel && notInChannel.has(channel) && method.startsWith('chat.')) return fail('not_in_channel');

    const find = () =>
      messages.find((candidate) => candidate.channel === channel && candidate.ts === String(args.ts));
    const messageBody = (message: SlackMessage) => ({
      type: 'message',
      text: message.text,
      user: botUserId,
      team: teamId,
      bot_id: botId,
      app_id: appId,
      ...(message.blocks ? { blocks: message.blocks } : {}),
    });

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
          app_id: appId,
          is_enterprise_install: false,
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
            ...messageBody(message),
            ts: message.ts,
            ...(message.threadTs ? { thread_ts: message.threadTs, parent_user_id: 'U0CUSTOMER' } : {}),
          },
        });
      }
      case 'chat.update': {
        const message = find();
        if (!message) return fail('message_not_found');
        if (message.streaming) return fail('streaming_state_conflict');
        const text = String(args.text ?? message.text);
        if (text.length > 40_000) return fail('msg_too_long');
        message.text = text;
        if (args.blocks) message.blocks = args.blocks as unknown[];
        message.updates++;
        return reply({
          ok: true,
          channel,
          ts: message.ts,
          text: message.text,
          message: { ...messageBody(message), edited: { user: botUserId, ts: nextTs() } },
        });
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
        if (options.streaming === false) return fail(options.streamingRefusal ?? 'unknown_method');
        if (!channel || !args.thread_ts) return fail('invalid_arguments');
        // Outside a DM the stream needs its recipient (Slack's own check, in this order).
        if (!channel.startsWith('D')) {
          if (!args.recipient_team_id) return fail('missing_recipient_team_id');
          if (!args.recipient_user_id) return fail('missing_recipient_user_id');
        }
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
        const message = find();
        if (!message) return fail('message_not_found');
        if (!message.streaming || expiredStreams.has(message.ts))
          return fail('message_not_in_streaming_state');
        message.text += String(args.markdown_text ?? '');
        message.updates++;
        if (method === 'chat.stopStream') {
          message.streaming = false;
          if (args.blocks) message.blocks = args.blocks as unknown[];
          return reply({ ok: true });
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

  const openClient = () => [...wss.clients].find((client) => client.readyState === WebSocket.OPEN);

  async function waitForOpenClient(timeoutMs: number): Promise<WebSocket> {
    const started = Date.now();
    for (;;) {
      const open = openClient();
      if (open) return open;
      if (Date.now() - started > timeoutMs) throw new Error('no Socket Mode connection');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** One envelope on one connection; resolves true when acknowledged in time. */
  function deliverOnce(
    client: WebSocket,
    envelope: Omit<SocketEnvelope, 'connection' | 'acked'>,
    ackTimeoutMs: number,
  ): Promise<SocketEnvelope> {
    const sent: SocketEnvelope = { ...envelope, connection: socketNumbers.get(client) ?? 0, acked: false };
    envelopes.push(sent);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pendingAcks.delete(envelope.envelope_id);
        resolve(sent);
      }, ackTimeoutMs);
      pendingAcks.set(envelope.envelope_id, () => {
        clearTimeout(timer);
        pendingAcks.delete(envelope.envelope_id);
        sent.acked = true;
        resolve(sent);
      });
      client.send(JSON.stringify({ ...envelope, accepts_response_payload: false }));
    });
  }

  async function sendSocketEvent(
    payload: Record<string, unknown>,
    type: 'events_api' | 'interactive' = 'events_api',
    delivery: SocketDeliveryOptions = {},
  ): Promise<SocketEnvelope> {
    const { ackTimeoutMs = 3_000, retries = 0, connectionTimeoutMs = 10_000 } = delivery;
    let attempt = delivery.retryAttempt ?? 0;
    let reason = delivery.retryReason ?? '';
    for (;;) {
      const client = await waitForOpenClient(connectionTimeoutMs);
      const sent = await deliverOnce(
        client,
        {
          envelope_id: `env-${++envelopeCount}`,
          type,
          payload,
          retry_attempt: attempt,
          retry_reason: reason,
        },
        ackTimeoutMs,
      );
      if (sent.acked) return sent;
      if (attempt - (delivery.retryAttempt ?? 0) >= retries)
        throw new Error(`envelope ${sent.envelope_id} was not acknowledged`);
      attempt++;
      reason = 'timeout';
    }
  }

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    notInChannel,
    revokedTokens,
    expiredStreams,
    envelopes,
    thread: (channel, threadTs) =>
      messages.filter(
        (message) =>
          message.channel === channel && (message.threadTs === threadTs || message.ts === threadTs),
      ),
    injectFault(fault) {
      const entry = { ...fault, left: fault.times ?? 1 };
      faults.push(entry);
      return { remaining: () => Math.max(0, entry.left) };
    },
    clearFaults() {
      faults.length = 0;
    },
    sendSocketEvent,
    redeliverSocketEvent: (payload) =>
      sendSocketEvent(payload, 'events_api', { retryAttempt: 1, retryReason: 'timeout' }),
    async disconnectSockets(reason = 'refresh_requested', { closeAfterMs = 50 } = {}) {
      const open = [...wss.clients].filter((client) => client.readyState === WebSocket.OPEN);
      for (const client of open) {
        client.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake-1' } }));
      }
      await new Promise((resolve) => setTimeout(resolve, closeAfterMs));
      await Promise.all(
        open.map((client) => {
          if (client.readyState === WebSocket.CLOSED) return undefined;
          const closed = once(client, 'close');
          client.close(1000);
          // Slack does not wait for the close handshake.
          setTimeout(() => client.terminate(), 1_000).unref();
          return closed;
        }),
      );
    },
    socketConnections: () => connections,
    openSockets: () => [...wss.clients].filter((client) => client.readyState === WebSocket.OPEN).length,
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

/** Options of {@link deliverEventsApiRequest}. */
export interface EventsApiDeliveryOptions {
  signingSecret: string;
  /** Sent as is instead of `JSON.stringify(body)` (malformed bodies). */
  raw?: string;
  contentType?: string;
  /** Extra headers (a forged signature, an old timestamp). */
  headers?: Record<string, string>;
  /**
   * Slack's retries: a request not answered with 2xx within `ackTimeoutMs` is sent again with
   * `X-Slack-Retry-Num` 1..retries and `X-Slack-Retry-Reason` (`http_timeout`, `http_error`).
   * @defaultValue 0
   */
  retries?: number;
  /** @defaultValue 3_000 */
  ackTimeoutMs?: number;
  /** The first attempt is itself a retry (`X-Slack-Retry-Num`), as after a lost acknowledgement. */
  retryNum?: number;
  retryReason?: string;
}

/** Each attempt of {@link deliverEventsApiRequest}: its HTTP status (0: no answer in time). */
export interface EventsApiAttempt {
  retryNum: number;
  status: number;
  body: string;
}

/**
 * Delivers an Events API (or interactivity) request as Slack does: signed, with Slack's retry
 * headers, retried while it is not acknowledged. Resolves with every attempt.
 * @see https://docs.slack.dev/apis/events-api/#retries
 */
export async function deliverEventsApiRequest(
  url: string,
  body: unknown,
  options: EventsApiDeliveryOptions,
): Promise<EventsApiAttempt[]> {
  const text = options.raw ?? JSON.stringify(body);
  const attempts: EventsApiAttempt[] = [];
  const first = options.retryNum ?? 0;
  for (let retryNum = first; retryNum <= first + (options.retries ?? 0); retryNum++) {
    const reason =
      retryNum === first
        ? options.retryReason
        : attempts.at(-1)?.status === 0
          ? 'http_timeout'
          : 'http_error';
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'application/json',
      ...signSlackRequest(options.signingSecret, text),
      ...(retryNum > 0 ? { 'x-slack-retry-num': String(retryNum) } : {}),
      ...(retryNum > 0 && reason ? { 'x-slack-retry-reason': reason } : {}),
      ...options.headers,
    };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: text,
        signal: AbortSignal.timeout(options.ackTimeoutMs ?? 3_000),
      });
      const answer = await response.text();
      attempts.push({ retryNum, status: response.status, body: answer });
      if (response.status >= 200 && response.status < 300) break;
    } catch {
      attempts.push({ retryNum, status: 0, body: '' });
    }
  }
  return attempts;
}
