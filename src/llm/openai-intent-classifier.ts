import type OpenAI from 'openai';
import type { TokenUsage } from './answer-model.ts';
import {
  type Intent,
  type IntentClassifier,
  type IntentDecision,
  type IntentDefinition,
  intentNames,
} from './intents.ts';
import { toModelError } from './openai-answer-model.ts';

/** Options of {@link OpenAIIntentClassifier}. */
export interface OpenAIIntentClassifierOptions {
  client: OpenAI;
  definitions: readonly IntentDefinition[];
  /** @defaultValue 'gpt-3.5-turbo' */
  model?: string;
  /** @defaultValue 0.3 */
  temperature?: number;
  /** @defaultValue 30_000 */
  timeoutMs?: number;
  /** Receives the tokens of every call, for cost accounting. */
  onUsage?: (usage: TokenUsage) => void;
}

/**
 * Classifies with the cheap model, asking for structured JSON (`{"intent","confidence"}`) constrained
 * by a JSON schema. An answer that is not one of the eight intents counts as `other`.
 */
export class OpenAIIntentClassifier implements IntentClassifier {
  readonly #options: OpenAIIntentClassifierOptions;
  readonly #model: string;
  readonly #systemPrompt: string;

  constructor(options: OpenAIIntentClassifierOptions) {
    this.#options = options;
    this.#model = options.model ?? 'gpt-3.5-turbo';
    const lines = options.definitions.map((definition) => `- ${definition.name}: ${definition.description}`);
    this.#systemPrompt = [
      "Classify the intent of a customer's message to an online store's support chat.",
      'Intents:',
      ...lines,
      'Angry messages, or asking for a human or a manager, are complaint even when money is mentioned.',
      'Answer with JSON only: {"intent": one of the names above, "confidence": a number from 0 to 1}.',
    ].join('\n');
  }

  async classify(text: string, options: { signal?: AbortSignal } = {}): Promise<IntentDecision> {
    const { client, temperature = 0.3, timeoutMs = 30_000 } = this.#options;
    try {
      const completion = await client.chat.completions.create(
        {
          model: this.#model,
          temperature,
          max_tokens: 40,
          messages: [
            { role: 'system', content: this.#systemPrompt },
            { role: 'user', content: text.slice(0, 2_000) },
          ],
          response_format: {
            type: 'json_schema',
            json_schema: {
              name: 'intent',
              strict: true,
              schema: {
                type: 'object',
                additionalProperties: false,
                required: ['intent', 'confidence'],
                properties: {
                  intent: { type: 'string', enum: [...intentNames] },
                  confidence: { type: 'number' },
                },
              },
            },
          },
        },
        { timeout: timeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
      );
      if (completion.usage) {
        this.#options.onUsage?.({
          model: this.#model,
          promptTokens: completion.usage.prompt_tokens,
          completionTokens: completion.usage.completion_tokens,
        });
      }
      return parseDecision(completion.choices[0]?.message.content ?? '');
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw toModelError(error, this.#model);
    }
  }
}

function parseDecision(content: string): IntentDecision {
  let parsed: { intent?: unknown; confidence?: unknown } = {};
  try {
    parsed = JSON.parse(content.trim().replace(/^```(?:json)?|```$/g, ''));
  } catch {
    // A model that ignores the format still answers; treat it as unsure.
  }
  const intent = intentNames.includes(parsed.intent as Intent) ? (parsed.intent as Intent) : 'other';
  const confidence =
    typeof parsed.confidence === 'number' ? Math.min(1, Math.max(0, parsed.confidence)) : 0.5;
  return { intent, confidence, source: 'model' };
}
