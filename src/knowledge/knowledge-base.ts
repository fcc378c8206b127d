import path from 'node:path';
import { projectRoot } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Embedder } from '../llm/embedder.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { ChromaConnection } from './chroma-connection.ts';
import { KnowledgeStore } from './knowledge-store.ts';
import { Retriever } from './retriever.ts';

/** The knowledge base's parts, connected lazily on first use. */
export interface KnowledgeBase {
  connection: ChromaConnection;
  embedder: Embedder;
  /** Resolves once Chroma is reachable and the collection is open. */
  store(): Promise<KnowledgeStore>;
  retriever(): Promise<Retriever>;
  /** Deletes the collection (it is created afresh on next use). */
  dropCollection(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createKnowledgeBase}. */
export interface CreateKnowledgeBaseOptions {
  config: Config;
  embedder: Embedder;
  logger?: LoggerLike;
  /** Where the embedded server's C-library runtime is cached. @defaultValue `<project>/.cache` */
  runtimeCacheDir?: string;
}

/** Builds the Chroma connection, store and retriever from configuration. Nothing connects until used. */
export function createKnowledgeBase(options: CreateKnowledgeBaseOptions): KnowledgeBase {
  const { config, embedder, logger } = options;
  const connection = new ChromaConnection({
    url: config.chroma.url,
    dataDir: config.dataDir,
    runtimeCacheDir: options.runtimeCacheDir ?? path.join(projectRoot, '.cache'),
    startTimeoutMs: config.chroma.startTimeoutSeconds * 1000,
    ...(logger ? { logger } : {}),
  });
  let store: Promise<KnowledgeStore> | undefined;
  let retriever: Promise<Retriever> | undefined;

  const openStore = () => {
    store ??= connection
      .connect()
      .then(async ({ client, url }) => {
        const opened = new KnowledgeStore({ client, url, collection: config.knowledge.collection, embedder });
        await opened.open();
        return opened;
      })
      .catch((error: unknown) => {
        store = undefined;
        throw error;
      });
    return store;
  };

  return {
    connection,
    embedder,
    store: openStore,
    retriever() {
      retriever ??= openStore()
        .then(
          (opened) =>
            new Retriever({
              store: opened,
              embedder,
              hybrid: config.knowledge.hybrid,
              candidates: config.knowledge.candidates,
            }),
        )
        .catch((error: unknown) => {
          retriever = undefined;
          throw error;
        });
      return retriever;
    },
    async dropCollection() {
      const { client, url } = await connection.connect();
      await new KnowledgeStore({ client, url, collection: config.knowledge.collection, embedder }).drop();
      store = undefined;
      retriever = undefined;
    },
    close: () => connection.close(),
  };
}
