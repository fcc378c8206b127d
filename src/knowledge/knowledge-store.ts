import { createHash } from 'node:crypto';
import type { ChromaClient, Collection, Metadata } from 'chromadb';
import { ChromaUnavailableError, EmbedderMismatchError, SupportBotError } from '../errors.ts';
import type { Embedder } from '../llm/embedder.ts';
import type { KnowledgeChunk, RetrievedChunk } from './types.ts';

/** Options of {@link KnowledgeStore}. */
export interface KnowledgeStoreOptions {
  /** A connected Chroma client; one per process, shared by every store. */
  client: ChromaClient;
  /** The server's URL, named in errors. */
  url: string;
  /** Collection name (3–512 characters). */
  collection: string;
  /** The embedder whose vectors this collection holds; recorded in the collection's metadata. */
  embedder: Pick<Embedder, 'id' | 'dimension'>;
}

/** What the collection records about itself. */
export interface KnowledgeBaseInfo {
  embedder: string;
  dimension: number;
  /** Changes whenever the content changes; empty before the first ingest. Used in cache keys. */
  version: string;
  chunks: number;
  /** What the last ingest read (a folder or .jsonl path), so start-up can tell whose data this is. */
  source: string;
}

const pageSize = 1000;
const writeBatchSize = 500;

/**
 * The collection's HNSW index, set when it is created. Cosine space (our vectors are unit length).
 * `ef_search` 200 instead of 100: the retrieval dev sets lost up to 0.01 recall@3 to approximate
 * neighbours at 100, and a query at 100,000 chunks still takes about 10 ms (`npm run bench:kb`).
 * The build parameters stay at Chroma's defaults: `ef_construction` is most of an ingest's cost
 * but lowering it to 64 gained 3 % in a micro-benchmark, and a larger `batch_size` gained nothing.
 */
const collectionIndex = { space: 'cosine', ef_search: 200 } as const;

/**
 * The knowledge base's chunks in one Chroma collection (cosine space, vectors supplied by us).
 * Opening is memoised, so any number of concurrent first callers share one round of requests.
 */
export class KnowledgeStore {
  readonly #options: KnowledgeStoreOptions;
  #collection: Promise<Collection> | undefined;

  constructor(options: KnowledgeStoreOptions) {
    this.#options = options;
  }

  /** The collection name. */
  get name(): string {
    return this.#options.collection;
  }

  /**
   * Gets or creates the collection and checks that it was built by the configured embedder.
   * @throws {@link EmbedderMismatchError} when another embedder or dimension built it.
   */
  open(): Promise<Collection> {
    this.#collection ??= this.#openCollection().catch((error: unknown) => {
      this.#collection = undefined;
      throw error;
    });
    return this.#collection;
  }

  async #openCollection(): Promise<Collection> {
    const { client, collection: name, embedder } = this.#options;
    const collection = await this.#call('open the collection', () =>
      client.getOrCreateCollection({
        name,
        embeddingFunction: null,
        configuration: { hnsw: collectionIndex },
        metadata: {
          embedder: embedder.id,
          dimension: embedder.dimension,
          version: '',
          chunks: 0,
          source: '',
        },
      }),
    );
    // A collection created before ef_search was raised gets it now (a search-time setting only).
    const efSearch = collection.configuration?.hnsw?.ef_search;
    if (typeof efSearch === 'number' && efSearch < collectionIndex.ef_search) {
      await this.#call('raise ef_search', () =>
        collection.modify({ configuration: { hnsw: { ef_search: collectionIndex.ef_search } } }),
      );
    }
    const recorded = collection.metadata ?? {};
    const sameEmbedder = recorded.embedder === embedder.id && recorded.dimension === embedder.dimension;
    if (!sameEmbedder) {
      const count = await this.#call('count chunks', () => collection.count());
      if (count > 0) {
        throw new EmbedderMismatchError(
          `Collection "${name}" was built with ${String(recorded.embedder)} (${String(recorded.dimension)} dimensions) ` +
            `but the configured embedder is ${embedder.id} (${embedder.dimension}): re-ingest with ` +
            '`npm run kb -- ingest PATH --rebuild`, or set KB_COLLECTION to another collection.',
          { source: String(recorded.source ?? '') },
        );
      }
      await this.#call('record the embedder', () =>
        collection.modify({
          metadata: {
            embedder: embedder.id,
            dimension: embedder.dimension,
            version: '',
            chunks: 0,
            source: '',
          },
        }),
      );
    }
    return collection;
  }

  /** Reads what the collection records about itself (fresh from the server). */
  async info(): Promise<KnowledgeBaseInfo> {
    const { client, collection: name } = this.#options;
    await this.open();
    const collection = await this.#call('read the collection', () =>
      client.getCollection({ name, embeddingFunction: undefined }),
    );
    const metadata = collection.metadata ?? {};
    return {
      embedder: String(metadata.embedder ?? ''),
      dimension: Number(metadata.dimension ?? 0),
      version: String(metadata.version ?? ''),
      chunks: Number(metadata.chunks ?? 0),
      source: String(metadata.source ?? ''),
    };
  }

  /** Every chunk id in the collection with the document it belongs to. */
  async listChunkIds(): Promise<Map<string, string>> {
    const collection = await this.open();
    const ids = new Map<string, string>();
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.#call('list chunks', () =>
        collection.get({ include: ['metadatas'], limit: pageSize, offset }),
      );
      page.ids.forEach((id, index) => {
        ids.set(id, String(page.metadatas[index]?.documentId ?? ''));
      });
      if (page.ids.length < pageSize) return ids;
    }
  }

  /**
   * Every chunk with its text, all at once: for small collections only (evaluation baselines).
   * Anything that scales with the knowledge base reads {@link chunkPages} instead.
   */
  async getAllChunks(): Promise<KnowledgeChunk[]> {
    const chunks: KnowledgeChunk[] = [];
    for await (const page of this.chunkPages()) chunks.push(...page);
    return chunks;
  }

  /** The collection's chunks with their text, one page at a time (rebuilding the lexical index). */
  async *chunkPages(size = pageSize): AsyncGenerator<KnowledgeChunk[]> {
    const collection = await this.open();
    for (let offset = 0; ; offset += size) {
      const page = await this.#call('read chunks', () =>
        collection.get({ include: ['metadatas', 'documents'], limit: size, offset }),
      );
      if (page.ids.length > 0)
        yield page.ids.map((id, index) =>
          toChunk(id, page.documents[index] ?? '', page.metadatas[index] ?? {}),
        );
      if (page.ids.length < size) return;
    }
  }

  /** How many chunks the collection holds. */
  async count(): Promise<number> {
    const collection = await this.open();
    return this.#call('count chunks', () => collection.count());
  }

  /** Stores chunks with their vectors (same order). */
  async addChunks(chunks: readonly KnowledgeChunk[], embeddings: readonly number[][]): Promise<void> {
    const collection = await this.open();
    for (let start = 0; start < chunks.length; start += writeBatchSize) {
      const batch = chunks.slice(start, start + writeBatchSize);
      await this.#call('store chunks', () =>
        collection.upsert({
          ids: batch.map((chunk) => chunk.id),
          embeddings: embeddings.slice(start, start + writeBatchSize) as number[][],
          documents: batch.map((chunk) => chunk.text),
          metadatas: batch.map(toMetadata),
        }),
      );
    }
  }

  /** Deletes chunks by id. */
  async deleteChunks(ids: readonly string[]): Promise<void> {
    const collection = await this.open();
    for (let start = 0; start < ids.length; start += writeBatchSize) {
      await this.#call('delete chunks', () =>
        collection.delete({ ids: ids.slice(start, start + writeBatchSize) }),
      );
    }
  }

  /** Records the knowledge-base version, size and source after an ingest. */
  async recordVersion(version: string, chunks: number, source: string): Promise<void> {
    const collection = await this.open();
    const { embedder } = this.#options;
    await this.#call('record the version', () =>
      collection.modify({
        metadata: { embedder: embedder.id, dimension: embedder.dimension, version, chunks, source },
      }),
    );
  }

  /** The `limit` nearest chunks to a query vector, scored by cosine similarity. */
  async queryByVector(vector: readonly number[], limit: number): Promise<RetrievedChunk[]> {
    const collection = await this.open();
    const result = await this.#call('search', () =>
      collection.query({
        queryEmbeddings: [vector as number[]],
        nResults: limit,
        include: ['documents', 'metadatas', 'distances'],
      }),
    );
    const ids = result.ids[0] ?? [];
    return ids.map((id, index) => ({
      ...toChunk(id, result.documents[0]?.[index] ?? '', result.metadatas[0]?.[index] ?? {}),
      score: 1 - (result.distances[0]?.[index] ?? 1),
    }));
  }

  /** Deletes the whole collection (for `kb ingest --rebuild`). */
  async drop(): Promise<void> {
    const { client, collection: name } = this.#options;
    const existing = await this.#call('list collections', () => client.listCollections());
    if (existing.some((collection) => collection.name === name)) {
      await this.#call('delete the collection', () => client.deleteCollection({ name }));
    }
    this.#collection = undefined;
  }

  async #call<T>(action: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof SupportBotError) throw error;
      const { url, collection } = this.#options;
      if (isConnectionFailure(error)) {
        throw new ChromaUnavailableError(
          url,
          `Chroma at ${url} is not reachable (could not ${action}): start it, or set CHROMA_URL to a running server.`,
          { cause: error },
        );
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new SupportBotError(
        'chroma_error',
        `Chroma at ${url} failed to ${action} in "${collection}": ${reason}`,
        {
          cause: error,
        },
      );
    }
  }
}

/**
 * The knowledge-base version: a hash of every chunk id (ids are content hashes) and the embedder,
 * so it changes exactly when what retrieval can return changes.
 */
export function computeKnowledgeBaseVersion(chunkIds: Iterable<string>, embedderId: string): string {
  const hash = createHash('sha256').update(embedderId);
  for (const id of [...chunkIds].sort()) hash.update('\n').update(id);
  return hash.digest('hex').slice(0, 16);
}

function isConnectionFailure(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current.name === 'ChromaConnectionError') return true;
    if (
      /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|fetch failed|Failed to connect/i.test(current.message)
    )
      return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|UND_ERR)/.test(code))
      return true;
  }
  return false;
}

function toMetadata(chunk: KnowledgeChunk): Metadata {
  return {
    documentId: chunk.documentId,
    title: chunk.title,
    headingPath: chunk.headingPath,
    index: chunk.index,
    ...(chunk.url ? { url: chunk.url } : {}),
  };
}

function toChunk(id: string, text: string, metadata: Metadata): KnowledgeChunk {
  return {
    id,
    documentId: String(metadata.documentId ?? ''),
    title: String(metadata.title ?? ''),
    headingPath: String(metadata.headingPath ?? ''),
    text,
    index: Number(metadata.index ?? 0),
    ...(typeof metadata.url === 'string' ? { url: metadata.url } : {}),
  };
}
