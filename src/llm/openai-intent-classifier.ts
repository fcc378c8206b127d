import type OpenAI from 'openai';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { TokenUsage } from './answer-model.ts';
import {
  type Intent,
  type IntentClassifier,
  type IntentDecision,
  type IntentDefinition,
  intentNames,
} from './intents.ts';
import { toModelError } from './openai-answer-model.ts';

/**
 * How the cheap model is asked for its JSON: `json_schema` (Structured Outputs), `json_object`
 * (JSON mode), `tool` (a forced function call), `text` (the prompt alone), or `auto`: per model, see
 * {@link defaultClassifierFormat}.
 */
export type ClassifierFormat = 'auto' | 'json_schema' | 'json_object' | 'tool' | 'text';

/** Options of {@link OpenAIIntentClassifier}. */
export interface OpenAIIntentClassifierOptions {
  client: OpenAI;
  definitions: readonly IntentDefinition[];
  /** @defaultValue 'gpt-3.5-turbo' */
  model?: string;
  /** @defaultValue 'auto' */
  format?: ClassifierFormat;
  /** @defaultValue 0.3 */
  temperature?: number;
  /** @defaultValue 30_000 */
  timeoutMs?: number;
  /** Receives the tokens of every call, for cost accounting. */
  onUsage?: (usage: TokenUsage) => void;
  /** Told (once) when the model refuses a format and the classifier steps down. */
  logger?: LoggerLike;
}

type RequestFormat = Exclude<ClassifierFormat, 'auto'>;

/** Where each format goes when the model refuses it with a 400. */
const stepDown: Record<RequestFormat, RequestFormat | undefined> = {
  json_schema: 'json_object',
  json_object: 'text',
  tool: 'text',
  text: undefined,
};

const toolName = 'classify_intent';

const decisionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['intent', 'confidence'],
  properties: {
    intent: { type: 'string', enum: [...intentNames] },
    confidence: { type: 'number' },
  },
} as const;

/**
 * The format `auto` starts with for a model: `json_schema` where Structured Outputs exist
 * (gpt-4o-mini, gpt-4o and its snapshots from 2024-08-06, gpt-4.1, gpt-5, the o1/o3/o4 families),
 * `json_object` for the older models (gpt-3.5-turbo, gpt-4, gpt-4-turbo, gpt-4o-2024-05-13), which
 * answer `json_schema` with a 400. A name it does not know (another OpenAI-compatible server) starts
 * with `json_schema`; a refusal steps it down.
 *
 * @see https://platform.openai.com/docs/guides/structured-outputs#supported-models
 */
export function defaultClassifierFormat(model: string): 'json_schema' | 'json_object' {
  const name = model.toLowerCase().replace(/^.*\//, '');
  const snapshot = /^gpt-4o-(\d{4})-(\d{2})-(\d{2})$/.exec(name);
  if (snapshot)
    return `${snapshot[1]}${snapshot[2]}${snapshot[3]}` >= '20240806' ? 'json_schema' : 'json_object';
  if (/^(?:gpt-3\.5-turbo|gpt-4)(?:-|$)/.test(name)) return 'json_object';
  return 'json_schema';
}

/**
 * Classifies with the cheap model, asking for JSON (`{"intent","confidence"}`) in the strictest
 * format the model accepts. When the model refuses a format (a 400 about `response_format` or the
 * tools), the classifier steps down (json_schema → json_object → text; tool → text), remembers
 * that for the rest of the process, logs it once and asks again at once. The answer is read
 * tolerantly in every format; one that is not one of the eight intents counts as `other`.
 */
export class OpenAIIntentClassifier implements IntentClassifier {
  readonly #options: OpenAIIntentClassifierOptions;
  readonly #model: string;
  readonly #systemPrompt: string;
  #format: RequestFormat;

  constructor(options: OpenAIIntentClassifierOptions) {
    this.#options = options;
    this.#model = options.model ?? 'gpt-3.5-turbo';
    const format = options.format ?? 'auto';
    this.#format = format === 'auto' ? defaultClassifierFormat(this.#model) : format;
    const lines = options.definitions.map((definition) => `- ${definition.name}: ${definition.description}`);
    // JSON mode refuses a request whose messages do not say "json": this prompt does.
    this.#systemPrompt = [
      "Classify the intent of a customer's message to an online store's support chat.",
      'Intents:',
      ...lines,
      'Angry messages, or asking for a human or a manager, are complaint even when money is mentioned.',
      'Answer with JSON only: {"intent": one of the names above, "confidence": a number from 0 to 1}.',
    ].join('\n');
  }

  /** The format the next request uses (after any step-down). */
  get format(): RequestFormat {
    return this.#format;
  }

  async classify(text: string, options: { signal?: AbortSignal } = {}): Promise<IntentDecision> {
    for (;;) {
      const format = this.#format;
      try {
        return await this.#ask(text, format, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const next = stepDown[format];
        if (!next || !refusesFormat(error, format)) throw toModelError(error, this.#model);
        // Several requests may meet the same refusal at once: step down (and say so) once.
        if (this.#format === format) {
          this.#format = next;
          this.#options.logger?.info(
            { model: this.#model, refused: format, now: next, reason: (error as Error).message },
            `intent model ${this.#model} refused the ${format} format; asking with ${next} from now on`,
          );
        }
      }
    }
  }

  async #ask(text: string, format: RequestFormat, signal: AbortSignal | undefined): Promise<IntentDecision> {
    const { client, temperature = 0.3, timeoutMs = 30_000 } = this.#options;
    const completion = await client.chat.completions.create(
      {
        model: this.#model,
        temperature,
        max_tokens: 40,
        messages: [
          { role: 'system', content: this.#systemPrompt },
          { role: 'user', content: text.slice(0, 2_000) },
        ],
        ...formatParameters(format),
      },
      { timeout: timeoutMs, ...(signal ? { signal } : {}) },
    );
    if (completion.usage) {
      this.#options.onUsage?.({
        model: this.#model,
        promptTokens: completion.usage.prompt_tokens,
        completionTokens: completion.usage.completion_tokens,
      });
    }
    const message = completion.choices[0]?.message;
    const toolCall = message?.tool_calls?.find((call) => call.type === 'function');
    const answer = toolCall?.type === 'function' ? toolCall.function.arguments : '';
    return parseDecision(answer || message?.content || '');
  }
}

function formatParameters(
  format: RequestFormat,
): Pick<OpenAI.ChatCompletionCreateParamsNonStreaming, 'response_format' | 'tools' | 'tool_choice'> {
  switch (format) {
    case 'json_schema':
      return {
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'intent', strict: true, schema: decisionSchema },
        },
      };
    case 'json_object':
      return { response_format: { type: 'json_object' } };
    case 'tool':
      // No `strict`: older models call functions but have no Structured Outputs.
      return {
        tools: [
          {
            type: 'function',
            function: {
              name: toolName,
              description: "Records the intent of the customer's message.",
              parameters: decisionSchema,
            },
          },
        ],
        tool_choice: { type: 'function', function: { name: toolName } },
      };
    case 'text':
      return {};
  }
}

/** A 400 that names the format's own parameter: the model does not take it. */
function refusesFormat(error: unknown, format: RequestFormat): boolean {
  const { status, param, message } = (error ?? {}) as {
    status?: unknown;
    param?: unknown;
    message?: unknown;
  };
  if (status !== 400) return false;
  const names = format === 'tool' ? ['tools', 'tool_choice'] : ['response_format'];
  return (
    (typeof param === 'string' && names.some((name) => param.startsWith(name))) ||
    (typeof message === 'string' && names.some((name) => message.includes(name)))
  );
}

/**
 * Reads `{"intent", "confidence"}` from whatever the model wrote: bare JSON, JSON in a code fence
 * or in a sentence, or only an intent's name.
 */
export function parseDecision(content: string): IntentDecision {
  const parsed = parseObject(content);
  const named = typeof parsed?.intent === 'string' ? parsed.intent : content;
  const intent = findIntent(named) ?? 'other';
  const confidence =
    typeof parsed?.confidence === 'number'
      ? Math.min(1, Math.max(0, parsed.confidence))
      : typeof parsed?.confidence === 'string' && Number.isFinite(Number(parsed.confidence))
        ? Math.min(1, Math.max(0, Number(parsed.confidence)))
        : 0.5;
  return { intent, confidence, source: 'model' };
}

function parseObject(content: string): { intent?: unknown; confidence?: unknown } | undefined {
  const candidates = [
    content.trim().replace(/^```(?:json)?\s*|\s*```$/g, ''),
    /\{[\s\S]*\}/.exec(content)?.[0],
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      const value: unknown = JSON.parse(candidate);
      if (value && typeof value === 'object') return value as { intent?: unknown; confidence?: unknown };
    } catch {
      // Not JSON as it stands; try the next reading.
    }
  }
  return undefined;
}

function findIntent(text: string): Intent | undefined {
  const lower = text.toLowerCase();
  const exact = intentNames.find(
    (name) =>
      name ===
      lower
        .trim()
        .replace(/[\s-]+/g, '_')
        .replace(/^\W+|\W+$/g, ''),
  );
  if (exact) return exact;
  // In prose, the first intent named wins ("policy question, I think").
  let first: { name: Intent; at: number } | undefined;
  for (const name of intentNames) {
    const at = lower.search(new RegExp(`(?<![a-z_])${name.replace('_', '[\\s_-]')}(?![a-z_])`));
    if (at !== -1 && (!first || at < first.at)) first = { name, at };
  }
  return first?.name;
}
