import type { Embedder } from '../llm/embedder.ts';
import { type LoggerLike, silentLogger } from '../observability/logger-like.ts';
import {
  correctQueryText,
  fuseHybrid,
  groupByDocument,
  type HybridRankingOptions,
  lexicalAnalyzer,
  searchLexical,
} from './hybrid-ranking.ts';
import type { KnowledgeStore } from './knowledge-store.ts';
import type { LexicalEngine } from './lexical/lexical-engine.ts';
import { maxQueryTerms } from './lexical/lexical-terms.ts';
import { rebuildLexicalIndex } from './lexical/rebuild-lexical-index.ts';
import type { SynonymTable } from './synonyms.ts';
import type { RetrievedChunk } from './types.ts';

/** Options of {@link Retriever}. */
export interface RetrieverOptions {
  store: KnowledgeStore;
  embedder: Embedder;
  /** The lexical index; absent (or `hybrid: false`): vector search alone. */
  lexical?: LexicalEngine;
  /** Fuse vector search with the lexical engine's ranking. @defaultValue true */
  hybrid?: boolean;
  /** Candidates taken from each ranking before fusion. @defaultValue 30 */
  candidates?: number;
  /** Options of the fused ranking (src/knowledge/hybrid-ranking.ts). */
  ranking?: HybridRankingOptions;
  /**
   * The operator's glossary for the knowledge base ingested from `source` (as the collection
   * records it), or undefined for none; asked again when the recorded source changes.
   */
  glossary?: (source: string) => Promise<SynonymTable | undefined>;
  /** How often the knowledge-base version (and the index's state) is re-read. @defaultValue 5_000 */
  versionCheckIntervalMs?: number;
  /** Longest query used, in characters; the rest is ignored. @defaultValue 2_000 */
  maxQueryCharacters?: number;
  /**
   * At most this many chunks of one document in a result, so the top k name k documents and a long
   * page cannot crowd out the others. @defaultValue 1
   */
  maxChunksPerDocument?: number;
  /** Chunks read from Chroma per step when the lexical index is rebuilt. @defaultValue 1000 */
  rebuildPageSize?: number;
  logger?: LoggerLike;
  /** @defaultValue Date.now */
  now?: () => number;
}

const defaults = {
  hybrid: true,
  candidates: 30,
  ranking: {},
  versionCheckIntervalMs: 5_000,
  maxQueryCharacters: 2_000,
  maxChunksPerDocument: 1,
  rebuildPageSize: 1000,
  logger: silentLogger,
  now: Date.now,
} as const satisfies Omit<Required<RetrieverOptions>, 'store' | 'embedder' | 'lexical' | 'glossary'>;

/** Wait after a failed rebuild (Chroma or the engine down) before the next one. */
const rebuildRetryMs = 30_000;

type Settings = Omit<Required<RetrieverOptions>, 'store' | 'embedder' | 'lexical' | 'glossary'>;

/**
 * Top-k retrieval over the knowledge base: the query's vector against Chroma, fused with the
 * lexical engine's BM25 ranking over the same chunks (`rankHybrid`). Nothing of the knowledge base
 * is held in this process: the lexical engine answers with the chunks themselves.
 *
 * The index must mirror the collection's current version, built by the current analyzer. When it
 * does not (another process ingested, the file is missing or corrupt, another analyzer built it),
 * it is rebuilt from Chroma in pages in the background, announced by one log line, and searches
 * meanwhile use vector search alone. Checked at most every `versionCheckIntervalMs`.
 */
export class Retriever {
  readonly #store: KnowledgeStore;
  readonly #embedder: Embedder;
  readonly #lexical: LexicalEngine | undefined;
  readonly #settings: Settings;
  readonly #options: RetrieverOptions;
  #version: { value: string; source: string; checkedAt: number } | undefined;
  #glossary: { source: string; table: Promise<SynonymTable | undefined> } | undefined;
  #versionRead: Promise<string> | undefined;
  /** The last check of the index against the collection. */
  #checked: { version: string; at: number; ready: boolean } | undefined;
  #checking: Promise<LexicalEngine | undefined> | undefined;
  #rebuilding: Promise<void> | undefined;
  /** After a failed rebuild, none is tried again before this time (epoch ms). */
  #nextRebuildAt = 0;
  readonly #stopping = new AbortController();

  constructor(options: RetrieverOptions) {
    this.#store = options.store;
    this.#embedder = options.embedder;
    this.#options = options;
    const { glossary: _glossary, lexical: _lexical, ...settings } = options;
    this.#settings = { ...defaults, ...settings };
    this.#lexical = this.#settings.hybrid ? options.lexical : undefined;
  }

  /**
   * The knowledge-base version, re-read from the store at most every `versionCheckIntervalMs`. Once
   * one is known, a due re-read runs in the background and the known version answers meanwhile, so
   * a stalled store never holds a question at its cache lookup (nor a greeting behind it).
   */
  async version(): Promise<string> {
    const now = this.#settings.now();
    const known = this.#version;
    // Math.abs: a clock set back re-reads too, rather than trusting the version until it catches up.
    if (known && Math.abs(now - known.checkedAt) < this.#settings.versionCheckIntervalMs) return known.value;
    this.#versionRead ??= this.#store
      .info()
      .then((info) => {
        this.#version = { value: info.version, source: info.source, checkedAt: this.#settings.now() };
        return info.version;
      })
      .finally(() => {
        this.#versionRead = undefined;
      });
    if (!known) return this.#versionRead;
    this.#versionRead.catch(() => undefined);
    return known.value;
  }

  /** Forgets the cached version and index check, e.g. right after an ingest in this process. */
  invalidate(): void {
    this.#version = undefined;
    this.#checked = undefined;
  }

  /**
   * Stops a lexical rebuild in progress after its current page (nothing is recorded; the next
   * process to find the index out of step rebuilds it) and resolves once it has stopped.
   */
  async close(): Promise<void> {
    this.#stopping.abort();
    await this.settled();
  }

  /** Resolves when a lexical rebuild this retriever started is over (for tests and scripts). */
  async settled(): Promise<void> {
    await this.#checking;
    await this.#rebuilding;
  }

  /** The `k` best chunks for a question, best first. */
  async search(
    query: string,
    k: number,
    options: { signal?: AbortSignal; maxChunksPerDocument?: number } = {},
  ): Promise<RetrievedChunk[]> {
    const perDocument = options.maxChunksPerDocument ?? this.#settings.maxChunksPerDocument;
    const text = query.slice(0, this.#settings.maxQueryCharacters);
    if (text.trim() === '' || k <= 0) return [];
    const { candidates, ranking, logger } = this.#settings;
    const limit = Math.max(k, candidates);
    const lexical = await this.#lexicalWhenReady().catch((error: unknown) => {
      // The index's state could not be read (PostgreSQL restarting): vector search alone.
      logger.warn(
        { err: error },
        `lexical index unavailable (${error instanceof Error ? error.message : String(error)}); vector search alone for this query`,
      );
      return undefined;
    });
    // Misspelt words become the knowledge base's own, for both halves (one look-up, bounded).
    const searchText =
      lexical && ranking.correctTypos !== false
        ? await correctQueryText(text, lexical).catch(() => text)
        : text;
    const vector = await this.#embedder.embedQuery(
      searchText,
      options.signal ? { signal: options.signal } : {},
    );
    // Chroma's query goes out first; the lexical engine works while Chroma answers (SQLite in this
    // process, synchronously, so the request must be on its way before it starts).
    const vectorSearch = this.#store.queryByVector(vector, limit);
    vectorSearch.catch(() => undefined);
    const lexicalSearch = (async () => {
      const synonyms = lexical ? await this.#synonyms() : undefined;
      await new Promise<void>((resolve) => setImmediate(resolve));
      return searchLexical({
        query: boundTerms(searchText),
        lexical,
        candidates: limit,
        options: { ...ranking, correctTypos: false },
        ...(synonyms ? { synonyms } : {}),
      }).catch((error: unknown) => {
        // The lexical engine failing (PostgreSQL restarting) costs ranking quality, not the answer.
        logger.warn(
          { engine: lexical?.kind, err: error },
          `lexical search failed (${error instanceof Error ? error.message : String(error)}); vector search alone for this query`,
        );
        this.#checked = undefined;
        return undefined;
      });
    })();
    const [vectorHits, lexicalResult] = await Promise.all([vectorSearch, lexicalSearch]);
    const ranked = groupByDocument(fuseHybrid(vectorHits, lexicalResult, ranking), lexicalResult);
    return limitPerDocument(ranked, k, perDocument);
  }

  /**
   * Tells terms the knowledge base uses from terms it does not (typos), for the answer cache's
   * near-duplicate rule. Terms are analysed as the index is ({@link lexicalAnalyzer}: stop words
   * dropped, Porter stems); those passed here are looked up in one query. The function then answers
   * for those terms; for any other term it asks the engine directly when it can answer
   * synchronously (SQLite), and otherwise answers `true` ("known": the cache's safe default, which
   * only forgoes matching a typo). While the index is being rebuilt, or without a lexical engine,
   * every term counts as known.
   */
  async vocabulary(terms: readonly string[] = []): Promise<(term: string) => boolean> {
    const engine = await this.#lexicalWhenReady();
    if (!engine) return () => true;
    const frequencies = await engine.documentFrequencies([...new Set(terms.slice(0, 256))]);
    return (term) => {
      const documents = frequencies.get(term);
      if (documents !== undefined) return documents > 0;
      return engine.hasTermSync ? engine.hasTermSync(term) : true;
    };
  }

  /** The glossary of the knowledge base's recorded source, loaded once per source. */
  async #synonyms(): Promise<SynonymTable | undefined> {
    const resolve = this.#options.glossary;
    const source = this.#version?.source;
    if (!resolve || source === undefined) return undefined;
    if (this.#glossary?.source !== source) {
      const { logger } = this.#settings;
      const table = resolve(source).catch((error: unknown) => {
        // A broken glossary costs its expansions, not the answer: one line, then none until it changes.
        logger.error(
          { err: error },
          `glossary not used (${error instanceof Error ? error.message : String(error)}); fix the file and restart`,
        );
        return undefined;
      });
      this.#glossary = { source, table };
    }
    return this.#glossary.table;
  }

  /** The lexical engine when it mirrors the collection's current version; else undefined (vector alone). */
  async #lexicalWhenReady(): Promise<LexicalEngine | undefined> {
    const engine = this.#lexical;
    if (!engine || this.#stopping.signal.aborted) return undefined;
    const version = await this.version();
    // Nothing ingested yet: there is nothing to rank.
    if (version === '') return undefined;
    const checked = this.#checked;
    if (
      checked?.version === version &&
      this.#settings.now() - checked.at < this.#settings.versionCheckIntervalMs
    )
      return checked.ready ? engine : undefined;
    if (this.#rebuilding) return undefined;
    this.#checking ??= this.#check(engine, version).finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(engine: LexicalEngine, version: string): Promise<LexicalEngine | undefined> {
    const { logger, now } = this.#settings;
    const state = await engine.state();
    const ready = state.version === version && state.analyzer === engine.analyzer.id;
    this.#checked = { version, at: now(), ready };
    if (ready) return engine;
    // Another process holds the rebuild lease: use its result once it records the version.
    if (state.rebuildingUntil !== undefined && state.rebuildingUntil > now()) return undefined;
    if (now() < this.#nextRebuildAt) return undefined;
    const reason =
      state.problem ??
      (state.version === ''
        ? 'it was never built'
        : state.version !== version
          ? `it holds version ${state.version}, the collection ${version}`
          : `it was built by analyzer "${state.analyzer}", not "${engine.analyzer.id}"`);
    logger.warn(
      { engine: engine.kind, location: engine.location, collection: this.#store.name, version },
      `lexical index out of step with the knowledge base (${reason}): rebuilding it from Chroma in pages; ` +
        'until then searches use vector search alone',
    );
    this.#rebuilding = rebuildLexicalIndex({
      store: this.#store,
      engine,
      version,
      pageSize: this.#settings.rebuildPageSize,
      signal: this.#stopping.signal,
    })
      .then((outcome) =>
        logger.debug({ engine: engine.kind, outcome, version }, 'lexical index rebuild finished'),
      )
      .catch((error: unknown) => {
        this.#nextRebuildAt = now() + rebuildRetryMs;
        logger.error(
          { engine: engine.kind, location: engine.location, err: error },
          `lexical index rebuild failed (${error instanceof Error ? error.message : String(error)}); ` +
            `vector search alone, next attempt in ${rebuildRetryMs / 1000} s`,
        );
      })
      .finally(() => {
        this.#rebuilding = undefined;
        this.#checked = undefined;
      });
    return undefined;
  }
}

/**
 * The query cut after its first {@link maxQueryTerms} distinct terms, so a pasted 10,000-character
 * log costs the lexical engine (and typo correction) a bounded amount of work.
 */
function boundTerms(text: string): string {
  const seen = new Set<string>();
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    for (const term of lexicalAnalyzer.analyze(match[0])) seen.add(term);
    if (seen.size >= maxQueryTerms) return text.slice(0, (match.index ?? 0) + match[0].length);
  }
  return text;
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
