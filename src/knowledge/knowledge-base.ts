import path from 'node:path';
import { projectRoot } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Embedder } from '../llm/embedder.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { ChromaConnection } from './chroma-connection.ts';
import { KnowledgeStore } from './knowledge-store.ts';
import { createLexicalEngine } from './lexical/create-lexical-engine.ts';
import type { LexicalEngine } from './lexical/lexical-engine.ts';
import { Retriever } from './retriever.ts';
import { glossaryFileFor, loadSynonyms } from './synonyms.ts';

/** The knowledge base's parts, connected lazily on first use. */
export interface KnowledgeBase {
  connection: ChromaConnection;
  embedder: Embedder;
  /** Resolves once Chroma is reachable and the collection is open. */
  store(): Promise<KnowledgeStore>;
  retriever(): Promise<Retriever>;
  /**
   * The lexical index (SQLite in the data folder, or PostgreSQL at DATABASE_URL), opened on first
   * use; undefined when hybrid retrieval is off.
   * @throws {@link LexicalIndexUnavailableError} when PostgreSQL cannot be reached.
   */
  lexical(): Promise<LexicalEngine | undefined>;
  /** Deletes the collection (it is created afresh on next use) and empties the lexical index. */
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
  /** Opens the lexical index. @defaultValue {@link createLexicalEngine} from `config` */
  openLexical?: () => Promise<LexicalEngine>;
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
  let lexical: Promise<LexicalEngine | undefined> | undefined;
  const openLexical = options.openLexical ?? (() => createLexicalEngine(config));

  const lexicalEngine = () => {
    if (!config.knowledge.hybrid) return Promise.resolve(undefined);
    lexical ??= openLexical().catch((error: unknown) => {
      lexical = undefined;
      throw error;
    });
    return lexical;
  };

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
      retriever ??= Promise.all([openStore(), lexicalEngine()])
        .then(
          ([opened, engine]) =>
            new Retriever({
              store: opened,
              embedder,
              hybrid: config.knowledge.hybrid,
              candidates: config.knowledge.candidates,
              ...(engine ? { lexical: engine } : {}),
              ...(logger ? { logger } : {}),
              glossary: async (source) => {
                const file = await glossaryFileFor(config.knowledge.glossary, source, projectRoot);
                if (!file) return undefined;
                const table = await loadSynonyms(file, { required: config.knowledge.glossary !== 'auto' });
                if (table.size > 0) logger?.info({ file, groups: table.size }, 'glossary loaded');
                return table;
              },
            }),
        )
        .catch((error: unknown) => {
          retriever = undefined;
          throw error;
        });
      return retriever;
    },
    lexical: lexicalEngine,
    async dropCollection() {
      const { client, url } = await connection.connect();
      await new KnowledgeStore({ client, url, collection: config.knowledge.collection, embedder }).drop();
      await (await lexicalEngine())?.clear();
      store = undefined;
      retriever = undefined;
    },
    async close() {
      // A lexical rebuild in progress stops at its next page before its engine and Chroma close.
      await retriever?.then((opened) => opened.close()).catch(() => undefined);
      const opened = lexical;
      lexical = undefined;
      await Promise.allSettled([
        connection.close(),
        opened?.then((engine) => engine?.close()).catch(() => undefined),
      ]);
    },
  };
}
