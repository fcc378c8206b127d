import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local, protocol-faithful stand-in for the OpenAI API (chat completions with streaming and usage,
 * embeddings, models) for tests and benchmarks: latency profiles per model and faults on demand.
 * It is not a model: answers are built deterministically from the passages in the prompt.
 */

/** How fast a model answers. */
export interface LatencyProfile {
  /** Time to the first token, in ms. */
  ttftMs: number;
  /** Tokens per second after the first; 0 sends the whole answer at once. */
  tokensPerSecond: number;
  /** Length of a generated answer, in tokens (classification answers are short JSON). */
  answerTokens: number;
}

/** Why a completion stopped, as the API reports it. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/**
 * A failure the next matching requests meet:
 * - `status`: that HTTP status with an error body;
 * - `rate-limit`: 429 `rate_limit_exceeded`, with `Retry-After` when `retryAfterSeconds` is given;
 * - `quota`: 429 `insufficient_quota` (no Retry-After: waiting does not help);
 * - `hang`: no response until the client gives up;
 * - `cut-stream`: the socket dropped after that many tokens;
 * - `finish`: the answer ends after that many tokens with this finish_reason (streamed or not);
 * - `stream-error`: after that many tokens, an error event (`data: {"error": {...}}`) ends the stream;
 * - `no-finish`: after that many tokens the stream ends cleanly, without finish_reason or `[DONE]`.
 */
export type Fault =
  | { kind: 'status'; status: number; message?: string }
  | { kind: 'rate-limit'; retryAfterSeconds?: number }
  | { kind: 'quota' }
  | { kind: 'hang' }
  | { kind: 'cut-stream'; afterTokens: number }
  | { kind: 'finish'; reason: FinishReason; afterTokens: number }
  | { kind: 'stream-error'; afterTokens: number; message?: string; type?: string; code?: string | null }
  | { kind: 'no-finish'; afterTokens: number };

/** How a stream (or completion) ends early, from a fault. */
type Ending = Extract<Fault, { kind: 'cut-stream' | 'finish' | 'stream-error' | 'no-finish' }>;

/** Which requests a fault applies to, and how many times. */
export interface FaultScope {
  /** @defaultValue 1 */
  times?: number;
  /** e.g. `/v1/chat/completions`; all paths when absent. */
  path?: string;
  /** Only requests for this model. */
  model?: string;
}

/** A chat message as the API receives it. */
export interface ChatMessage {
  role: string;
  content: string | { type: string; text?: string }[] | null;
}

/** The parts of a chat-completion request the fake reads. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: { type: string; json_schema?: { name: string; schema?: unknown; strict?: boolean } };
  tools?: { type: string; function?: { name: string; parameters?: unknown } }[];
  tool_choice?: string | { type: string; function?: { name: string } };
  max_tokens?: number;
  max_completion_tokens?: number;
}

/** One request as received (the API key is not kept). */
export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

/** Options of {@link startFakeOpenAI}. */
export interface FakeOpenAIOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** The default latency profile. */
  profile?: Partial<LatencyProfile>;
  /** Profiles by model name, over the default. */
  profiles?: Record<string, Partial<LatencyProfile>>;
  /** Builds the answer text; defaults to {@link defaultRespond}. */
  respond?: (request: ChatRequest) => string;
  /**
   * Whether a model takes `response_format: json_schema`; the others answer 400 as the API does.
   * @defaultValue {@link supportsStructuredOutputs}
   */
  structuredOutputs?: (model: string) => boolean;
}

/** Counters of what the fake served. */
export interface FakeOpenAIStats {
  requests: Record<string, number>;
  byModel: Record<string, number>;
  promptTokens: number;
  completionTokens: number;
  /** Chat tokens served, by model: what a bill would charge. */
  tokensByModel: Record<string, { promptTokens: number; completionTokens: number }>;
}

/** A running fake. */
export interface FakeOpenAI {
  /** Base URL for the `openai` client, ending in `/v1`. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  setProfile(profile: Partial<LatencyProfile>, model?: string): void;
  injectFault(fault: Fault, scope?: FaultScope): void;
  clearFaults(): void;
  stats(): FakeOpenAIStats;
  /** Streams and hung requests still open. */
  openResponses(): number;
  /** Forgets requests, faults, counters and profile changes. */
  reset(): void;
  close(): Promise<void>;
}

const defaultProfile: LatencyProfile = { ttftMs: 0, tokensPerSecond: 0, answerTokens: 300 };

/**
 * The API's answer to `json_schema` on a model without Structured Outputs: the older models
 * (gpt-3.5-turbo, gpt-4, gpt-4-turbo and their snapshots, gpt-4o-2024-05-13) refuse it.
 */
export function supportsStructuredOutputs(model: string): boolean {
  return !/^(?:gpt-3\.5-turbo|gpt-4(?:-(?!o)|$)|gpt-4o-2024-05-13$)/.test(model);
}

export const intentNames = [
  'greeting',
  'policy_question',
  'product_inquiry',
  'order_status',
  'order_placement',
  'refund_request',
  'complaint',
  'other',
] as const;

/** Starts the fake on 127.0.0.1. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const respond = options.respond ?? defaultRespond;
  const structuredOutputs = options.structuredOutputs ?? supportsStructuredOutputs;
  let profiles = initialProfiles();
  let faults: (FaultScope & { fault: Fault; remaining: number })[] = [];
  let stats = emptyStats();
  const countTokens = (model: string, promptTokens: number, completionTokens: number) => {
    stats.promptTokens += promptTokens;
    stats.completionTokens += completionTokens;
    const served = stats.tokensByModel[model] ?? { promptTokens: 0, completionTokens: 0 };
    served.promptTokens += promptTokens;
    served.completionTokens += completionTokens;
    stats.tokensByModel[model] = served;
  };
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const open = new Set<() => void>();

  function initialProfiles() {
    const byModel = new Map<string, LatencyProfile>();
    for (const [model, profile] of Object.entries(options.profiles ?? {}))
      byModel.set(model, { ...defaultProfile, ...options.profile, ...profile });
    return { base: { ...defaultProfile, ...options.profile }, byModel };
  }
  const profileFor = (model: string) => profiles.byModel.get(model) ?? profiles.base;

  function takeFault(path: string, model: string | undefined): Fault | undefined {
    const rule = faults.find(
      (candidate) =>
        (!candidate.path || candidate.path === path) && (!candidate.model || candidate.model === model),
    );
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) faults = faults.filter((candidate) => candidate !== rule);
    return rule.fault;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const raw = await readBody(request);
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      return sendError(
        response,
        400,
        'We could not parse the JSON body of your request.',
        'invalid_request_error',
      );
    }
    const { authorization: _key, ...headers } = request.headers;
    requests.push({ method: request.method ?? 'GET', path, body, headers, at: Date.now() });
    stats.requests[path] = (stats.requests[path] ?? 0) + 1;

    if (path.startsWith('/_fake/')) return control(path, body, response);
    if (!/^Bearer \S+/.test(request.headers.authorization ?? '')) {
      return sendError(
        response,
        401,
        'You did not provide an API key.',
        'invalid_request_error',
        'invalid_api_key',
      );
    }
    const model = (body as { model?: unknown } | undefined)?.model;
    if (typeof model === 'string') stats.byModel[model] = (stats.byModel[model] ?? 0) + 1;

    const fault = takeFault(path, typeof model === 'string' ? model : undefined);
    if (fault?.kind === 'status') {
      return sendError(response, fault.status, fault.message ?? 'The server had an error.', 'server_error');
    }
    if (fault?.kind === 'rate-limit') {
      // The spec's only rate-limit header; "may be omitted for 429 responses that require user action".
      if (fault.retryAfterSeconds !== undefined)
        response.setHeader('retry-after', String(fault.retryAfterSeconds));
      return sendError(
        response,
        429,
        `Rate limit reached for ${typeof model === 'string' ? model : 'requests'} on requests per min (RPM). Please try again in ${fault.retryAfterSeconds ?? 1}s.`,
        'requests',
        'rate_limit_exceeded',
      );
    }
    if (fault?.kind === 'quota') {
      return sendError(
        response,
        429,
        'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
        'insufficient_quota',
        'insufficient_quota',
      );
    }
    if (fault?.kind === 'hang') {
      await new Promise<void>((resolve) => {
        const release = () => {
          open.delete(release);
          resolve();
        };
        open.add(release);
        response.once('close', release);
      });
      return;
    }

    if (request.method === 'GET' && path === '/v1/models') {
      return sendJson(response, 200, {
        object: 'list',
        data: ['gpt-3.5-turbo', 'gpt-4-turbo', 'text-embedding-3-small'].map((id) => ({
          id,
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'fake',
        })),
      });
    }
    if (request.method === 'POST' && path === '/v1/embeddings') return embeddings(body, response);
    if (request.method === 'POST' && path === '/v1/chat/completions') {
      const ending =
        fault?.kind === 'cut-stream' ||
        fault?.kind === 'finish' ||
        fault?.kind === 'stream-error' ||
        fault?.kind === 'no-finish'
          ? fault
          : undefined;
      return chat(body, response, request, ending);
    }
    return sendError(
      response,
      404,
      `Unknown request URL: ${request.method} ${path}.`,
      'invalid_request_error',
    );
  }

  function control(path: string, body: unknown, response: ServerResponse) {
    const input = (body ?? {}) as {
      fault?: Fault;
      profile?: Partial<LatencyProfile>;
      model?: string;
    } & FaultScope;
    if (path === '/_fake/faults' && input.fault) fake.injectFault(input.fault, input);
    else if (path === '/_fake/profile' && input.profile) fake.setProfile(input.profile, input.model);
    else if (path === '/_fake/reset') fake.reset();
    else if (path === '/_fake/requests') return sendJson(response, 200, requests);
    else if (path === '/_fake/stats') return sendJson(response, 200, stats);
    else return sendError(response, 400, `Unknown control request ${path}`, 'invalid_request_error');
    return sendJson(response, 200, { ok: true });
  }

  function embeddings(body: unknown, response: ServerResponse) {
    const input = body as {
      model?: unknown;
      input?: unknown;
      encoding_format?: unknown;
      dimensions?: unknown;
    };
    const texts = typeof input?.input === 'string' ? [input.input] : input?.input;
    if (typeof input?.model !== 'string' || !Array.isArray(texts) || texts.length === 0) {
      return sendError(
        response,
        400,
        "'model' and a non-empty 'input' are required.",
        'invalid_request_error',
      );
    }
    const dimensions = typeof input.dimensions === 'number' ? input.dimensions : 1536;
    const base64 = input.encoding_format !== 'float';
    let promptTokens = 0;
    const data = texts.map((text, index) => {
      const value = String(text);
      promptTokens += estimateTokens(value);
      const vector = hashVector(value, dimensions);
      const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    stats.promptTokens += promptTokens;
    return sendJson(response, 200, {
      object: 'list',
      data,
      model: input.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }

  async function chat(body: unknown, response: ServerResponse, request: IncomingMessage, ending?: Ending) {
    const input = body as ChatRequest | undefined;
    if (typeof input?.model !== 'string' || !Array.isArray(input.messages) || input.messages.length === 0) {
      return sendError(
        response,
        400,
        "'model' and a non-empty 'messages' are required.",
        'invalid_request_error',
      );
    }
    const format = input.response_format?.type;
    if (format === 'json_schema' && !structuredOutputs(input.model)) {
      return sendError(
        response,
        400,
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model. Learn more about supported models at the Structured Outputs guide: https://platform.openai.com/docs/guides/structured-outputs",
        'invalid_request_error',
        null,
        'response_format',
      );
    }
    if (format === 'json_object' && !input.messages.some((message) => /json/i.test(contentOf(message)))) {
      return sendError(
        response,
        400,
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
        'invalid_request_error',
        null,
        'messages',
      );
    }
    const profile = profileFor(input.model);
    const limit = input.max_completion_tokens ?? input.max_tokens;
    const tool = calledTool(input);
    const text = respond(input);
    let tokens = splitTokens(text);
    if (!isClassification(input)) tokens = tokens.slice(0, profile.answerTokens);
    // What the model stops with: a fault's reason, else `length` when the token limit cut it.
    let finishReason: FinishReason = tool && !tool.named ? 'tool_calls' : 'stop';
    if (limit !== undefined && tokens.length > limit) {
      tokens = tokens.slice(0, limit);
      finishReason = 'length';
    }
    if (ending?.kind === 'finish') {
      tokens = tokens.slice(0, ending.afterTokens);
      finishReason = ending.reason;
    }
    const promptTokens = input.messages.reduce(
      (sum, message) => sum + estimateTokens(contentOf(message)) + 4,
      0,
    );
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: tokens.length,
      total_tokens: promptTokens + tokens.length,
    };
    const id = `chatcmpl-fake${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    let closed = false;
    const stop = () => {
      closed = true;
    };
    response.once('close', stop);
    const wait = (ms: number) =>
      new Promise<void>((resolve) => {
        if (ms <= 0 || closed) return resolve();
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          open.delete(done);
          response.off('close', done);
          resolve();
        }
        open.add(done);
        response.once('close', done);
      });

    if (!input.stream) {
      await wait(
        profile.ttftMs + (profile.tokensPerSecond > 0 ? (tokens.length / profile.tokensPerSecond) * 1000 : 0),
      );
      if (closed) return;
      countTokens(input.model, usage.prompt_tokens, usage.completion_tokens);
      const message = tool
        ? {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: `call_fake${requests.length}`,
                type: 'function',
                function: { name: tool.name, arguments: tokens.join('') },
              },
            ],
          }
        : { role: 'assistant', content: tokens.join(''), refusal: null };
      return sendJson(response, 200, {
        id,
        object: 'chat.completion',
        created,
        model: input.model,
        choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
        usage,
      });
    }

    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const chunk = (delta: object, finishReason: string | null = null) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: input.model,
        choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
        usage: null,
      })}\n\n`;
    await wait(profile.ttftMs);
    if (closed) return;
    response.write(chunk({ role: 'assistant', content: '' }));
    const started = Date.now();
    const stopAfter =
      ending && ending.kind !== 'finish' ? Math.min(ending.afterTokens, tokens.length) : undefined;
    let sent = 0;
    for (;;) {
      if (closed) return;
      if (sent === stopAfter) {
        countTokens(input.model, usage.prompt_tokens, sent);
        if (ending?.kind === 'cut-stream') request.socket.destroy();
        else if (ending?.kind === 'no-finish') response.end();
        else if (ending?.kind === 'stream-error') {
          // As the API reports a failure after the stream has begun: an Error object in a data line.
          const error = {
            message:
              ending.message ?? 'The server had an error while processing your request. Sorry about that!',
            type: ending.type ?? 'server_error',
            param: null,
            code: ending.code ?? null,
          };
          response.end(`data: ${JSON.stringify({ error })}\n\n`);
        }
        return;
      }
      if (sent >= tokens.length) break;
      const due =
        profile.tokensPerSecond > 0
          ? Math.max(1, Math.floor(((Date.now() - started) / 1000) * profile.tokensPerSecond) + 1)
          : tokens.length;
      let batch = '';
      while (sent < Math.min(due, tokens.length, stopAfter ?? Infinity)) {
        batch += chunk({ content: tokens[sent] });
        sent++;
      }
      if (batch) response.write(batch);
      if (sent === stopAfter) {
        // What was written reaches the client before its socket drops.
        if (ending?.kind === 'cut-stream') await wait(10);
      } else if (sent < tokens.length) await wait(Math.max(10, 1000 / Math.max(profile.tokensPerSecond, 1)));
    }
    if (closed) return;
    countTokens(input.model, usage.prompt_tokens, usage.completion_tokens);
    let tail = chunk({}, finishReason);
    if (input.stream_options?.include_usage) {
      tail += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: input.model, choices: [], usage })}\n\n`;
    }
    response.end(`${tail}data: [DONE]\n\n`);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, String(error), 'server_error');
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const fake: FakeOpenAI = {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    setProfile(profile, model) {
      if (model) profiles.byModel.set(model, { ...profileFor(model), ...profile });
      else {
        profiles.base = { ...profiles.base, ...profile };
        for (const [name, existing] of profiles.byModel)
          profiles.byModel.set(name, { ...existing, ...profile });
      }
    },
    injectFault(fault, scope = {}) {
      faults.push({ ...scope, fault, remaining: scope.times ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    stats: () => structuredClone(stats),
    openResponses: () => open.size,
    reset() {
      requests.length = 0;
      faults = [];
      stats = emptyStats();
      profiles = initialProfiles();
    },
    async close() {
      for (const release of [...open]) release();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  return fake;
}

function emptyStats(): FakeOpenAIStats {
  return { requests: {}, byModel: {}, promptTokens: 0, completionTokens: 0, tokensByModel: {} };
}

function contentOf(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  return (message.content ?? []).map((part) => part.text ?? '').join('');
}

/** The function a request makes the model call: named in `tool_choice`, or its only tool when required. */
function calledTool(request: ChatRequest): { name: string; named: boolean } | undefined {
  const functions = (request.tools ?? []).filter((tool) => tool.type === 'function' && tool.function);
  const choice = request.tool_choice;
  if (typeof choice === 'object' && choice.type === 'function' && choice.function) {
    return functions.some((tool) => tool.function?.name === choice.function?.name)
      ? { name: choice.function.name, named: true }
      : undefined;
  }
  if (choice === 'none' || functions.length === 0 || !isClassification(request)) return undefined;
  const only = functions[0]?.function?.name;
  return only ? { name: only, named: false } : undefined;
}

export function isClassification(request: ChatRequest): boolean {
  if (request.response_format?.type === 'json_schema' || request.response_format?.type === 'json_object')
    return true;
  const system = request.messages.find((message) => message.role === 'system');
  return system !== undefined && /\bintent\b/i.test(contentOf(system)) && /\bjson\b/i.test(contentOf(system));
}

/**
 * The fake's stand-in for a model: a keyword-rule intent as JSON for classification requests;
 * otherwise the prompt's sentences that share the most words with the question, in order, so an
 * answer is grounded in the passages it was given.
 */
export function defaultRespond(request: ChatRequest): string {
  const question = contentOf(
    [...request.messages].reverse().find((message) => message.role === 'user') ??
      (request.messages[0] as ChatMessage),
  );
  if (isClassification(request)) {
    return JSON.stringify({ intent: keywordIntent(question), confidence: 0.9 });
  }
  // Numbered passages ("[1] …") are the grounding; the instructions around them are not answer text.
  const context = request.messages
    .filter((message) => message.role === 'system')
    .map((message) => {
      const text = contentOf(message);
      const passages = text.indexOf('\n[1] ');
      return passages === -1 ? text : text.slice(passages);
    })
    .join('\n');
  const sentences = (context.match(/[^.!?\n]+[.!?]/g) ?? [])
    .map((sentence) => sentence.trim())
    .filter((s) => s.length > 20);
  const questionWords = new Set(words(question));
  const ranked = sentences
    .map((sentence, index) => ({
      sentence,
      index,
      overlap: words(sentence).filter((word) => questionWords.has(word)).length,
    }))
    .filter((entry) => entry.overlap > 0)
    .sort((left, right) => right.overlap - left.overlap || left.index - right.index)
    .slice(0, 6)
    .sort((left, right) => left.index - right.index);
  if (ranked.length === 0) return "I'm sorry, I don't have information about that in our help center.";
  const body = ranked.map((entry) => entry.sentence).join(' ');
  // Long enough to fill the latency profile's answer length, as a real model's answer would be.
  const filler = sentences.filter((sentence) => !ranked.some((entry) => entry.sentence === sentence));
  return filler.length > 0 ? `${body}\n\n${filler.join(' ')}` : body;
}

function words(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]{4,}/g) ?? []).filter(
    (word) => !['what', 'does', 'have', 'with', 'your', 'that', 'this', 'when', 'from'].includes(word),
  );
}

function keywordIntent(text: string): (typeof intentNames)[number] {
  const lower = text.toLowerCase();
  if (/\b(angry|furious|terrible|worst|manager|human|unacceptable|ridiculous)\b/.test(lower))
    return 'complaint';
  if (/\b(my|our)\b.*\b(refund|money back)\b|\brefund (for|my)\b/.test(lower)) return 'refund_request';
  if (/\b(where is|track|hasn'?t arrived|my (order|package|parcel))\b/.test(lower)) return 'order_status';
  if (/\b(buy|place an order|cancel my order|add to my order|i want to order)\b/.test(lower))
    return 'order_placement';
  if (/^(hi|hello|hey|thanks|thank you|good (morning|evening))\b/.test(lower.trim())) return 'greeting';
  if (
    /\b(tent|bag|boots?|jacket|filter|stove|headlamp|poles?|cooler|hammock|skillet|backpack|weigh|size)\b/.test(
      lower,
    )
  )
    return 'product_inquiry';
  if (
    /\b(return|refund|ship|shipping|deliver|pay|warranty|account|password|policy|how long|how do)\b/.test(
      lower,
    )
  )
    return 'policy_question';
  return 'other';
}

/** Splits text into model-like tokens: words with their leading space, and punctuation. */
function splitTokens(text: string): string[] {
  return text.match(/\s*[\p{L}\p{N}']+|\s*[^\s\p{L}\p{N}]|\s+$/gu) ?? [];
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function hashVector(text: string, dimensions: number): number[] {
  let state = 0x811c9dc5;
  for (let index = 0; index < text.length; index++)
    state = Math.imul(state ^ text.charCodeAt(index), 0x01000193);
  const vector: number[] = [];
  let norm = 0;
  for (let index = 0; index < dimensions; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = ((state >>> 0) / 0xffffffff) * 2 - 1;
    vector.push(value);
    norm += value * value;
  }
  const scale = 1 / Math.sqrt(norm || 1);
  // Rounded through float32 so the base64 and float encodings decode to the same numbers.
  return vector.map((value) => Math.fround(value * scale));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
) {
  sendJson(response, status, { error: { message, type, param, code } });
}
