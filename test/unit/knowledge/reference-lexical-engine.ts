import { lexicalAnalyzer } from '../../../src/knowledge/hybrid-ranking.ts';
import type {
  LexicalEngine,
  LexicalHit,
  LexicalIndexState,
  LexicalRebuildOutcome,
  SimilarTerm,
} from '../../../src/knowledge/lexical/lexical-engine.ts';
import type { KnowledgeChunk } from '../../../src/knowledge/types.ts';
import { editDistance } from '../../../src/text/analysis.ts';
import { Bm25Index } from '../../../src/text/bm25.ts';

/** Field weights (title, headings, body) of the engines' bm25(). */
export type FieldWeights = readonly [number, number, number];

/**
 * SQLite FTS5's bm25() in memory (scripts/retrieval-dev.ts tunes with it; unit tests rank with it), behind the LexicalEngine port: chunks indexed as three columns
 * (title, headings, body) of analysed terms, an OR of distinct terms searched.
 */
export class ReferenceLexicalEngine implements LexicalEngine {
  // Scores as the SQLite engine does; it only lives in this process.
  readonly kind = 'sqlite';
  readonly location = 'memory (FTS5 bm25() reference)';
  readonly analyzer = lexicalAnalyzer;
  readonly #chunks: readonly KnowledgeChunk[];
  readonly #index: Bm25Index;

  constructor(chunks: readonly KnowledgeChunk[], fieldWeights: FieldWeights) {
    this.#chunks = chunks;
    this.#index = new Bm25Index(
      chunks.map((chunk) => [
        lexicalAnalyzer.analyze(chunk.title),
        lexicalAnalyzer.analyze(chunk.headingPath),
        lexicalAnalyzer.analyze(chunk.text),
      ]),
      { idf: 'fts5', fieldWeights },
    );
  }

  async state(): Promise<LexicalIndexState> {
    return { version: 'memory', analyzer: lexicalAnalyzer.id, chunks: this.#chunks.length };
  }
  async upsert(): Promise<void> {}
  async delete(): Promise<void> {}
  async markVersion(): Promise<boolean> {
    return true;
  }
  async rebuild(): Promise<LexicalRebuildOutcome> {
    return 'rebuilt';
  }
  async clear(): Promise<void> {}
  async close(): Promise<void> {}

  async search(terms: readonly string[], k: number): Promise<LexicalHit[]> {
    return this.#index
      .search(terms, k)
      .map(({ document, score }) => ({ chunk: this.#chunks[document] as KnowledgeChunk, score }));
  }

  async documentFrequencies(terms: readonly string[]): Promise<Map<string, number>> {
    return new Map(terms.map((term) => [term, this.#index.documentFrequency(term)]));
  }

  async similarTerms(
    term: string,
    options: { maxEdits?: number; limit?: number } = {},
  ): Promise<SimilarTerm[]> {
    const maxEdits = options.maxEdits ?? 1;
    const similar: SimilarTerm[] = [];
    for (const candidate of this.#index.vocabulary())
      if (candidate !== term && editDistance(term, candidate, maxEdits) <= maxEdits)
        similar.push({ term: candidate, documents: this.#index.documentFrequency(candidate) });
    return similar.sort((left, right) => right.documents - left.documents).slice(0, options.limit ?? 10);
  }
}
