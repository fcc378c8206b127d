import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { AgentEvent, SupportAgent } from '../../src/agent/support-agent.ts';
import { projectRoot } from '../../src/config/load.ts';
import { toSupportBotError } from '../../src/errors.ts';
import type { LoggerLike } from '../../src/observability/logger-like.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { balanceMarkdown } from '../../src/reply/markdown.ts';

/** Options of {@link createHttpAdapter}. */
export interface HttpAdapterOptions {
  agent: Pick<SupportAgent, 'handle'>;
  metrics?: Metrics;
  logger?: LoggerLike;
  /** Larger bodies get 413. @defaultValue 65_536 */
  maxBodyBytes?: number;
  /** Reports whether the parts the bot needs are up. */
  health?: () => Promise<{ ok: boolean; [detail: string]: unknown }>;
  /**
   * Longest wait for a request's headers; a slower client gets 408 and is closed.
   * @defaultValue 10_000
   * @see https://nodejs.org/api/http.html#serverheaderstimeout
   */
  headersTimeoutMs?: number;
  /**
   * Longest wait for a whole request, headers and body: Node's `requestTimeout`, which covers
   * receiving the request only, never the answer streamed back. At least `headersTimeoutMs`.
   * @defaultValue 30_000
   * @see https://nodejs.org/api/http.html#serverrequesttimeout
   */
  requestTimeoutMs?: number;
  /**
   * Longest wait for a message's body once its headers are in; a body still arriving then (a
   * client dripping it byte by byte) gets 408 and its connection is closed. @defaultValue 10_000
   */
  bodyTimeoutMs?: number;
  /**
   * Connections open at once; Node closes any beyond it as soon as they are accepted.
   * @defaultValue 1_000
   * @see https://nodejs.org/api/net.html#servermaxconnections
   */
  maxConnections?: number;
  /** Ends an answer that {@link HttpAdapter.shutdown} cut short, after the text so far. */
  shutdownNote?: string;
}

/** The HTTP server, and how to stop it without cutting answers off mid-sentence. */
export interface HttpAdapter extends Server {
  /**
   * Stops taking work: the listener closes, idle connections go, a new request on an open one
   * gets 503. Answers still streaming have `graceMs` to finish; then each ends with its text so
   * far, `shutdownNote` and a final `answer-end` (`degraded: "shutdown"`). Resolves once every
   * connection is closed, at most about a second after the grace.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** Answers streaming now. */
  activeStreams(): number;
}

const defaults = {
  maxBodyBytes: 65_536,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  bodyTimeoutMs: 10_000,
  maxConnections: 1_000,
  shutdownNote: '_(The bot is restarting; please ask again.)_',
} as const satisfies Required<
  Pick<
    HttpAdapterOptions,
    | 'maxBodyBytes'
    | 'headersTimeoutMs'
    | 'requestTimeoutMs'
    | 'bodyTimeoutMs'
    | 'maxConnections'
    | 'shutdownNote'
  >
>;

/** How long {@link HttpAdapter.shutdown} gives streaming answers by default. */
const defaultShutdownGraceMs = 5_000;
/** After the cut: time for the last events to reach the clients before sockets are destroyed. */
const flushMs = 1_000;

// From the project folder, so the compiled server (dist/) serves the same page.
const webChat = readFileSync(path.join(projectRoot, 'adapters/http/public/index.html'), 'utf8');

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The HTTP API and the web chat: `POST /v1/messages` answers as Server-Sent Events
 * (`answer-start`, `answer-delta`…, `answer-end`), `GET /healthz`, `GET /metrics` (Prometheus),
 * and the chat page at `/`.
 */
export function createHttpAdapter(options: HttpAdapterOptions): HttpAdapter {
  const settings = { ...defaults, ...definedOnly(options) };
  const headersTimeout = settings.headersTimeoutMs;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(settings.requestTimeoutMs, headersTimeout),
      // Node checks both timeouts only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    (request, response) => {
      route(request, response).catch((error: unknown) => {
        if (error instanceof HttpError) {
          // A request that broke off mid-body cannot be read to its end: its connection goes.
          if (error.status === 408) response.setHeader('connection', 'close');
          return sendJson(response, error.status, { error: { code: error.code, message: error.message } });
        }
        const wrapped = toSupportBotError(error);
        options.logger?.error({ err: wrapped }, 'http request failed');
        if (!response.headersSent)
          sendJson(response, 500, { error: { code: 'internal', message: 'Something went wrong.' } });
        else response.end();
      });
    },
  );
  server.keepAliveTimeout = 5_000;
  server.maxConnections = settings.maxConnections;
  /** Answers streaming now, each with the function that ends it early with the note. */
  const streams = new Set<() => void>();
  let draining = false;
  /** Set by shutdown(): called when the last answer streaming has ended. */
  let drained: (() => void) | undefined;

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (draining) {
      response.setHeader('connection', 'close');
      throw new HttpError(503, 'shutting_down', 'The bot is restarting; please ask again in a moment.');
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/' || path === '/index.html') {
      allow(request, 'GET');
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      response.end(webChat);
      return;
    }
    if (path === '/healthz') {
      allow(request, 'GET');
      const health = options.health ? await options.health() : { ok: true };
      // 503 only when this instance cannot answer at all; a platform that is off is reported, not fatal.
      const components = (health.components ?? {}) as Record<string, { state?: string }>;
      const allUp = Object.values(components).every((status) => status.state === 'up');
      const status = health.ok && allUp ? 'ok' : 'degraded';
      return sendJson(response, health.ok ? 200 : 503, { status, ...health });
    }
    if (path === '/metrics') {
      allow(request, 'GET');
      if (!options.metrics) throw new HttpError(404, 'not_found', 'Metrics are not enabled.');
      response.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      response.end(await options.metrics.registry.metrics());
      return;
    }
    if (path === '/v1/messages') {
      allow(request, 'POST');
      return answer(request, response);
    }
    throw new HttpError(404, 'not_found', `No route for ${request.method} ${path}.`);
  }

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'Send the message as JSON (content-type: application/json).',
      );
    }
    const body = parseMessage(await readBody(request, settings.maxBodyBytes, settings.bodyTimeoutMs));
    if (draining) {
      // The body was still arriving when shutdown began.
      response.setHeader('connection', 'close');
      throw new HttpError(503, 'shutting_down', 'The bot is restarting; please ask again in a moment.');
    }
    const conversationId = body.conversationId ?? randomUUID();
    const abort = new AbortController();
    const socket = request.socket;
    response.on('close', () => {
      if (!response.writableFinished) abort.abort(new Error('client disconnected'));
    });
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
    const started = performance.now();
    let start: (AgentEvent & { type: 'answer-start' }) | undefined;
    let streamed = '';
    let ended = false;
    const write = (name: string, payload: unknown) =>
      response.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
    const send = (event: AgentEvent) => {
      if (ended) return;
      const { type: name, ...data } = event;
      if (event.type === 'answer-start') start = event;
      else if (event.type === 'answer-delta') streamed += event.text;
      else if (event.type === 'answer-end') ended = true;
      write(name, name === 'answer-start' ? { ...data, conversationId } : data);
    };
    const cut = () => {
      if (ended || response.writableEnded) return;
      ended = true;
      const turnId = start?.turnId ?? randomUUID();
      const described = {
        turnId,
        intent: start?.intent ?? 'other',
        cache: start?.cache ?? 'bypass',
        ...(start ? { provider: start.provider } : {}),
      };
      if (!start) write('answer-start', { ...described, intentSource: 'rule', conversationId });
      // What the customer saw, with the markup it had opened closed (a cut bold, link or fence).
      const shown = balanceMarkdown(streamed).trimEnd();
      write('answer-end', {
        ...described,
        text: shown ? `${shown}\n\n${settings.shutdownNote}` : settings.shutdownNote,
        sources: [],
        degraded: 'shutdown',
        timings: { totalMs: Math.round(performance.now() - started) },
        usage: [],
        costUsd: 0,
      });
      abort.abort(new Error('shutting down'));
      response.end();
    };
    streams.add(cut);
    // While draining, a finished answer's connection closes instead of waiting for another request.
    response.once('finish', () => {
      if (draining) socket.end();
    });
    try {
      for await (const event of options.agent.handle(
        {
          platform: 'http',
          channelId: 'web',
          threadId: conversationId,
          messageId: randomUUID(),
          userId: body.userId,
          text: body.text,
        },
        { signal: abort.signal },
      )) {
        if (abort.signal.aborted) break;
        send(event);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        options.logger?.error({ err: toSupportBotError(error) }, 'answer stream failed');
        write('error', { code: 'internal', message: 'The answer failed.' });
      }
    } finally {
      streams.delete(cut);
      if (streams.size === 0) drained?.();
    }
    response.end();
  }

  async function shutdown(graceMs = defaultShutdownGraceMs): Promise<void> {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (streams.size > 0) {
      let grace: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        drained = resolve;
        grace = setTimeout(resolve, graceMs);
      });
      clearTimeout(grace);
    }
    if (streams.size > 0) options.logger?.info({ streams: streams.size }, 'answers cut short by shutdown');
    for (const cut of [...streams]) cut();
    server.closeIdleConnections();
    const flushed = setTimeout(() => server.closeAllConnections(), flushMs);
    await closed;
    clearTimeout(flushed);
  }

  return Object.assign(server, { shutdown, activeStreams: () => streams.size });
}

function allow(request: IncomingMessage, method: string): void {
  if (request.method !== method && !(method === 'GET' && request.method === 'HEAD')) {
    throw new HttpError(405, 'method_not_allowed', `Use ${method}.`);
  }
}

function parseMessage(raw: string): { conversationId?: string; userId: string; text: string } {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'invalid_json', 'The body is not valid JSON.');
  }
  const { conversationId, userId, text } = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_body', 'Expected a JSON object {conversationId?, userId, text}.');
  }
  if (typeof userId !== 'string' || userId.trim() === '' || userId.length > 200) {
    throw new HttpError(
      400,
      'invalid_user_id',
      '"userId" must be a non-empty string of at most 200 characters.',
    );
  }
  if (typeof text !== 'string') throw new HttpError(400, 'invalid_text', '"text" must be a string.');
  if (
    conversationId !== undefined &&
    (typeof conversationId !== 'string' || !/^[\w.:-]{1,128}$/.test(conversationId))
  ) {
    throw new HttpError(
      400,
      'invalid_conversation_id',
      '"conversationId" must be 1-128 letters, digits, "_", "-", "." or ":".',
    );
  }
  return { ...(conversationId ? { conversationId } : {}), userId, text };
}

function readBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      return reject(new HttpError(413, 'body_too_large', `The body is larger than ${limit} bytes.`));
    }
    const parts: Buffer[] = [];
    let size = 0;
    const fail = (error: HttpError) => {
      clearTimeout(timer);
      request.removeAllListeners('data');
      request.resume();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        fail(
          new HttpError(
            408,
            'body_timeout',
            `The body did not arrive within ${Math.round(timeoutMs / 1000)} s; send it in one go.`,
          ),
        ),
      timeoutMs,
    );
    request.on('data', (part: Buffer) => {
      size += part.length;
      if (size > limit) fail(new HttpError(413, 'body_too_large', `The body is larger than ${limit} bytes.`));
      else parts.push(part);
    });
    request.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The options that were given: an explicit `undefined` does not hide a default. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return void response.end();
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
