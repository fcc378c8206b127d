import type { KnowledgeChunk } from '../types.ts';

/**
 * The lexical half of hybrid retrieval, in a real engine instead of the bot's heap: SQLite FTS5
 * (`bm25()`) in the data folder for the embedded default, PostgreSQL full-text search at
 * DATABASE_URL when scaled out. Chroma's local server cannot rank lexically, so the chunks are
 * indexed here as well, kept in step with the collection by ingest.
 *
 * Text is analysed by the engine's {@link LexicalAnalyzer} (src/text), stored as terms, and searched
 * by terms: both sides of a match always went through the same analysis, and `analyzer` names it,
 * so an index built by another analysis is rebuilt rather than silently mismatched.
 *
 * Everything here is derived data: the whole index can be dropped and rebuilt from Chroma
 * ({@link LexicalEngine.rebuild}), so its storage carries no migrations.
 */
export interface LexicalEngine {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';
  /** Where the index lives, for log lines: a file path, or a URL with its password masked and the table. */
  readonly location: string;
  /** The analysis chunks are indexed with; its `id` is what {@link markVersion} should record. */
  readonly analyzer: LexicalAnalyzer;
  /**
   * What the index holds: the knowledge-base version it was last brought to, and by which analyzer.
   * An index that was missing or corrupt reads as never built (`version: ''`), with `problem` saying
   * what was found (the SQLite engine moves a corrupt file aside and starts a new one).
   */
  state(): Promise<LexicalIndexState>;
  /** Adds or replaces chunks (by id). */
  upsert(chunks: readonly KnowledgeChunk[]): Promise<void>;
  /** Removes chunks by id; unknown ids are ignored. */
  delete(ids: readonly string[]): Promise<void>;
  /**
   * Records that the index now matches `version` of the knowledge base, analysed by `analyzer`.
   * With `ifVersion`, only when the index still records that version (compare-and-set: an ingest
   * marks its new version only if nobody cleared or rebuilt the index underneath it).
   * @returns whether the version was recorded.
   */
  markVersion(version: string, analyzer: string, options?: { ifVersion?: string }): Promise<boolean>;
  /** Empties the index (before a rebuild); the recorded version becomes ''. */
  clear(): Promise<void>;
  /**
   * Rebuilds the whole index from `pages` (the collection read in pages, never all at once) and
   * records `version`. One process rebuilds at a time: a lease in the index says who, renewed with
   * every page, and any other write ({@link upsert}, {@link delete}, {@link markVersion},
   * {@link clear} — an ingest) revokes it, which stops the rebuild at its next page.
   * `confirm` is asked before the version is recorded (is the collection still at `version`,
   * with this many chunks?).
   */
  rebuild(input: LexicalRebuildInput): Promise<LexicalRebuildOutcome>;
  /**
   * The `k` best chunks for a query given as analysed terms (any of them may match), best first,
   * scored by the engine's ranking (BM25 with field weights). Chunks sharing nothing with the
   * query are not returned; no terms, no results. Terms are data, never query syntax.
   */
  search(terms: readonly string[], k: number): Promise<LexicalHit[]>;
  /** How many chunks contain each term (0 when none): for typo correction and the cache. */
  documentFrequencies(terms: readonly string[]): Promise<Map<string, number>>;
  /**
   * Terms of the index's vocabulary that may be misspellings of `term`: candidates within
   * `maxEdits` edits (insert, delete, substitute, swap of neighbours; checked exactly), with their
   * document frequencies, most frequent first. Bounded: at most `limit`. The term itself is not
   * returned.
   */
  similarTerms(term: string, options?: { maxEdits?: number; limit?: number }): Promise<SimilarTerm[]>;
  /**
   * Whether the vocabulary holds `term`, answered synchronously: only engines that can answer
   * without waiting on a network (SQLite) have it.
   */
  hasTermSync?(term: string): boolean;
  close(): Promise<void>;
}

/** The analysis an index is built with: `src/knowledge/hybrid-ranking.ts`'s `lexicalAnalyzer`. */
export interface LexicalAnalyzer {
  readonly id: string;
  analyze(text: string): string[];
}

/** See {@link LexicalEngine.state}. */
export interface LexicalIndexState {
  /** The knowledge-base version the index matches; '' when it was never built (or was cleared). */
  version: string;
  analyzer: string;
  chunks: number;
  /** Another process holds the rebuild lease until then (epoch ms). */
  rebuildingUntil?: number;
  /** What was wrong with the index when it was opened (missing, corrupt), if anything. */
  problem?: string;
}

/** See {@link LexicalEngine.rebuild}. */
export interface LexicalRebuildInput {
  version: string;
  analyzer: string;
  pages: AsyncIterable<readonly KnowledgeChunk[]>;
  confirm?: (chunks: number) => Promise<boolean>;
  /** Who rebuilds, recorded in the lease. @defaultValue a random id */
  owner?: string;
  /** How long the lease holds without a renewal. @defaultValue 60_000 */
  leaseMs?: number;
}

/**
 * `rebuilt`: done and recorded; `busy`: another process holds the lease; `superseded`: an ingest
 * (or a newer rebuild) took over mid-way; `unconfirmed`: the collection changed meanwhile, so the
 * version was not recorded.
 */
export type LexicalRebuildOutcome = 'rebuilt' | 'busy' | 'superseded' | 'unconfirmed';

/** A lexical search result: the chunk as indexed, and the engine's score (higher is better). */
export interface LexicalHit {
  chunk: KnowledgeChunk;
  score: number;
}

/** A vocabulary term close to a query term. */
export interface SimilarTerm {
  term: string;
  documents: number;
}

/** Field weights of the lexical ranking, relative to the body. */
export interface FieldWeights {
  /** @defaultValue 2 */
  title?: number;
  /** @defaultValue 1 */
  headings?: number;
  /** @defaultValue 1 */
  body?: number;
}

/** Default {@link FieldWeights}: a title match counts most, then headings, then the body. */
export const defaultFieldWeights = {
  title: 2,
  headings: 1,
  body: 1,
} as const satisfies Required<FieldWeights>;
