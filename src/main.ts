import type { AddressInfo } from 'node:net';
import type { DiscordBot } from '../adapters/discord/discord-bot.ts';
import { createHttpAdapter } from '../adapters/http/server.ts';
import type { SlackBot } from '../adapters/slack/slack-bot.ts';
import { createSupportBot, type SupportBot } from './app.ts';
import { loadConfig } from './config/load.ts';
import { toSupportBotError } from './errors.ts';
import { FeedbackStore } from './feedback/feedback-store.ts';
import { syncKnowledgeSource } from './knowledge/sync-source.ts';
import { createLogger, type Logger } from './observability/logger.ts';

/**
 * Starts the bot: the core from configuration, the knowledge base brought up to date, then the
 * HTTP API and web chat, Slack and Discord where configured. Under discord.js's ShardingManager
 * (`npm run start:shards`) a process runs its Discord shards only: the manager has synced the
 * knowledge base and serves nothing else. One handler per process for errors and signals.
 */
async function main(): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadConfig();
    logger = createLogger({ level: config.log.level });
    const bot = await createSupportBot({ config, logger });
    if (process.env.SHARDING_MANAGER) return await runShard(bot, logger);
    const server = createHttpAdapter({
      agent: bot.agent,
      metrics: bot.metrics,
      logger,
      maxBodyBytes: config.http.maxBodyBytes,
      health: () => bot.health(),
    });

    let slack: SlackBot | undefined;
    let discord: DiscordBot | undefined;
    let stopping = false;
    const shutdown = async (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger?.info({ signal }, 'shutting down');
      server.close();
      server.closeAllConnections();
      await Promise.allSettled([slack?.stop(), discord?.stop()]);
      await bot.close();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);

    const started = performance.now();
    const report = await syncKnowledgeSource({
      knowledgeBase: bot.knowledgeBase,
      source: config.knowledge.source,
      chunkTokens: config.knowledge.chunkTokens,
      batchSize: config.embeddings.batchSize,
      logger,
    });
    const info = await (await bot.knowledgeBase.store()).info();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, resolve);
    });
    const { port } = server.address() as AddressInfo;
    // The platform SDKs are loaded only when configured: together they weigh ~35 MB of memory.
    if (config.slack.botToken) {
      const { createSlackBot } = await import('../adapters/slack/slack-bot.ts');
      slack = createSlackBot({
        config: config.slack,
        agent: bot.agent,
        store: bot.store,
        feedback: new FeedbackStore({ store: bot.store }),
        metrics: bot.metrics,
        logger,
      });
      const slackServer = await slack.start();
      const slackPort = slackServer ? (slackServer.address() as AddressInfo).port : undefined;
      logger.info({ mode: config.slack.mode, port: slackPort }, 'slack connected');
    }
    if (config.discord.token) {
      const { createDiscordBot } = await import('../adapters/discord/discord-bot.ts');
      discord = createDiscordBot({
        config: config.discord,
        agent: bot.agent,
        store: bot.store,
        feedback: new FeedbackStore({ store: bot.store }),
        metrics: bot.metrics,
        logger,
      });
      await discord.start();
    }
    const url = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}/`;
    logger.info(
      {
        url,
        provider: bot.models.provider,
        embedder: bot.knowledgeBase.embedder.id,
        collection: config.knowledge.collection,
        chunks: info.chunks,
        version: info.version,
        embedded: report?.added ?? 0,
        startupMs: Math.round(performance.now() - started),
      },
      'ready',
    );
    process.stderr.write(`\nSupport bot ready: open ${url} to chat (${bot.models.provider} answers).\n\n`);
  } catch (error) {
    const wrapped = toSupportBotError(error);
    if (logger) logger.fatal({ code: wrapped.code, err: wrapped }, wrapped.message);
    else process.stderr.write(`support-bot: ${wrapped.message}\n`);
    process.exit(1);
  }
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
  });
  const shutdown = async () => {
    await discord.stop();
    await bot.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // The manager kills its children when it exits; a lost IPC channel means it is gone.
  process.once('disconnect', shutdown);
  await discord.start();
  logger.info({ shards: discord.client.shard?.ids, of: discord.client.shard?.count }, 'shard ready');
}

await main();
