import OpenAI from 'openai';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import type { Embedder } from './embedder.ts';
import { OfflineEmbedder } from './offline-embedder.ts';
import { OpenAIEmbedder } from './openai-embedder.ts';
import { createOpenAIFetch } from './openai-fetch.ts';

/**
 * Picks the embedder from configuration: OpenAI when `embeddings.provider` is `openai`, or `auto`
 * with OPENAI_API_KEY set; otherwise the offline embedder, which needs no download and no network.
 */
export function createEmbedder(config: Config): Embedder {
  const { provider, model, batchSize } = config.embeddings;
  const useOpenAI = provider === 'openai' || (provider === 'auto' && Boolean(config.openai.apiKey));
  if (!useOpenAI) return new OfflineEmbedder();
  if (!config.openai.apiKey) {
    throw new ConfigError(
      'embeddings.provider',
      'EMBEDDINGS_PROVIDER is openai but OPENAI_API_KEY is not set: put it in .env, or use the offline embedder: EMBEDDINGS_PROVIDER=offline.',
    );
  }
  return new OpenAIEmbedder({ client: createOpenAIClient(config), model, batchSize });
}

/**
 * The OpenAI client for the configured endpoint, with bounded timeouts and retries; a 429 for an
 * exhausted quota is not retried (see {@link createOpenAIFetch}).
 */
export function createOpenAIClient(config: Config): OpenAI {
  return new OpenAI({
    apiKey: config.openai.apiKey,
    baseURL: config.openai.baseUrl,
    timeout: config.openai.timeoutSeconds * 1000,
    maxRetries: config.openai.maxRetries,
    fetch: createOpenAIFetch(),
  });
}
