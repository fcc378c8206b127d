import { analyze } from './text-analysis.ts';
import type { KnowledgeChunk } from './types.ts';

/** A lexical search result. */
export interface LexicalHit {
  id: string;
  score: number;
}

/** Options of {@link LexicalIndex}. */
export interface LexicalIndexOptions {
  /** BM25 term-frequency saturation. @defaultValue 1.2 */
  k1?: number;
  /** BM25 length normalisation. @defaultValue 0.75 */
  b?: number;
  /** How much a term in the title counts, relative to the body. @defaultValue 2 */
  titleWeight?: number;
  /** How much a term in the headings counts, relative to the body. @defaultValue 1.5 */
  headingWeight?: number;
  /** Weight of concept (synonym) matches, relative to a word match. @defaultValue 0.6 */
  conceptWeight?: number;
  /** Weight of a near-miss spelling (one edit away) of a query word. @defaultValue 0.7 */
  fuzzyWeight?: number;
}

const defaults = {
  k1: 1.2,
  b: 0.75,
  titleWeight: 2,
  headingWeight: 1.5,
  conceptWeight: 0.6,
  fuzzyWeight: 0.7,
} as const satisfies Required<LexicalIndexOptions>;

interface Posting {
  chunk: number;
  /** Field-weighted term frequency. */
  frequency: number;
}

/**
 * BM25F over chunks in memory: title and heading words weigh more than body words, help-center
 * concepts let "money back" find "refunds", and a query word that is not in the vocabulary is
 * matched to words one edit away (typos).
 */
export class LexicalIndex {
  readonly #ids: string[];
  readonly #lengths: Float64Array;
  readonly #averageLength: number;
  readonly #postings = new Map<string, Posting[]>();
  readonly #byLength = new Map<number, string[]>();
  readonly #settings: Required<LexicalIndexOptions>;

  constructor(chunks: readonly KnowledgeChunk[], options: LexicalIndexOptions = {}) {
    this.#settings = { ...defaults, ...options };
    const { titleWeight, headingWeight, conceptWeight } = this.#settings;
    this.#ids = chunks.map((chunk) => chunk.id);
    this.#lengths = new Float64Array(chunks.length);
    chunks.forEach((chunk, position) => {
      const frequencies = new Map<string, number>();
      const add = (term: string, weight: number) =>
        frequencies.set(term, (frequencies.get(term) ?? 0) + weight);
      const fields: [string, number][] = [
        [chunk.title, titleWeight],
        [chunk.headingPath, headingWeight],
        [chunk.text, 1],
      ];
      let length = 0;
      for (const [text, weight] of fields) {
        const { terms, concepts } = analyze(text);
        for (const term of terms) add(term, weight);
        for (const concept of concepts) add(concept, weight * conceptWeight);
        length += terms.length * weight;
      }
      this.#lengths[position] = length;
      for (const [term, frequency] of frequencies) {
        let list = this.#postings.get(term);
        if (!list) {
          list = [];
          this.#postings.set(term, list);
          if (!term.startsWith('#')) {
            const sameLength = this.#byLength.get(term.length) ?? [];
            sameLength.push(term);
            this.#byLength.set(term.length, sameLength);
          }
        }
        list.push({ chunk: position, frequency });
      }
    });
    const total = this.#lengths.reduce((sum, length) => sum + length, 0);
    this.#averageLength = chunks.length > 0 ? total / chunks.length : 1;
  }

  /** Number of chunks indexed. */
  get size(): number {
    return this.#ids.length;
  }

  /** The `k` best chunks for a query, best first; only chunks sharing something with it. */
  search(query: string, k: number): LexicalHit[] {
    const { terms, concepts } = analyze(query);
    const queryWeights = new Map<string, number>();
    const add = (term: string, weight: number) =>
      queryWeights.set(term, Math.max(queryWeights.get(term) ?? 0, weight));
    for (const term of terms) {
      if (this.#postings.has(term)) add(term, 1);
      else for (const near of this.#nearTerms(term)) add(near, this.#settings.fuzzyWeight);
    }
    for (const concept of concepts) add(concept, this.#settings.conceptWeight);

    const { k1, b } = this.#settings;
    const count = this.#ids.length;
    const scores = new Float64Array(count);
    for (const [term, queryWeight] of queryWeights) {
      const postings = this.#postings.get(term);
      if (!postings) continue;
      const idf = Math.log(1 + (count - postings.length + 0.5) / (postings.length + 0.5));
      for (const { chunk, frequency } of postings) {
        const norm = k1 * (1 - b + (b * (this.#lengths[chunk] ?? 0)) / this.#averageLength);
        scores[chunk] =
          (scores[chunk] ?? 0) + queryWeight * idf * ((frequency * (k1 + 1)) / (frequency + norm));
      }
    }
    const hits: LexicalHit[] = [];
    scores.forEach((score, chunk) => {
      if (score > 0) hits.push({ id: this.#ids[chunk] as string, score });
    });
    hits.sort((left, right) => right.score - left.score);
    return hits.slice(0, k);
  }

  /** Vocabulary words one edit (insert, delete, substitute, swap) away from a word of 5+ letters. */
  #nearTerms(term: string): string[] {
    if (term.length < 5 || /\d/.test(term)) return [];
    const near: string[] = [];
    for (const length of [term.length - 1, term.length, term.length + 1]) {
      for (const candidate of this.#byLength.get(length) ?? []) {
        if (withinOneEdit(term, candidate)) near.push(candidate);
      }
    }
    return near;
  }
}

function withinOneEdit(left: string, right: string): boolean {
  if (left === right) return true;
  if (left.length === right.length) {
    let first = -1;
    let differences = 0;
    for (let index = 0; index < left.length; index++) {
      if (left[index] === right[index]) continue;
      differences++;
      if (differences === 1) first = index;
      else if (
        differences === 2 &&
        index === first + 1 &&
        left[first] === right[index] &&
        left[index] === right[first]
      )
        continue;
      else return false;
    }
    return true;
  }
  const [shorter, longer] = left.length < right.length ? [left, right] : [right, left];
  if (longer.length - shorter.length !== 1) return false;
  let skipped = false;
  for (let short = 0, long = 0; short < shorter.length; long++) {
    if (shorter[short] === longer[long]) short++;
    else if (skipped) return false;
    else skipped = true;
  }
  return true;
}
