import type { Embedder } from '../llm/embedder.ts';
import { fuseRankings } from './fusion.ts';
import type { KnowledgeStore } from './knowledge-store.ts';
import { LexicalIndex } from './lexical-index.ts';
import type { KnowledgeChunk, RetrievedChunk } from './types.ts';

/** Options of {@link Retriever}. */
export interface RetrieverOptions {
  store: KnowledgeStore;
  embedder: Embedder;
  /** Fuse vector search with an in-process BM25 index. @defaultValue true */
  hybrid?: boolean;
  /** Candidates taken from each ranking before fusion. @defaultValue 30 */
  candidates?: number;
  /** How often the knowledge-base version is re-read from the store. @defaultValue 5_000 */
  versionCheckIntervalMs?: number;
  /** Longest query used, in characters; the rest is ignored. @defaultValue 2_000 */
  maxQueryCharacters?: number;
  /**
   * At most this many chunks of one document in a result, so the top k name k documents and a long
   * page cannot crowd out the others. @defaultValue 1
   */
  maxChunksPerDocument?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

const defaults = {
  hybrid: true,
  candidates: 30,
  versionCheckIntervalMs: 5_000,
  maxQueryCharacters: 2_000,
  maxChunksPerDocument: 1,
  now: Date.now,
} as const satisfies Omit<Required<RetrieverOptions>, 'store' | 'embedder'>;

interface LexicalState {
  index: LexicalIndex;
  chunks: Map<string, KnowledgeChunk>;
}

/**
 * Top-k retrieval over the knowledge base: the query's vector against Chroma, fused with BM25 over
 * the same chunks. The lexical index is rebuilt when the knowledge-base version changes (another
 * process may ingest), checked at most every `versionCheckIntervalMs`.
 */
export class Retriever {
  readonly #store: KnowledgeStore;
  readonly #embedder: Embedder;
  readonly #settings: Omit<Required<RetrieverOptions>, 'store' | 'embedder'>;
  #version: { value: string; checkedAt: number } | undefined;
  #versionRead: Promise<string> | undefined;
  #lexical: { version: string; build: Promise<LexicalState> } | undefined;

  constructor(options: RetrieverOptions) {
    this.#store = options.store;
    this.#embedder = options.embedder;
    this.#settings = { ...defaults, ...options };
  }

  /** The knowledge-base version, re-read from the store at most every `versionCheckIntervalMs`. */
  async version(): Promise<string> {
    const now = this.#settings.now();
    if (this.#version && now - this.#version.checkedAt < this.#settings.versionCheckIntervalMs)
      return this.#version.value;
    this.#versionRead ??= this.#store
      .info()
      .then((info) => {
        this.#version = { value: info.version, checkedAt: this.#settings.now() };
        return info.version;
      })
      .finally(() => {
        this.#versionRead = undefined;
      });
    return this.#versionRead;
  }

  /** Forgets the cached version and index, e.g. right after an ingest in this process. */
  invalidate(): void {
    this.#version = undefined;
    this.#lexical = undefined;
  }

  /** The `k` best chunks for a question, best first. */
  async search(
    query: string,
    k: number,
    options: { signal?: AbortSignal; maxChunksPerDocument?: number } = {},
  ): Promise<RetrievedChunk[]> {
    const perDocument = options.maxChunksPerDocument ?? this.#settings.maxChunksPerDocument;
    const text = query.slice(0, this.#settings.maxQueryCharacters);
    if (text.trim() === '') return [];
    const { candidates, hybrid } = this.#settings;
    const limit = Math.max(k, candidates);
    const vector = await this.#embedder.embedQuery(text, options.signal ? { signal: options.signal } : {});
    const [vectorHits, lexical] = await Promise.all([
      this.#store.queryByVector(vector, limit),
      hybrid ? this.#lexicalIndex() : undefined,
    ]);
    if (!lexical) return limitPerDocument(vectorHits, k, perDocument);

    const lexicalHits = lexical.index.search(text, limit);
    const byId = new Map<string, KnowledgeChunk>(vectorHits.map((hit) => [hit.id, hit]));
    const fused: RetrievedChunk[] = [];
    for (const { id, score } of fuseRankings(vectorHits, lexicalHits)) {
      const chunk = byId.get(id) ?? lexical.chunks.get(id);
      if (chunk) fused.push({ ...chunk, score });
    }
    return limitPerDocument(fused, k, perDocument);
  }

  /** Whether the knowledge base uses a word stem: tells typos from real words. */
  async vocabulary(): Promise<(term: string) => boolean> {
    const { index } = await this.#lexicalIndex();
    return (term) => index.has(term);
  }

  async #lexicalIndex(): Promise<LexicalState> {
    const version = await this.version();
    // Concurrent searches share one build per version rather than each reading every chunk.
    if (this.#lexical?.version !== version) {
      const build = this.#store.getAllChunks().then((chunks) => ({
        index: new LexicalIndex(chunks),
        chunks: new Map(chunks.map((chunk) => [chunk.id, chunk])),
      }));
      build.catch(() => {
        if (this.#lexical?.build === build) this.#lexical = undefined;
      });
      this.#lexical = { version, build };
    }
    return this.#lexical.build;
  }
}

function limitPerDocument(
  ranked: readonly RetrievedChunk[],
  k: number,
  perDocumentLimit: number,
): RetrievedChunk[] {
  const perDocument = new Map<string, number>();
  const results: RetrievedChunk[] = [];
  for (const chunk of ranked) {
    const count = perDocument.get(chunk.documentId) ?? 0;
    if (count >= perDocumentLimit) continue;
    perDocument.set(chunk.documentId, count + 1);
    results.push(chunk);
    if (results.length === k) break;
  }
  return results;
}
