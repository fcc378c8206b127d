import path from 'node:path';
import { projectRoot } from '../config/load.ts';
import { EmbedderMismatchError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { readDocuments } from './document-reader.ts';
import { type IngestReport, ingestDocuments } from './ingest.ts';
import type { KnowledgeBase } from './knowledge-base.ts';

/** Options of {@link syncKnowledgeSource}. */
export interface SyncKnowledgeSourceOptions {
  knowledgeBase: KnowledgeBase;
  /** Folder or .jsonl to ingest. */
  source: string;
  chunkTokens: number;
  batchSize: number;
  /** Embedding batches in flight at once. @defaultValue 3 */
  concurrency?: number;
  logger?: LoggerLike;
}

/**
 * Start-up ingest: brings the collection up to date with the configured source when the
 * collection is empty or was built from that same source (edits are picked up; unchanged chunks
 * cost nothing). A collection built from another source by `kb ingest` is left alone.
 *
 * @returns the ingest report, or undefined when the collection belongs to another source.
 */
export async function syncKnowledgeSource(
  options: SyncKnowledgeSourceOptions,
): Promise<IngestReport | undefined> {
  const { knowledgeBase, logger } = options;
  const source = path.relative(projectRoot, path.resolve(options.source));
  const store = await knowledgeBase.store().catch(async (error: unknown) => {
    // Built from this same source by an older embedder: derived data, so rebuild it rather than stop.
    if (!(error instanceof EmbedderMismatchError) || error.source !== source) throw error;
    logger?.warn({ source }, `${error.message} Rebuilding it from the configured source.`);
    await knowledgeBase.dropCollection();
    return knowledgeBase.store();
  });
  const info = await store.info();
  if (info.chunks > 0 && info.source && info.source !== source) {
    logger?.info(
      { collection: store.name, holds: info.source, configured: source },
      'knowledge base holds another source; not ingesting',
    );
    return undefined;
  }
  const read = await readDocuments(options.source);
  for (const problem of read.problems) logger?.warn({ source: problem.source }, problem.message);
  const lexical = await knowledgeBase.lexical();
  return ingestDocuments({
    store,
    embedder: knowledgeBase.embedder,
    ...(lexical ? { lexical } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    documents: read.documents,
    keepDocumentIds: read.unreadableIds,
    source,
    chunkTokens: options.chunkTokens,
    batchSize: options.batchSize,
  });
}
