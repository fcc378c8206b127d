import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { AgentEvent, SupportAgent } from '../../src/agent/support-agent.ts';
import { projectRoot } from '../../src/config/load.ts';
import { toSupportBotError } from '../../src/errors.ts';
import type { LoggerLike } from '../../src/observability/logger-like.ts';
import type { Metrics } from '../../src/observability/metrics.ts';

/** Options of {@link createHttpAdapter}. */
export interface HttpAdapterOptions {
  agent: Pick<SupportAgent, 'handle'>;
  metrics?: Metrics;
  logger?: LoggerLike;
  /** Larger bodies get 413. @defaultValue 65_536 */
  maxBodyBytes?: number;
  /** Reports whether the parts the bot needs are up. */
  health?: () => Promise<{ ok: boolean; [detail: string]: unknown }>;
}

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
export function createHttpAdapter(options: HttpAdapterOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof HttpError)
        return sendJson(response, error.status, { error: { code: error.code, message: error.message } });
      const wrapped = toSupportBotError(error);
      options.logger?.error({ err: wrapped }, 'http request failed');
      if (!response.headersSent)
        sendJson(response, 500, { error: { code: 'internal', message: 'Something went wrong.' } });
      else response.end();
    });
  });
  // Streams stay open for as long as an answer takes.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
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
    const body = parseMessage(await readBody(request, maxBodyBytes));
    const conversationId = body.conversationId ?? randomUUID();
    const abort = new AbortController();
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
    const send = (event: AgentEvent) => {
      const { type: name, ...data } = event;
      const payload = name === 'answer-start' ? { ...data, conversationId } : data;
      response.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
    };
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
        response.write(
          `event: error\ndata: ${JSON.stringify({ code: 'internal', message: 'The answer failed.' })}\n\n`,
        );
      }
    }
    response.end();
  }

  return server;
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

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      return reject(new HttpError(413, 'body_too_large', `The body is larger than ${limit} bytes.`));
    }
    const parts: Buffer[] = [];
    let size = 0;
    request.on('data', (part: Buffer) => {
      size += part.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(new HttpError(413, 'body_too_large', `The body is larger than ${limit} bytes.`));
      } else parts.push(part);
    });
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
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
