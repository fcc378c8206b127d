import type { AddressInfo } from 'node:net';
import { createHttpAdapter } from '../adapters/http/server.ts';
import { createSupportBot, type SupportBot } from './app.ts';
import { loadConfig } from './config/load.ts';
import { toSupportBotError } from './errors.ts';
import { FeedbackStore } from './feedback/feedback-store.ts';
import { syncKnowledgeSource } from './knowledge/sync-source.ts';
import { PlatformSupervisor, type SupervisedPlatform } from './lifecycle/platform-supervisor.ts';
import { createLogger, type Logger } from './observability/logger.ts';

/**
 * How long shutdown may take, beyond the grace the HTTP answers get (`http.shutdownGraceMs`),
 * before the process exits anyway (Chroma is killed either way).
 */
const shutdownGraceMs = 10_000;

/**
 * Starts the bot: the core from configuration, the knowledge base brought up to date, then the
 * HTTP API and web chat, and Slack and Discord where configured, each under its own supervisor:
 * a platform that cannot connect (bad token, an intent not enabled, the network) is reported in
 * one warn line and in /healthz, retried where that can help, and never stops the rest. Under
 * discord.js's ShardingManager (`npm run start:shards`) a process runs its Discord shards only.
 * One handler per process for errors and signals.
 */
async function main(): Promise<void> {
  let logger: Logger | undefined;
  let bot: SupportBot | undefined;
  try {
    const config = loadConfig();
    logger = createLogger({ level: config.log.level });
    const log = logger;
    bot = await createSupportBot({ config, logger });
    const core = bot;
    keepRunningOnStrayRejections(log, core);
    if (process.env.SHARDING_MANAGER) return await runShard(core, log);
    const server = createHttpAdapter({
      agent: core.agent,
      metrics: core.metrics,
      logger,
      maxBodyBytes: config.http.maxBodyBytes,
      headersTimeoutMs: config.http.headersTimeoutMs,
      requestTimeoutMs: config.http.requestTimeoutMs,
      bodyTimeoutMs: config.http.bodyTimeoutMs,
      maxConnections: config.http.maxConnections,
      shutdownNote: core.prompts.replies.restarting,
      health: () => core.health(),
    });

    const supervisors: PlatformSupervisor[] = [];
    let stopping = false;
    const shutdown = async (signal: NodeJS.Signals) => {
      // A second signal (Ctrl-C twice) does not wait for the answers.
      if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
      stopping = true;
      log.info({ signal }, 'shutting down');
      // No new work anywhere; answers streaming on every platform end with their text and a note.
      await withDeadline(
        Promise.allSettled([
          server.shutdown(config.http.shutdownGraceMs),
          ...supervisors.map((supervisor) => supervisor.stop()),
        ]).then(() => core.close()),
        config.http.shutdownGraceMs + shutdownGraceMs,
      );
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    // `on`, not `once`: a handler still listening tells the Chroma launcher's own signal handler
    // that the exit is ours to make, after the answers have ended.
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);

    const started = performance.now();
    const report = await syncKnowledgeSource({
      knowledgeBase: core.knowledgeBase,
      source: config.knowledge.source,
      chunkTokens: config.knowledge.chunkTokens,
      batchSize: config.embeddings.batchSize,
      logger,
    });
    const info = await (await core.knowledgeBase.store()).info();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, resolve);
    });
    const { port } = server.address() as AddressInfo;

    for (const platform of await configuredPlatforms(core, log)) {
      supervisors.push(
        new PlatformSupervisor({ platform, health: core.components, logger: log, metrics: core.metrics }),
      );
    }
    // Each resolves once its first attempt settles; none of them can fail the start-up.
    await Promise.all(supervisors.map((supervisor) => supervisor.start()));

    const url = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}/`;
    log.info(
      {
        url,
        provider: core.models.provider,
        embedder: core.knowledgeBase.embedder.id,
        collection: config.knowledge.collection,
        chunks: info.chunks,
        version: info.version,
        embedded: report?.added ?? 0,
        platforms: Object.fromEntries(
          Object.entries(core.components.snapshot()).map(([name, status]) => [name, status.state]),
        ),
        startupMs: Math.round(performance.now() - started),
      },
      'ready',
    );
    process.stderr.write(`\nSupport bot ready: open ${url} to chat (${core.models.provider} answers).\n\n`);
  } catch (error) {
    const wrapped = toSupportBotError(error);
    if (logger) logger.fatal({ code: wrapped.code, err: wrapped }, wrapped.message);
    else process.stderr.write(`support-bot: ${wrapped.message}\n`);
    // The embedded Chroma server goes with us, also on this path.
    if (bot) await withDeadline(bot.close(), shutdownGraceMs);
    process.exit(1);
  }
}

/**
 * The platforms that have tokens, built lazily: together the SDKs weigh ~35 MB of memory. An
 * adapter that cannot even be built is reported down; the others still run.
 */
async function configuredPlatforms(bot: SupportBot, logger: Logger): Promise<SupervisedPlatform[]> {
  const { config } = bot;
  const platforms: SupervisedPlatform[] = [];
  const feedback = new FeedbackStore({ store: bot.store });
  const unbuildable = (name: string, error: unknown) => {
    const wrapped = toSupportBotError(error);
    bot.components.report(name, 'down', { code: wrapped.code, reason: wrapped.message });
    logger.warn({ platform: name, err: wrapped }, `${name} is off: ${wrapped.message}`);
  };
  if (config.slack.botToken) {
    try {
      const { createSlackBot } = await import('../adapters/slack/slack-bot.ts');
      const slack = createSlackBot({
        config: config.slack,
        host: config.http.host,
        agent: bot.agent,
        store: bot.store,
        feedback,
        metrics: bot.metrics,
        logger,
        health: bot.components.reporter('slack'),
        restartNote: bot.prompts.replies.restarting,
      });
      platforms.push({
        name: 'slack',
        async start() {
          const server = await slack.start();
          const port = server ? (server.address() as AddressInfo | null)?.port : undefined;
          logger.info({ mode: config.slack.mode, port }, 'slack connected');
        },
        stop: () => slack.stop(),
      });
    } catch (error) {
      unbuildable('slack', error);
    }
  }
  if (config.discord.token) {
    try {
      const { createDiscordBot } = await import('../adapters/discord/discord-bot.ts');
      const discord = createDiscordBot({
        config: config.discord,
        agent: bot.agent,
        store: bot.store,
        feedback,
        metrics: bot.metrics,
        logger,
        health: bot.components.reporter('discord'),
        restartNote: bot.prompts.replies.restarting,
      });
      platforms.push({ name: 'discord', start: () => discord.start(), stop: () => discord.stop() });
    } catch (error) {
      unbuildable('discord', error);
    }
  }
  return platforms;
}

/** One process of a sharded Discord bot: its shards come from the manager's environment. */
async function runShard(bot: SupportBot, logger: Logger): Promise<void> {
  const { createDiscordBot } = await import('../adapters/discord/discord-bot.ts');
  const discord = createDiscordBot({
    config: bot.config.discord,
    agent: bot.agent,
    store: bot.store,
    feedback: new FeedbackStore({ store: bot.store }),
    metrics: bot.metrics,
    logger,
    health: bot.components.reporter('discord'),
    restartNote: bot.prompts.replies.restarting,
  });
  const supervisor = new PlatformSupervisor({
    platform: { name: 'discord', start: () => discord.start(), stop: () => discord.stop() },
    health: bot.components,
    logger,
    metrics: bot.metrics,
  });
  let stopping = false;
  const shutdown = async () => {
    // A second signal does not wait for the answers.
    if (stopping) process.exit(0);
    stopping = true;
    await withDeadline(
      supervisor.stop().then(() => bot.close()),
      shutdownGraceMs,
    );
    process.exit(0);
  };
  // `on`, not `once`, as in main(): the exit is ours to make, after the answers have ended.
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // The manager kills its children when it exits; a lost IPC channel means it is gone.
  process.once('disconnect', shutdown);
  await supervisor.start();
  logger.info(
    {
      shards: discord.client.shard?.ids,
      of: discord.client.shard?.count,
      state: bot.components.get('discord'),
    },
    'shard started',
  );
}

/**
 * A promise rejected with nobody listening is a bug, but one that must not take every platform
 * down with it: it is logged at error level and counted, and the process keeps serving. (Uncaught
 * exceptions still end the process: its state can no longer be trusted.)
 */
function keepRunningOnStrayRejections(logger: Logger, bot: SupportBot): void {
  process.on('unhandledRejection', (reason) => {
    const wrapped = toSupportBotError(reason);
    bot.metrics.platformErrors.inc({ platform: 'process', error: 'unhandled_rejection' });
    logger.error({ err: wrapped, code: wrapped.code }, `unhandled rejection: ${wrapped.message}`);
  });
}

function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

await main();
