import { loadConfig } from './config/load.ts';
import { toSupportBotError } from './errors.ts';
import { createKnowledgeBase } from './knowledge/knowledge-base.ts';
import { syncKnowledgeSource } from './knowledge/sync-source.ts';
import { createEmbedder } from './llm/create-embedder.ts';
import { createLogger, type Logger } from './observability/logger.ts';

/**
 * The composition root: builds every part from configuration, brings the knowledge base up to
 * date, and reports ready. One handler per process for errors and signals.
 */
async function main(): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = loadConfig();
    logger = createLogger({ level: config.log.level });
    const embedder = createEmbedder(config);
    const knowledgeBase = createKnowledgeBase({ config, embedder, logger });

    const shutdown = async (signal: NodeJS.Signals) => {
      logger?.info({ signal }, 'shutting down');
      await knowledgeBase.close();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);

    const started = performance.now();
    const report = await syncKnowledgeSource({
      knowledgeBase,
      source: config.knowledge.source,
      chunkTokens: config.knowledge.chunkTokens,
      batchSize: config.embeddings.batchSize,
      logger,
    });
    const { url } = await knowledgeBase.connection.connect();
    const info = await (await knowledgeBase.store()).info();
    logger.info(
      {
        chroma: url,
        collection: config.knowledge.collection,
        embedder: embedder.id,
        chunks: info.chunks,
        version: info.version,
        embedded: report?.added ?? 0,
        startupMs: Math.round(performance.now() - started),
      },
      'ready',
    );

    // Watch the vector store while serving, so an outage shows up in the log before a customer notices.
    const watch = setInterval(() => {
      knowledgeBase.connection
        .connect()
        .then(({ client }) => client.heartbeat())
        .catch((error: unknown) =>
          logger?.warn({ err: toSupportBotError(error) }, 'chroma heartbeat failed; answers will degrade'),
        );
    }, 30_000);
    process.once('exit', () => clearInterval(watch));
  } catch (error) {
    const wrapped = toSupportBotError(error);
    if (logger) logger.fatal({ code: wrapped.code, err: wrapped }, wrapped.message);
    else process.stderr.write(`support-bot: ${wrapped.message}\n`);
    process.exit(1);
  }
}

await main();
