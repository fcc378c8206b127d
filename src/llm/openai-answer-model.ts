import type OpenAI from 'openai';
import { ModelError } from '../errors.ts';
import {
  type AnswerEvent,
  type AnswerModel,
  type AnswerRequest,
  type FinishReason,
  formatPassages,
} from './answer-model.ts';
import { isQuotaExhausted } from './openai-fetch.ts';

/** Options of {@link OpenAIAnswerModel}. */
export interface OpenAIAnswerModelOptions {
  /** A client with its timeout and bounded retries set (retries happen before the first token only). */
  client: OpenAI;
  /** @defaultValue 'gpt-4-turbo' */
  model?: string;
  /** @defaultValue 0.2 */
  temperature?: number;
  /** @defaultValue 700 */
  maxTokens?: number;
  /** A stream silent for this long is abandoned with a {@link ModelError}. @defaultValue 20_000 */
  idleTimeoutMs?: number;
  /**
   * The first token's whole budget, the SDK's retries included: past it the request is abandoned
   * with a {@link ModelError}, so a model that hangs costs one bounded wait. @defaultValue 10_000
   */
  firstTokenTimeoutMs?: number;
}

/**
 * Answers with the strong OpenAI model, streamed token by token. The SDK retries a failed request
 * (timeouts, 429 honouring Retry-After, 5xx) before any token arrives, except a 429 for an exhausted
 * quota (see {@link createOpenAIFetch}); once text has reached the customer nothing is retried, and
 * a stream that stalls or breaks throws so the caller can finish the reply honestly. The end event
 * carries the model's own finish reason (or `null` when the stream ended without one): only `stop`
 * is a complete answer.
 */
export class OpenAIAnswerModel implements AnswerModel {
  readonly id: string;
  readonly kind = 'openai';
  readonly #client: OpenAI;
  readonly #model: string;
  readonly #temperature: number;
  readonly #maxTokens: number;
  readonly #idleTimeoutMs: number;
  readonly #firstTokenTimeoutMs: number;

  constructor(options: OpenAIAnswerModelOptions) {
    this.#client = options.client;
    this.#model = options.model ?? 'gpt-4-turbo';
    this.#temperature = options.temperature ?? 0.2;
    this.#maxTokens = options.maxTokens ?? 700;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 20_000;
    this.#firstTokenTimeoutMs = options.firstTokenTimeoutMs ?? 10_000;
    this.id = `openai:${this.#model}`;
  }

  async *streamAnswer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    const idle = new AbortController();
    const signal = request.signal ? AbortSignal.any([request.signal, idle.signal]) : idle.signal;
    let timer: NodeJS.Timeout | undefined;
    // Which deadline ended the stream, for the error: the first token's or the idle one.
    let expired: number | undefined;
    const expire = (ms: number) => () => {
      expired = ms;
      idle.abort();
    };
    let firstToken: NodeJS.Timeout | undefined = setTimeout(
      expire(this.#firstTokenTimeoutMs),
      this.#firstTokenTimeoutMs,
    );
    const armIdleTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(expire(this.#idleTimeoutMs), this.#idleTimeoutMs);
    };

    const messages: OpenAI.ChatCompletionMessageParam[] = [
      {
        role: 'system',
        content: `${request.systemPrompt}\n\nPassages from the knowledge base:\n\n${formatPassages(request.passages) || '(none found)'}`,
      },
    ];
    for (const turn of request.history) {
      messages.push({ role: 'user', content: turn.question }, { role: 'assistant', content: turn.answer });
    }
    messages.push({ role: 'user', content: request.question });

    let end: AnswerEvent & { type: 'end' } = { type: 'end', finishReason: null };
    try {
      armIdleTimer();
      const stream = await this.#client.chat.completions.create(
        {
          model: this.#model,
          messages,
          temperature: this.#temperature,
          max_tokens: this.#maxTokens,
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
      for await (const chunk of stream) {
        armIdleTimer();
        const choice = chunk.choices[0];
        const text = choice?.delta.content;
        if (text) {
          clearTimeout(firstToken);
          firstToken = undefined;
          yield { type: 'delta', text };
        }
        if (choice?.finish_reason) end = { ...end, finishReason: choice.finish_reason as FinishReason };
        if (chunk.usage) {
          end = {
            ...end,
            usage: {
              model: this.#model,
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
            },
          };
        }
      }
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      throw toModelError(error, this.#model, idle.signal.aborted ? expired : undefined);
    } finally {
      clearTimeout(timer);
      clearTimeout(firstToken);
    }
    // The SDK ends the loop quietly when its signal aborts mid-stream.
    if (request.signal?.aborted) throw request.signal.reason;
    if (idle.signal.aborted) throw toModelError(undefined, this.#model, expired);
    yield end;
  }
}

/**
 * Wraps an SDK error once, keeping status and retryability: timeouts, connection errors, 408, 409,
 * 429 and 5xx may succeed when tried again; a 429 for an exhausted quota (`insufficient_quota`)
 * will not until someone pays.
 *
 * @see https://platform.openai.com/docs/guides/error-codes#api-errors
 */
export function toModelError(error: unknown, model: string, idleTimeoutMs?: number): ModelError {
  if (error instanceof ModelError) return error;
  if (idleTimeoutMs !== undefined) {
    return new ModelError(`${model} sent nothing for ${idleTimeoutMs} ms; stream abandoned`, {
      model,
      retryable: true,
      cause: error,
    });
  }
  const status = (error as { status?: unknown } | undefined)?.status;
  const reason = error instanceof Error ? error.message : String(error);
  return new ModelError(`${model} failed: ${reason}`, {
    model,
    ...(typeof status === 'number' ? { status } : {}),
    retryable:
      !isQuotaExhausted(error) &&
      (typeof status !== 'number' || status === 408 || status === 409 || status === 429 || status >= 500),
    cause: error,
  });
}
