import path from 'node:path';
import { createClient as createRedisClient } from '@keyv/redis';
import Keyv from 'keyv';
import { loadPrompts, type Prompts } from './agent/prompts.ts';
import { SupportAgent } from './agent/support-agent.ts';
import { AnswerCache } from './cache/answer-cache.ts';
import { BoundedMemoryStore } from './cache/bounded-memory-store.ts';
import { NearDuplicateIndex } from './cache/near-duplicate.ts';
import { connectRedisStore } from './cache/redis-store.ts';
import { ResilientStore } from './cache/resilient-store.ts';
import { projectRoot } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { ThreadStore } from './conversation/thread-store.ts';
import { toSupportBotError } from './errors.ts';
import { GuardedPassages } from './knowledge/guarded-passages.ts';
import { createKnowledgeBase, type KnowledgeBase } from './knowledge/knowledge-base.ts';
import { UsageLimits } from './limits/usage-limits.ts';
import type { TokenUsage } from './llm/answer-model.ts';
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
  /** config/prompts.yaml: the adapters use its replies too (the restart note). */
  prompts: Prompts;
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
  const limitsRedis = config.limits.enabled ? createLimitsRedis(config, logger) : undefined;
  const limits = config.limits.enabled
    ? new UsageLimits({
        tenant: config.tenant,
        settings: config.limits,
        ...(limitsRedis ? { redis: limitsRedis } : {}),
        keyPrefix: `${config.cache.namespace}:limits`,
        redisTimeoutMs: config.limits.redisTimeoutMs,
        metrics,
        ...(logger ? { logger } : {}),
      })
    : undefined;
  const models = createChatModels({
    // The cheap model's spend counts against the budget too (answers count theirs in the agent).
    onUsage: (usage) => void limits?.recordSpend(costUsd(usage, config.llm.prices)),
    config,
    definitions,
    onFallbackError: (error) =>
      logger?.warn({ err: toSupportBotError(error) }, 'intent model failed; local answer used'),
    ...(logger ? { logger } : {}),
  });
  const components = new HealthRegistry();
  components.onChange((component, status) =>
    metrics.componentUp.set({ component }, status.state === 'up' || status.state === 'degraded' ? 1 : 0),
  );
  const store = await createStore({ config, components, metrics, ...(logger ? { logger } : {}) });
  store.on('error', (error: unknown) =>
    logger?.error({ err: toSupportBotError(error) }, 'key-value store error'),
  );

  // Every search and lookup bounded; a knowledge base that stops answering is reported down and
  // failed fast until a probe finds it back, which releases the threads its outage handed over.
  const heartbeat = () => knowledgeBase.connection.connect().then(({ client }) => client.heartbeat());
  let agentRef: SupportAgent | undefined;
  const passages = new GuardedPassages({
    open: () => knowledgeBase.retriever(),
    probe: heartbeat,
    searchTimeoutMs: config.knowledge.timeoutMs,
    health: components.reporter('knowledge'),
    ...(logger ? { logger } : {}),
    onRecovered: () => {
      agentRef?.releaseOutageHandoffs().catch(() => undefined);
    },
  });

  // The replaced system's pipeline, for load comparisons: see config agent.pipeline.
  const baseline = config.agent.pipeline === 'baseline';
  const agent = new SupportAgent({
    tenant: config.tenant,
    passages: async () => passages,
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
    ...(limits ? { limits } : {}),
    prices: config.llm.prices,
    topK: config.knowledge.topK,
    maxQuestionCharacters: config.agent.maxQuestionCharacters,
    maxAnswerCharacters: config.agent.maxAnswerCharacters,
  });
  agentRef = agent;

  return {
    config,
    agent,
    prompts,
    knowledgeBase,
    models,
    metrics,
    store,
    components,
    async health() {
      // Bounded: a frozen Chroma makes /healthz say so, quickly, rather than hang with it.
      let timer: NodeJS.Timeout | undefined;
      const up = await Promise.race([
        heartbeat().then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), healthTimeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      return {
        ok: up,
        knowledgeBase: up ? 'up' : 'down',
        provider: models.provider,
        components: components.snapshot(),
      };
    },
    async close() {
      passages.close();
      await Promise.allSettled([knowledgeBase.close(), store.disconnect(), closeRedis(limitsRedis)]);
    },
  };
}

/** How long /healthz waits for Chroma's heartbeat before reporting the knowledge base down. */
const healthTimeoutMs = 1_500;

/**
 * The limits' own Redis connection: commands fail at once while it is down (the limits then count in
 * memory), and it reconnects in the background.
 */
function createLimitsRedis(config: Config, logger: LoggerLike | undefined) {
  if (!config.cache.redisUrl) return undefined;
  const client = createRedisClient({
    url: config.cache.redisUrl,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries: number) => Math.min(250 * 2 ** retries, 10_000),
    },
  });
  client.on('error', (error: unknown) =>
    logger?.warn({ err: toSupportBotError(error) }, 'limits Redis unreachable; counting in memory'),
  );
  client.connect().catch(() => undefined);
  return client;
}

async function closeRedis(client: ReturnType<typeof createLimitsRedis>): Promise<void> {
  if (client?.isOpen) client.destroy();
}

function costUsd(usage: TokenUsage, prices: Config['llm']['prices']): number {
  const price = prices[usage.model];
  return price ? (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1e6 : 0;
}

/**
 * The Keyv store: in memory without REDIS_URL; with it, Redis behind deadlines and a circuit breaker
 * (the `redis` component of /healthz), so a Redis that is down, frozen or slow never stalls a message.
 */
async function createStore(options: {
  config: Config;
  components: HealthRegistry;
  metrics: Metrics;
  logger?: LoggerLike;
}): Promise<Keyv> {
  const { config, components, metrics, logger } = options;
  const { redisUrl, namespace, memoryMaxEntries, memoryMaxMegabytes } = config.cache;
  if (!redisUrl) {
    const store = new BoundedMemoryStore(memoryMaxEntries, { maxBytes: memoryMaxMegabytes * 1_048_576 });
    return new Keyv({ store, namespace });
  }
  const remote = await connectRedisStore({
    url: redisUrl,
    readyTimeoutMs: config.cache.redisTimeoutMs,
    ...(logger ? { logger } : {}),
  });
  const store = new ResilientStore({
    remote,
    label: `Redis at ${withoutPassword(redisUrl)}`,
    timeoutMs: config.cache.redisTimeoutMs,
    failuresToOpen: config.cache.redisFailuresToOpen,
    probeAfterMs: config.cache.redisProbeAfterMs,
    fallbackMaxEntries: config.cache.redisFallbackMaxEntries,
    health: components.reporter('redis'),
    metrics,
    ...(logger ? { logger } : {}),
  });
  return new Keyv({ store, namespace, useKeyPrefix: false });
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
