import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The bot's metrics, in one registry exposed at GET /metrics. */
export interface Metrics {
  registry: Registry;
  messages: Counter<'intent' | 'route'>;
  cache: Counter<'result'>;
  classification: Counter<'path'>;
  /** Classifications where the cheap model was asked but the local answer stood: `deadline` or `error`. */
  classifierFallbacks: Counter<'reason'>;
  tokens: Counter<'model' | 'kind'>;
  costUsd: Counter<'model'>;
  handoffs: Counter<'reason'>;
  /** Threads given back to the bot because what caused their hand-off (an outage) is over. */
  handoffsReleased: Counter<'reason'>;
  degraded: Counter<'reason'>;
  /** Messages refused by a limit (`user`, `conversation`, `tenant`) or answered extractively (`budget`). */
  limited: Counter<'scope'>;
  /** Model spend counted against the tenant's hourly budget, in its current window. */
  budgetSpentUsd: Gauge<'tenant'>;
  feedback: Counter<'platform' | 'verdict'>;
  platformErrors: Counter<'platform' | 'error'>;
  /** 1 while a component (slack, discord…) is up or degraded, 0 otherwise. */
  componentUp: Gauge<'component'>;
  /**
   * Shared-store (Redis) calls that failed, by operation (`get`, `set`, `delete`, `claim`, `probe`,
   * `replay`) and reason: `timeout`, `error`, `circuit_open` (skipped), `fallback_full` (a kept write dropped).
   */
  storeErrors: Counter<'op' | 'reason'>;
  /** The shared store's circuit: 0 closed, 1 open (Redis skipped), 2 half-open (probing). */
  storeCircuit: Gauge;
  /** Writes kept in memory while Redis was down, waiting to be replayed. */
  storePendingWrites: Gauge;
  firstTokenSeconds: Histogram<'cache'>;
  answerSeconds: Histogram<'cache'>;
}

/** Creates the registry and every metric (with Node's process metrics: memory, CPU, event loop). */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'supportbot_' });
  const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
  return {
    registry,
    messages: new Counter({
      name: 'supportbot_messages_total',
      help: 'Customer messages by intent and route',
      labelNames: ['intent', 'route'],
      registers: [registry],
    }),
    cache: new Counter({
      name: 'supportbot_answer_cache_total',
      help: 'Answer cache lookups: hit, shared (single-flight), miss, bypass',
      labelNames: ['result'],
      registers: [registry],
    }),
    classification: new Counter({
      name: 'supportbot_classifications_total',
      help: 'Classifications by path: local fast path or model',
      labelNames: ['path'],
      registers: [registry],
    }),
    classifierFallbacks: new Counter({
      name: 'supportbot_classifier_fallbacks_total',
      help: 'Classifications where the cheap model missed its deadline or failed and the local answer stood',
      labelNames: ['reason'],
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'supportbot_tokens_total',
      help: 'Model tokens by model and kind (prompt, completion)',
      labelNames: ['model', 'kind'],
      registers: [registry],
    }),
    costUsd: new Counter({
      name: 'supportbot_cost_usd_total',
      help: 'Model cost in USD from the price table',
      labelNames: ['model'],
      registers: [registry],
    }),
    handoffs: new Counter({
      name: 'supportbot_handoffs_total',
      help: 'Threads handed to staff, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    handoffsReleased: new Counter({
      name: 'supportbot_handoffs_released_total',
      help: 'Threads handed over during an outage and given back to the bot when it ended, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    degraded: new Counter({
      name: 'supportbot_degraded_replies_total',
      help: 'Replies given in a degraded mode, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    limited: new Counter({
      name: 'supportbot_limited_total',
      help: 'Messages over a limit, by scope: user, conversation, tenant (refused) or budget (extractive answer)',
      labelNames: ['scope'],
      registers: [registry],
    }),
    budgetSpentUsd: new Gauge({
      name: 'supportbot_budget_spent_usd',
      help: 'Model spend in USD counted against the hourly budget, in its current window',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    feedback: new Counter({
      name: 'supportbot_feedback_total',
      help: 'Feedback clicks on answers',
      labelNames: ['platform', 'verdict'],
      registers: [registry],
    }),
    platformErrors: new Counter({
      name: 'supportbot_platform_errors_total',
      help: 'Platform API errors by code',
      labelNames: ['platform', 'error'],
      registers: [registry],
    }),
    componentUp: new Gauge({
      name: 'supportbot_component_up',
      help: 'Whether a component (slack, discord) is connected: 1 up or degraded, 0 otherwise',
      labelNames: ['component'],
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'supportbot_store_errors_total',
      help: 'Shared-store (Redis) calls that failed or were skipped, by operation and reason',
      labelNames: ['op', 'reason'],
      registers: [registry],
    }),
    storeCircuit: new Gauge({
      name: 'supportbot_store_circuit_state',
      help: "The shared store's circuit breaker: 0 closed, 1 open (Redis skipped), 2 half-open (probing)",
      registers: [registry],
    }),
    storePendingWrites: new Gauge({
      name: 'supportbot_store_pending_writes',
      help: 'Writes kept in memory while Redis was unreachable, waiting to be replayed',
      registers: [registry],
    }),
    firstTokenSeconds: new Histogram({
      name: 'supportbot_first_token_seconds',
      help: 'Time from message to first answer text',
      labelNames: ['cache'],
      buckets,
      registers: [registry],
    }),
    answerSeconds: new Histogram({
      name: 'supportbot_answer_seconds',
      help: 'Time from message to complete answer',
      labelNames: ['cache'],
      buckets,
      registers: [registry],
    }),
  };
}
