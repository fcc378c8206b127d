import type { Embedder } from '../llm/embedder.ts';
import { type ChunkOptions, chunkDocument } from './chunker.ts';
import { computeKnowledgeBaseVersion, type KnowledgeStore } from './knowledge-store.ts';
import type { LexicalEngine, LexicalRebuildOutcome } from './lexical/lexical-engine.ts';
import { rebuildLexicalIndex } from './lexical/rebuild-lexical-index.ts';
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
  /** The lexical index, kept in step with the collection (absent: Chroma only). */
  lexical?: LexicalEngine;
  /** Texts per embedding call. @defaultValue 128 */
  batchSize?: number;
  /**
   * Embedding batches in flight at once, ahead of the writes; each is then written to Chroma and
   * the lexical index, one batch at a time. @defaultValue 3
   */
  concurrency?: number;
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
  /**
   * What happened to the lexical index: `updated` in step with the collection, or the outcome of
   * the rebuild it needed (it was out of step before the ingest); `none` without one.
   */
  lexical: 'none' | 'updated' | LexicalRebuildOutcome;
}

/**
 * Makes the collection hold exactly the chunks of `documents`. Chunk ids are content hashes, so
 * only new or changed passages are embedded, a second run of the same input embeds nothing, and
 * the chunks of removed documents are deleted. New chunks are written before old ones are
 * deleted and the version is recorded last, so an interrupted run leaves a usable knowledge base
 * that the next run completes.
 *
 * Embedding runs up to `concurrency` batches ahead of the writes; each batch is then written to
 * Chroma and to the lexical index, one batch at a time (concurrent upserts slow Chroma down). The lexical index receives the same additions and deletions and then the new
 * version — provided it mirrored the previous version to begin with and nobody cleared it
 * meanwhile (compare-and-set); otherwise it is rebuilt from the collection, in pages, at the end.
 */
export async function ingestDocuments(options: IngestOptions): Promise<IngestReport> {
  const { store, embedder, documents, onProgress, signal, lexical } = options;
  const batchSize = options.batchSize ?? 128;
  const concurrency = Math.max(1, options.concurrency ?? 3);
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

  // The index follows along only if it mirrors what the collection holds now.
  let lexicalInStep = false;
  if (lexical) {
    const state = await lexical.state();
    if (previous.version === '' && existing.size === 0) {
      // A new (or dropped and re-created) collection: whatever the index held belongs to the old one.
      if (state.chunks > 0 || state.version !== '') await lexical.clear();
      lexicalInStep = true;
    } else {
      lexicalInStep = state.analyzer === lexical.analyzer.id && state.version === previous.version;
    }
  }

  onProgress?.({ phase: 'embed', done: 0, total: toAdd.length });
  // Up to `concurrency` batches are embedded ahead (an embeddings API is network-bound); the
  // writes go to Chroma one batch at a time, since concurrent upserts make its indexing slower.
  const pending: Promise<{ batch: KnowledgeChunk[]; vectors: number[][] }>[] = [];
  let next = 0;
  const embedNext = () => {
    if (next >= toAdd.length) return;
    signal?.throwIfAborted();
    const batch = toAdd.slice(next, next + batchSize);
    next += batch.length;
    const embedded = embedder
      .embedDocuments(batch.map(embeddingText), signal ? { signal } : {})
      .then((vectors) => ({ batch, vectors }));
    // Observed when its turn comes; until then a failure must not count as unhandled.
    embedded.catch(() => undefined);
    pending.push(embedded);
  };
  while (pending.length < concurrency && next < toAdd.length) embedNext();
  let done = 0;
  while (pending.length > 0) {
    const { batch, vectors } = await (pending.shift() as (typeof pending)[number]);
    embedNext();
    signal?.throwIfAborted();
    await store.addChunks(batch, vectors);
    if (lexical && lexicalInStep) await lexical.upsert(batch);
    done += batch.length;
    onProgress?.({ phase: 'embed', done, total: toAdd.length });
  }
  if (toDelete.length > 0) {
    onProgress?.({ phase: 'delete', total: toDelete.length });
    await store.deleteChunks(toDelete);
    if (lexical && lexicalInStep) await lexical.delete(toDelete);
  }

  const deleted = new Set(toDelete);
  const finalIds = new Set([...existing.keys()].filter((id) => !deleted.has(id)));
  for (const id of wanted.keys()) finalIds.add(id);
  const version = computeKnowledgeBaseVersion(finalIds, embedder.id);
  await store.recordVersion(version, finalIds.size, options.source);

  let lexicalOutcome: IngestReport['lexical'] = 'none';
  if (lexical) {
    const marked =
      lexicalInStep &&
      (await lexical.markVersion(version, lexical.analyzer.id, { ifVersion: previous.version }));
    lexicalOutcome = marked ? 'updated' : await rebuildLexicalIndex({ store, engine: lexical, version });
  }

  return {
    documents: documents.length,
    chunks: wanted.size,
    added: toAdd.length,
    deleted: toDelete.length,
    unchanged: wanted.size - toAdd.length,
    version,
    previousVersion: previous.version,
    lexical: lexicalOutcome,
  };
}
