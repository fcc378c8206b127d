import type { Embedder } from '../llm/embedder.ts';
import { type ChunkOptions, chunkDocument } from './chunker.ts';
import { computeKnowledgeBaseVersion, type KnowledgeStore } from './knowledge-store.ts';
import { embeddingText, type KnowledgeChunk, type KnowledgeDocument } from './types.ts';

/** Progress of an ingest, reported as it goes. */
export type IngestProgress =
  | { phase: 'embed'; done: number; total: number }
  | { phase: 'delete'; total: number };

/** Options of {@link ingestDocuments}. */
export interface IngestOptions extends ChunkOptions {
  store: KnowledgeStore;
  embedder: Embedder;
  /** The whole knowledge base: documents not in it (nor in `keepDocumentIds`) are removed. */
  documents: readonly KnowledgeDocument[];
  /** What was read (a folder or .jsonl path), recorded in the collection. */
  source: string;
  /** Documents present in the input that could not be read this time: their chunks are kept. */
  keepDocumentIds?: readonly string[];
  /** Texts per embedding call. @defaultValue 128 */
  batchSize?: number;
  onProgress?: (progress: IngestProgress) => void;
  signal?: AbortSignal;
}

/** What an ingest changed. */
export interface IngestReport {
  documents: number;
  chunks: number;
  /** Chunks embedded and stored: new or changed passages only. */
  added: number;
  /** Chunks of changed or removed documents that were deleted. */
  deleted: number;
  unchanged: number;
  version: string;
  previousVersion: string;
}

/**
 * Makes the collection hold exactly the chunks of `documents`. Chunk ids are content hashes, so
 * only new or changed passages are embedded, a second run of the same input embeds nothing, and
 * the chunks of removed documents are deleted. New chunks are written before old ones are
 * deleted and the version is recorded last, so an interrupted run leaves a usable knowledge base
 * that the next run completes.
 */
export async function ingestDocuments(options: IngestOptions): Promise<IngestReport> {
  const { store, embedder, documents, onProgress, signal } = options;
  const batchSize = options.batchSize ?? 128;
  const previous = await store.info();
  const existing = await store.listChunkIds();

  const wanted = new Map<string, KnowledgeChunk>();
  for (const document of documents) {
    for (const chunk of chunkDocument(document, options)) wanted.set(chunk.id, chunk);
  }
  const kept = new Set(options.keepDocumentIds ?? []);
  const toAdd = [...wanted.values()].filter((chunk) => !existing.has(chunk.id));
  const toDelete = [...existing]
    .filter(([id, documentId]) => !wanted.has(id) && !kept.has(documentId))
    .map(([id]) => id);

  onProgress?.({ phase: 'embed', done: 0, total: toAdd.length });
  for (let start = 0; start < toAdd.length; start += batchSize) {
    signal?.throwIfAborted();
    const batch = toAdd.slice(start, start + batchSize);
    const vectors = await embedder.embedDocuments(batch.map(embeddingText), signal ? { signal } : {});
    await store.addChunks(batch, vectors);
    onProgress?.({ phase: 'embed', done: start + batch.length, total: toAdd.length });
  }
  if (toDelete.length > 0) {
    onProgress?.({ phase: 'delete', total: toDelete.length });
    await store.deleteChunks(toDelete);
  }

  const deleted = new Set(toDelete);
  const finalIds = new Set([...existing.keys()].filter((id) => !deleted.has(id)));
  for (const id of wanted.keys()) finalIds.add(id);
  const version = computeKnowledgeBaseVersion(finalIds, embedder.id);
  await store.recordVersion(version, finalIds.size, options.source);

  return {
    documents: documents.length,
    chunks: wanted.size,
    added: toAdd.length,
    deleted: toDelete.length,
    unchanged: wanted.size - toAdd.length,
    version,
    previousVersion: previous.version,
  };
}
