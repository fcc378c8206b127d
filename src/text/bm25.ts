/**
 * BM25 over documents held in memory, as two references the bot is measured against:
 *
 * - `plain`: the textbook ranking the published retrieval figures use (one field, IDF
 *   `ln(1 + (N - n + 0.5) / (n + 0.5))`, each distinct query term once) — `kb eval --baseline`.
 * - `fts5`: SQLite FTS5's `bm25()` exactly (IDF `ln((N - n + 0.5) / (n + 0.5))` floored at 1e-6,
 *   a term's frequency summed over the fields times each field's weight, document length counted
 *   unweighted over all fields), so ranking can be tuned without the engine.
 *
 * @see https://www.sqlite.org/fts5.html#the_bm25_function
 * @see https://en.wikipedia.org/wiki/Okapi_BM25
 */

/** Options of {@link Bm25Index}. */
export interface Bm25Options {
  /** Term-frequency saturation. @defaultValue 1.2 */
  k1?: number;
  /** Length normalisation. @defaultValue 0.75 */
  b?: number;
  /** How a term's document frequency becomes its weight. @defaultValue 'plain' */
  idf?: 'plain' | 'fts5';
  /** Weight of each field, in the order the documents give them. @defaultValue 1 for every field */
  fieldWeights?: readonly number[];
}

/** A scored document: its position in the list the index was built from. */
export interface Bm25Hit {
  document: number;
  score: number;
}

interface Posting {
  document: number;
  /** Field-weighted term frequency. */
  frequency: number;
}

/**
 * An inverted index of documents given as fields of terms (already analysed by the caller), ranked
 * by BM25. Ties go to the earlier document, so a ranking is reproducible.
 */
export class Bm25Index {
  readonly #postings = new Map<string, Posting[]>();
  readonly #lengths: Float64Array;
  readonly #averageLength: number;
  readonly #k1: number;
  readonly #b: number;
  readonly #idf: 'plain' | 'fts5';

  constructor(documents: readonly (readonly (readonly string[])[])[], options: Bm25Options = {}) {
    this.#k1 = options.k1 ?? 1.2;
    this.#b = options.b ?? 0.75;
    this.#idf = options.idf ?? 'plain';
    const fieldWeights = options.fieldWeights ?? [];
    this.#lengths = new Float64Array(documents.length);
    documents.forEach((fields, document) => {
      const frequencies = new Map<string, number>();
      let length = 0;
      fields.forEach((terms, field) => {
        const weight = fieldWeights[field] ?? 1;
        length += terms.length;
        for (const term of terms) frequencies.set(term, (frequencies.get(term) ?? 0) + weight);
      });
      this.#lengths[document] = length;
      for (const [term, frequency] of frequencies) {
        let postings = this.#postings.get(term);
        if (!postings) {
          postings = [];
          this.#postings.set(term, postings);
        }
        postings.push({ document, frequency });
      }
    });
    const total = this.#lengths.reduce((sum, length) => sum + length, 0);
    this.#averageLength = documents.length > 0 && total > 0 ? total / documents.length : 1;
  }

  /** Number of documents indexed. */
  get size(): number {
    return this.#lengths.length;
  }

  /** How many documents contain `term`. */
  documentFrequency(term: string): number {
    return this.#postings.get(term)?.length ?? 0;
  }

  /** Every term of the index. */
  vocabulary(): IterableIterator<string> {
    return this.#postings.keys();
  }

  /** The weight of a term in a ranking, from its document frequency. */
  idf(term: string): number {
    const count = this.size;
    const hits = this.documentFrequency(term);
    if (this.#idf === 'plain') return Math.log(1 + (count - hits + 0.5) / (hits + 0.5));
    const idf = Math.log((count - hits + 0.5) / (hits + 0.5));
    return idf > 0 ? idf : 1e-6;
  }

  /**
   * The `k` best documents containing any of `terms`, best first. Each distinct term counts once,
   * as in an OR query of distinct terms.
   */
  search(terms: readonly string[], k: number): Bm25Hit[] {
    if (k <= 0) return [];
    const k1 = this.#k1;
    const b = this.#b;
    const scores = new Map<number, number>();
    for (const term of new Set(terms)) {
      const postings = this.#postings.get(term);
      if (!postings) continue;
      const idf = this.idf(term);
      for (const { document, frequency } of postings) {
        const norm = k1 * (1 - b + (b * (this.#lengths[document] as number)) / this.#averageLength);
        const gain = (idf * (frequency * (k1 + 1))) / (frequency + norm);
        scores.set(document, (scores.get(document) ?? 0) + gain);
      }
    }
    return [...scores]
      .map(([document, score]) => ({ document, score }))
      .sort((left, right) => right.score - left.score || left.document - right.document)
      .slice(0, k);
  }
}

/** The published baselines' tokens: lowercase runs of ASCII letters and digits. */
export function baselineTokens(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}
