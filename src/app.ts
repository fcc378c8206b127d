import path from 'node:path';
import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { loadPrompts } from './agent/prompts.ts';
import { SupportAgent } from './agent/support-agent.ts';
import { AnswerCache } from './cache/answer-cache.ts';
import { BoundedMemoryStore } from './cache/bounded-memory-store.ts';
import { NearDuplicateIndex } from './cache/near-duplicate.ts';
import { projectRoot } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { ThreadStore } from './conversation/thread-store.ts';
import { toSupportBotError } from './errors.ts';
import { createKnowledgeBase, type KnowledgeBase } from './knowledge/knowledge-base.ts';
import { BufferedAnswerModel } from './llm/buffered-answer-model.ts';
import { createEmbedder } from './llm/create-embedder.ts';
import { type ChatModels, createChatModels } from './llm/create-models.ts';
import { loadIntentCatalog } from './llm/intents.ts';
import { type ComponentStatus, HealthRegistry } from './observability/health.ts';
import type { LoggerLike } from './observability/logger-like.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';

/** Everything the adapters need, built from configuration. */
export interface SupportBot {
  config: Config;
  agent: SupportAgent;
  knowledgeBase: KnowledgeBase;
  models: ChatModels;
  metrics: Metrics;
  /** Keyv store shared by the cache, threads and (later) event de-duplication. */
  store: Keyv;
  /** What each platform connection reports about itself (/healthz). */
  components: HealthRegistry;
  /**
   * `ok` while the knowledge base answers: the HTTP API can serve. A platform that is down or
   * degraded shows in `components` without failing the check, so one platform never takes the
   * instance out of a load balancer.
   */
  health(): Promise<{
    ok: boolean;
    knowledgeBase: 'up' | 'down';
    provider: string;
    components: Record<string, ComponentStatus>;
  }>;
  close(): Promise<void>;
}

/** Options of {@link createSupportBot}. */
export interface CreateSupportBotOptions {
  config: Config;
  logger?: LoggerLike;
  metrics?: Metrics;
}

/**
 * The composition root of the core: knowledge base, models, stores and the agent, from config.
 * Nothing connects to Chroma until the first question or an explicit sync; the lexical index
 * (SQLite file or PostgreSQL) is opened here.
 */
export async function createSupportBot(options: CreateSupportBotOptions): Promise<SupportBot> {
  const { config, logger } = options;
  const resolve = (file: string) => path.resolve(projectRoot, file);
  const [definitions, prompts] = await Promise.all([
    loadIntentCatalog(resolve(config.intents.file)),
    loadPrompts(resolve(config.agent.promptsFile)),
  ]);
  const metrics = options.metrics ?? createMetrics();
  const embedder = createEmbedder(config);
  const knowledgeBase = createKnowledgeBase({ config, embedder, ...(logger ? { logger } : {}) });
  // The lexical index is opened now, so an unreachable DATABASE_URL stops start-up with one line.
  await knowledgeBase.lexical();
  const models = createChatModels({
    config,
    definitions,
    onFallbackError: (error) =>
      logger?.warn({ err: toSupportBotError(error) }, 'intent model failed; local answer used'),
    ...(logger ? { logger } : {}),
  });
  const store = createStore(config);
  const components = new HealthRegistry();
  components.onChange((component, status) =>
    metrics.componentUp.set({ component }, status.state === 'up' || status.state === 'degraded' ? 1 : 0),
  );
  store.on('error', (error: unknown) =>
    logger?.error({ err: toSupportBotError(error) }, 'key-value store error'),
  );

  // The replaced system's pipeline, for load comparisons: see config agent.pipeline.
  const baseline = config.agent.pipeline === 'baseline';
  const agent = new SupportAgent({
    tenant: config.tenant,
    passages: () => knowledgeBase.retriever(),
    classifier: models.classifier,
    answerModel: baseline ? new BufferedAnswerModel(models.answerModel) : models.answerModel,
    prompts,
    threads: new ThreadStore({ store, historyTurns: config.agent.historyTurns }),
    ...(config.cache.enabled && !baseline
      ? {
          cache: new AnswerCache({
            store,
            ttlMs: config.cache.ttlSeconds * 1000,
            ...(config.cache.nearDuplicates
              ? { nearDuplicates: new NearDuplicateIndex({ embedder, threshold: config.cache.similarity }) }
              : {}),
          }),
        }
      : {}),
    ...(baseline ? { sequential: true } : {}),
    metrics,
    ...(logger ? { logger } : {}),
    prices: config.llm.prices,
    topK: config.knowledge.topK,
    maxQuestionCharacters: config.agent.maxQuestionCharacters,
    maxAnswerCharacters: config.agent.maxAnswerCharacters,
  });

  return {
    config,
    agent,
    knowledgeBase,
    models,
    metrics,
    store,
    components,
    async health() {
      const up = await knowledgeBase.connection
        .connect()
        .then(({ client }) => client.heartbeat())
        .then(
          () => true,
          () => false,
        );
      return {
        ok: up,
        knowledgeBase: up ? 'up' : 'down',
        provider: models.provider,
        components: components.snapshot(),
      };
    },
    async close() {
      await Promise.allSettled([knowledgeBase.close(), store.disconnect()]);
    },
  };
}

function createStore(config: Config): Keyv {
  const { redisUrl, namespace, memoryMaxEntries } = config.cache;
  if (!redisUrl) return new Keyv({ store: new BoundedMemoryStore(memoryMaxEntries), namespace });
  return new Keyv({ store: new KeyvRedis(redisUrl), namespace, useKeyPrefix: false });
}
