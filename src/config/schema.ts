import { z } from 'zod';

const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Chroma's own rule for collection names: 3–512 characters of `[a-zA-Z0-9._-]`, alphanumeric at both ends. */
const collectionName = z.string().regex(/^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{1,510})[a-zA-Z0-9]$/, {
  message:
    'expected 3-512 characters of letters, digits, ".", "_" or "-", starting and ending with a letter or digit',
});

const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL' },
);

const wholeNumber = (min: number, max: number) =>
  z.coerce
    .number({ message: 'expected a number' })
    .int({ message: 'expected a whole number' })
    .min(min, { message: `expected a whole number from ${min} to ${max}` })
    .max(max, { message: `expected a whole number from ${min} to ${max}` });

/** A list from YAML, or a comma-separated string from the environment. */
const list = z.union([
  z.array(z.string()),
  z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
]);

const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1'),
]);

/** The whole configuration, validated at start-up. Unknown keys are errors, so typos do not pass silently. */
export const configSchema = z
  .strictObject({
    tenant: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, {
      message: 'expected 1-63 letters, digits, "_" or "-"',
    }),
    dataDir: z.string().min(1, { message: 'expected a folder path' }),
    knowledge: z.strictObject({
      collection: collectionName,
      source: z.string().min(1, { message: 'expected a folder or .jsonl path' }),
      topK: wholeNumber(1, 20),
      chunkTokens: wholeNumber(50, 2000),
      hybrid: flag,
      candidates: wholeNumber(1, 200),
      lexicalEngine: z.enum(['auto', 'sqlite', 'postgres'], { message: 'expected auto, sqlite or postgres' }),
      postgresSchema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, {
        message:
          'expected a PostgreSQL schema name: 1-63 lowercase letters, digits or "_", not starting with a digit',
      }),
      glossary: z.string(),
      timeoutMs: wholeNumber(100, 120_000),
    }),
    database: z.strictObject({
      url: z.union([
        z.literal(''),
        z.string().regex(/^postgres(?:ql)?:\/\//, { message: 'expected a postgres:// or postgresql:// URL' }),
      ]),
    }),
    chroma: z.strictObject({
      url: z.union([z.literal(''), httpUrl]),
      startTimeoutSeconds: wholeNumber(1, 600),
    }),
    embeddings: z.strictObject({
      provider: z.enum(['auto', 'openai', 'offline'], { message: 'expected auto, openai or offline' }),
      model: z.string().min(1),
      batchSize: wholeNumber(1, 2048),
      concurrency: wholeNumber(1, 16),
    }),
    openai: z.strictObject({
      apiKey: z.string().min(1).optional(),
      baseUrl: httpUrl,
      timeoutSeconds: wholeNumber(1, 600),
      maxRetries: wholeNumber(0, 10),
    }),
    llm: z.strictObject({
      provider: z.enum(['auto', 'openai', 'offline'], { message: 'expected auto, openai or offline' }),
      classifierModel: z.string().min(1),
      answerModel: z.string().min(1),
      classifierTemperature: z.coerce.number().min(0).max(2),
      answerTemperature: z.coerce.number().min(0).max(2),
      classifierTimeoutSeconds: wholeNumber(1, 600),
      classifierFormat: z.enum(['auto', 'json_schema', 'json_object', 'tool', 'text'], {
        message: 'expected auto, json_schema, json_object, tool or text',
      }),
      classifierDeadlineMs: wholeNumber(50, 600_000),
      maxAnswerTokens: wholeNumber(16, 16_000),
      streamIdleTimeoutSeconds: wholeNumber(1, 600),
      firstTokenTimeoutSeconds: wholeNumber(1, 600),
      offlineTokensPerSecond: wholeNumber(1, 10_000),
      prices: z.record(
        z.string(),
        z.strictObject({ input: z.coerce.number().min(0), output: z.coerce.number().min(0) }),
      ),
    }),
    intents: z.strictObject({
      file: z.string().min(1, { message: 'expected a YAML file path' }),
      fastPathThreshold: z.coerce.number().min(0).max(1.01),
    }),
    agent: z.strictObject({
      promptsFile: z.string().min(1, { message: 'expected a YAML file path' }),
      historyTurns: wholeNumber(0, 50),
      maxQuestionCharacters: wholeNumber(100, 100_000),
      maxAnswerCharacters: wholeNumber(200, 40_000),
      pipeline: z.enum(['streaming', 'baseline'], { message: 'expected streaming or baseline' }),
    }),
    cache: z.strictObject({
      enabled: flag,
      ttlSeconds: wholeNumber(1, 31_536_000),
      redisUrl: z.union([
        z.literal(''),
        z.string().regex(/^rediss?:\/\//, { message: 'expected redis:// or rediss://' }),
      ]),
      redisTimeoutMs: wholeNumber(10, 60_000),
      redisFailuresToOpen: wholeNumber(1, 1_000),
      redisProbeAfterMs: wholeNumber(100, 3_600_000),
      redisFallbackMaxEntries: wholeNumber(100, 10_000_000),
      namespace: z.string().min(1),
      memoryMaxEntries: wholeNumber(100, 10_000_000),
      memoryMaxMegabytes: wholeNumber(1, 65_536),
      nearDuplicates: flag,
      similarity: z.coerce.number().min(0.3).max(1),
    }),
    limits: z.strictObject({
      enabled: flag,
      user: z.strictObject({
        messages: wholeNumber(0, 100_000),
        perSeconds: wholeNumber(1, 86_400),
        burst: wholeNumber(0, 100_000),
        burstPerSeconds: wholeNumber(1, 86_400),
      }),
      conversation: z.strictObject({ messages: wholeNumber(0, 100_000), perSeconds: wholeNumber(1, 86_400) }),
      tenant: z.strictObject({ messages: wholeNumber(0, 10_000_000), perSeconds: wholeNumber(1, 86_400) }),
      budgetUsdPerHour: z.coerce.number({ message: 'expected a number' }).min(0).max(1_000_000),
      redisTimeoutMs: wholeNumber(10, 10_000),
    }),
    http: z.strictObject({
      host: z.string().min(1),
      port: wholeNumber(0, 65_535),
      maxBodyBytes: wholeNumber(1024, 10_485_760),
      headersTimeoutMs: wholeNumber(1_000, 300_000),
      requestTimeoutMs: wholeNumber(1_000, 600_000),
      bodyTimeoutMs: wholeNumber(100, 300_000),
      maxConnections: wholeNumber(1, 1_000_000),
      shutdownGraceMs: wholeNumber(0, 60_000),
    }),
    slack: z.strictObject({
      botToken: z.string().min(1).optional(),
      signingSecret: z.string().min(1).optional(),
      appToken: z.string().min(1).optional(),
      mode: z.enum(['http', 'socket'], { message: 'expected http or socket' }),
      port: wholeNumber(0, 65_535),
      apiUrl: z.union([z.literal(''), httpUrl]),
      supportChannels: list,
      staffUserIds: list,
      staffUserGroup: z.string(),
      staffChannel: z.string(),
      streaming: z.enum(['auto', 'native', 'update'], { message: 'expected auto, native or update' }),
      updatesPerMinute: wholeNumber(1, 10_000),
    }),
    discord: z.strictObject({
      token: z.string().min(1).optional(),
      apiUrl: z.union([z.literal(''), httpUrl]),
      supportChannels: list,
      staffRoleId: z.string(),
      staffUserIds: list,
      staffChannel: z.string(),
      threads: flag,
      registerCommands: flag,
      shards: z.union([z.literal('auto'), wholeNumber(1, 100_000)], {
        message: 'expected auto or a whole number of shards',
      }),
      shardSpawnDelayMs: wholeNumber(0, 60_000),
    }),
    log: z.strictObject({
      level: z.enum(logLevels, { message: `expected one of ${logLevels.join(', ')}` }),
    }),
  })
  .superRefine((config, context) => {
    const { slack } = config;
    if (!slack.botToken) return;
    if (slack.mode === 'http' && !slack.signingSecret) {
      context.addIssue({
        code: 'custom',
        path: ['slack', 'signingSecret'],
        message:
          'is required in http mode: set SLACK_SIGNING_SECRET (App settings > Basic Information), or use SLACK_MODE=socket',
      });
    }
    if (slack.mode === 'socket' && !slack.appToken) {
      context.addIssue({
        code: 'custom',
        path: ['slack', 'appToken'],
        message: 'is required in socket mode: set SLACK_APP_TOKEN (an xapp- token with connections:write)',
      });
    }
  });

/** The validated configuration as the rest of the bot sees it. */
export type Config = z.infer<typeof configSchema>;

/**
 * Environment variables that override configuration keys. Secrets are listed here only: they
 * are never read from a file.
 */
export const environmentOverrides = [
  { name: 'TENANT', path: ['tenant'] },
  { name: 'DATA_DIR', path: ['dataDir'] },
  { name: 'KB_COLLECTION', path: ['knowledge', 'collection'] },
  { name: 'KB_SOURCE', path: ['knowledge', 'source'] },
  { name: 'KB_TOP_K', path: ['knowledge', 'topK'] },
  { name: 'KB_HYBRID', path: ['knowledge', 'hybrid'] },
  { name: 'KB_LEXICAL_ENGINE', path: ['knowledge', 'lexicalEngine'] },
  { name: 'KB_POSTGRES_SCHEMA', path: ['knowledge', 'postgresSchema'] },
  { name: 'KB_GLOSSARY', path: ['knowledge', 'glossary'] },
  { name: 'KB_TIMEOUT_MS', path: ['knowledge', 'timeoutMs'] },
  { name: 'DATABASE_URL', path: ['database', 'url'], secret: true },
  { name: 'CHROMA_URL', path: ['chroma', 'url'] },
  { name: 'EMBEDDINGS_PROVIDER', path: ['embeddings', 'provider'] },
  { name: 'EMBEDDINGS_MODEL', path: ['embeddings', 'model'] },
  { name: 'EMBEDDINGS_CONCURRENCY', path: ['embeddings', 'concurrency'] },
  { name: 'OPENAI_API_KEY', path: ['openai', 'apiKey'], secret: true },
  { name: 'OPENAI_BASE_URL', path: ['openai', 'baseUrl'] },
  { name: 'LLM_PROVIDER', path: ['llm', 'provider'] },
  { name: 'LLM_CLASSIFIER_MODEL', path: ['llm', 'classifierModel'] },
  { name: 'LLM_CLASSIFIER_FORMAT', path: ['llm', 'classifierFormat'] },
  { name: 'LLM_CLASSIFIER_DEADLINE_MS', path: ['llm', 'classifierDeadlineMs'] },
  { name: 'LLM_ANSWER_MODEL', path: ['llm', 'answerModel'] },
  { name: 'LLM_FIRST_TOKEN_TIMEOUT_SECONDS', path: ['llm', 'firstTokenTimeoutSeconds'] },
  { name: 'INTENT_FAST_PATH_THRESHOLD', path: ['intents', 'fastPathThreshold'] },
  { name: 'CACHE_ENABLED', path: ['cache', 'enabled'] },
  { name: 'CACHE_TTL_SECONDS', path: ['cache', 'ttlSeconds'] },
  { name: 'REDIS_URL', path: ['cache', 'redisUrl'] },
  { name: 'REDIS_TIMEOUT_MS', path: ['cache', 'redisTimeoutMs'] },
  { name: 'REDIS_FAILURES_TO_OPEN', path: ['cache', 'redisFailuresToOpen'] },
  { name: 'REDIS_PROBE_AFTER_MS', path: ['cache', 'redisProbeAfterMs'] },
  { name: 'REDIS_FALLBACK_MAX_ENTRIES', path: ['cache', 'redisFallbackMaxEntries'] },
  { name: 'CACHE_NEAR_DUPLICATES', path: ['cache', 'nearDuplicates'] },
  { name: 'CACHE_SIMILARITY', path: ['cache', 'similarity'] },
  { name: 'CACHE_MEMORY_MAX_MB', path: ['cache', 'memoryMaxMegabytes'] },
  { name: 'AGENT_PIPELINE', path: ['agent', 'pipeline'] },
  { name: 'LIMITS_ENABLED', path: ['limits', 'enabled'] },
  { name: 'LIMIT_USER_MESSAGES', path: ['limits', 'user', 'messages'] },
  { name: 'LIMIT_USER_BURST', path: ['limits', 'user', 'burst'] },
  { name: 'LIMIT_CONVERSATION_MESSAGES', path: ['limits', 'conversation', 'messages'] },
  { name: 'LIMIT_TENANT_MESSAGES', path: ['limits', 'tenant', 'messages'] },
  { name: 'LIMIT_BUDGET_USD_PER_HOUR', path: ['limits', 'budgetUsdPerHour'] },
  { name: 'HOST', path: ['http', 'host'] },
  { name: 'PORT', path: ['http', 'port'] },
  { name: 'HTTP_HEADERS_TIMEOUT_MS', path: ['http', 'headersTimeoutMs'] },
  { name: 'HTTP_REQUEST_TIMEOUT_MS', path: ['http', 'requestTimeoutMs'] },
  { name: 'HTTP_BODY_TIMEOUT_MS', path: ['http', 'bodyTimeoutMs'] },
  { name: 'HTTP_MAX_CONNECTIONS', path: ['http', 'maxConnections'] },
  { name: 'HTTP_SHUTDOWN_GRACE_MS', path: ['http', 'shutdownGraceMs'] },
  { name: 'SLACK_BOT_TOKEN', path: ['slack', 'botToken'], secret: true },
  { name: 'SLACK_SIGNING_SECRET', path: ['slack', 'signingSecret'], secret: true },
  { name: 'SLACK_APP_TOKEN', path: ['slack', 'appToken'], secret: true },
  { name: 'SLACK_MODE', path: ['slack', 'mode'] },
  { name: 'SLACK_PORT', path: ['slack', 'port'] },
  { name: 'SLACK_API_URL', path: ['slack', 'apiUrl'] },
  { name: 'SLACK_SUPPORT_CHANNELS', path: ['slack', 'supportChannels'] },
  { name: 'SLACK_STAFF_USER_IDS', path: ['slack', 'staffUserIds'] },
  { name: 'SLACK_STAFF_USERGROUP', path: ['slack', 'staffUserGroup'] },
  { name: 'SLACK_STAFF_CHANNEL', path: ['slack', 'staffChannel'] },
  { name: 'SLACK_STREAMING', path: ['slack', 'streaming'] },
  { name: 'DISCORD_TOKEN', path: ['discord', 'token'], secret: true },
  { name: 'DISCORD_API_URL', path: ['discord', 'apiUrl'] },
  { name: 'DISCORD_SUPPORT_CHANNELS', path: ['discord', 'supportChannels'] },
  { name: 'DISCORD_STAFF_ROLE_ID', path: ['discord', 'staffRoleId'] },
  { name: 'DISCORD_STAFF_USER_IDS', path: ['discord', 'staffUserIds'] },
  { name: 'DISCORD_STAFF_CHANNEL', path: ['discord', 'staffChannel'] },
  { name: 'DISCORD_THREADS', path: ['discord', 'threads'] },
  { name: 'DISCORD_REGISTER_COMMANDS', path: ['discord', 'registerCommands'] },
  { name: 'DISCORD_SHARDS', path: ['discord', 'shards'] },
  { name: 'DISCORD_SHARD_SPAWN_DELAY_MS', path: ['discord', 'shardSpawnDelayMs'] },
  { name: 'LOG_LEVEL', path: ['log', 'level'] },
] as const satisfies readonly { name: string; path: readonly string[]; secret?: boolean }[];

/** Keys that hold secrets: refused in configuration files. */
export const secretKeys = new Set([
  'apiKey',
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'secret',
  'password',
]);
