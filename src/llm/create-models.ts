import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { AnswerModel, TokenUsage } from './answer-model.ts';
import { createOpenAIClient } from './create-embedder.ts';
import { HybridIntentClassifier } from './hybrid-intent-classifier.ts';
import type { IntentDefinition } from './intents.ts';
import { LocalIntentClassifier } from './local-intent-classifier.ts';
import { OfflineAnswerModel } from './offline-answer-model.ts';
import { OpenAIAnswerModel } from './openai-answer-model.ts';
import { OpenAIIntentClassifier } from './openai-intent-classifier.ts';

/** The chat side of the model layer, chosen from configuration (embeddings are chosen separately). */
export interface ChatModels {
  provider: 'openai' | 'offline';
  answerModel: AnswerModel;
  classifier: HybridIntentClassifier;
}

/** Options of {@link createChatModels}. */
export interface CreateChatModelsOptions {
  config: Config;
  definitions: readonly IntentDefinition[];
  /** Receives the classifier's token usage (answers report theirs in their stream). */
  onUsage?: (usage: TokenUsage) => void;
  /** Called when the cheap model fails and the local answer is used. */
  onFallbackError?: (error: unknown) => void;
  /** Told when the cheap model refuses a request format and the classifier steps down. */
  logger?: LoggerLike;
}

/**
 * OpenAI (answers from the strong model, uncertain classifications from the cheap one) when
 * `llm.provider` is `openai`, or `auto` with OPENAI_API_KEY set; otherwise offline: the local
 * classifier alone and extractive answers.
 */
export function createChatModels(options: CreateChatModelsOptions): ChatModels {
  const { config, definitions } = options;
  const { llm } = config;
  const local = new LocalIntentClassifier(definitions);
  const useOpenAI = llm.provider === 'openai' || (llm.provider === 'auto' && Boolean(config.openai.apiKey));
  if (!useOpenAI) {
    return {
      provider: 'offline',
      answerModel: new OfflineAnswerModel({ tokensPerSecond: llm.offlineTokensPerSecond }),
      classifier: new HybridIntentClassifier({ local, threshold: config.intents.fastPathThreshold }),
    };
  }
  if (!config.openai.apiKey) {
    throw new ConfigError(
      'llm.provider',
      'LLM_PROVIDER is openai but OPENAI_API_KEY is not set: put it in .env, or run offline: LLM_PROVIDER=offline.',
    );
  }
  const client = createOpenAIClient(config);
  const fallback = new OpenAIIntentClassifier({
    client,
    definitions,
    model: llm.classifierModel,
    format: llm.classifierFormat,
    temperature: llm.classifierTemperature,
    timeoutMs: llm.classifierTimeoutSeconds * 1000,
    ...(options.onUsage ? { onUsage: options.onUsage } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return {
    provider: 'openai',
    answerModel: new OpenAIAnswerModel({
      client,
      model: llm.answerModel,
      temperature: llm.answerTemperature,
      maxTokens: llm.maxAnswerTokens,
      idleTimeoutMs: llm.streamIdleTimeoutSeconds * 1000,
      firstTokenTimeoutMs: llm.firstTokenTimeoutSeconds * 1000,
    }),
    classifier: new HybridIntentClassifier({
      local,
      fallback,
      threshold: config.intents.fastPathThreshold,
      deadlineMs: llm.classifierDeadlineMs,
      ...(options.onFallbackError ? { onFallbackError: options.onFallbackError } : {}),
    }),
  };
}
