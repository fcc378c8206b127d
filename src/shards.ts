import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REST, type RESTGetAPIGatewayBotResult, Routes, ShardingManager } from 'discord.js';
import { createSupportBot } from './app.ts';
import { loadConfig, projectRoot } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { toSupportBotError } from './errors.ts';
import { syncKnowledgeSource } from './knowledge/sync-source.ts';
import { createLogger, type Logger } from './observability/logger.ts';

/**
 * `npm run start:shards`: the Discord bot for more than 2,500 servers, under discord.js's
 * ShardingManager. This process brings the knowledge base up once (a local Chroma when CHROMA_URL
 * is unset) and hands its URL to every shard process; each runs src/main.ts for its shards.
 * Answer cache and hand-offs are per process unless REDIS_URL points them at one store.
 */
async function manage(): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadConfig();
    logger = createLogger({ level: config.log.level });
    if (!config.discord.token) throw new Error('Discord is not configured: set DISCORD_TOKEN');
    const bot = await createSupportBot({ config, logger });
    await syncKnowledgeSource({
      knowledgeBase: bot.knowledgeBase,
      source: config.knowledge.source,
      chunkTokens: config.knowledge.chunkTokens,
      batchSize: config.embeddings.batchSize,
      logger,
    });
    const { url: chromaUrl } = await bot.knowledgeBase.connection.connect();
    // From the compiled build (npm run build:dist) the shards run dist/src/main.js; from the sources, tsx.
    const compiled = import.meta.url.endsWith('.js');
    const file = compiled
      ? fileURLToPath(new URL('./main.js', import.meta.url))
      : path.join(projectRoot, 'src/main.ts');
    const manager = new ShardingManager(file, {
      token: config.discord.token,
      totalShards: config.discord.shards === 'auto' ? await recommendedShards(config) : config.discord.shards,
      execArgv: compiled ? [] : ['--import', 'tsx'],
      shardArgs: [],
      respawn: true,
    });
    for (const [key, value] of Object.entries({ CHROMA_URL: chromaUrl })) process.env[key] = value;
    manager.on('shardCreate', (shard) => {
      logger?.info({ shard: shard.id, of: manager.totalShards }, 'shard process started');
      shard.on('death', (child) =>
        logger?.warn(
          { shard: shard.id, exitCode: (child as { exitCode?: number }).exitCode },
          'shard process exited',
        ),
      );
    });
    const stop = async () => {
      for (const shard of manager.shards.values()) shard.kill();
      await bot.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await manager.spawn({ delay: config.discord.shardSpawnDelayMs, timeout: 120_000 });
    logger.info({ shards: manager.totalShards }, 'all shards ready');
  } catch (error) {
    const wrapped = toSupportBotError(error);
    if (logger) logger.fatal({ code: wrapped.code, err: wrapped }, wrapped.message);
    else process.stderr.write(`support-bot: ${wrapped.message}\n`);
    process.exit(1);
  }
}

/** Discord's recommendation (GET /gateway/bot), through the configured API URL. */
async function recommendedShards(config: Config): Promise<number> {
  const rest = new REST(config.discord.apiUrl ? { api: config.discord.apiUrl } : {}).setToken(
    config.discord.token as string,
  );
  const { shards } = (await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult;
  return shards;
}

await manage();
