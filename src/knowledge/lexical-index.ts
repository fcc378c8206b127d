import { analyze, stem, withinOneEdit } from './text-analysis.ts';
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
  /** How much a term in the title counts, relative to the body. @defaultValue 2.5 */
  titleWeight?: number;
  /** How much a term in the headings counts, relative to the body. @defaultValue 1.5 */
  headingWeight?: number;
  /** Weight of concept (synonym) matches, relative to a word match. @defaultValue 0.8 */
  conceptWeight?: number;
  /** Weight of a matching pair of adjacent words, on top of the words themselves. @defaultValue 0.5 */
  bigramWeight?: number;
  /** Weight of a near-miss spelling (one edit away) of a query word. @defaultValue 0.7 */
  fuzzyWeight?: number;
}

const defaults = {
  k1: 1.2,
  b: 0.75,
  titleWeight: 2.5,
  headingWeight: 1.5,
  conceptWeight: 0.8,
  bigramWeight: 0.5,
  fuzzyWeight: 0.7,
} as const satisfies Required<LexicalIndexOptions>;

interface Posting {
  chunk: number;
  /** Field-weighted term frequency. */
  frequency: number;
}

/**
 * BM25F over chunks in memory: title and heading words weigh more than body words, help-center
 * concepts let "money back" find "refunds", adjacent word pairs reward phrases, and a query word
 * that is not in the vocabulary is matched to words one edit away (typos) or to the two words it
 * runs together ("voicemail" for "voice mail").
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
    const { titleWeight, headingWeight, conceptWeight, bigramWeight } = this.#settings;
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
        terms.forEach((term, index) => {
          add(term, weight);
          if (index > 0) add(`${terms[index - 1]} ${term}`, weight * bigramWeight);
        });
        for (const concept of concepts) add(concept, weight * conceptWeight);
        length += terms.length * weight;
      }
      this.#lengths[position] = length;
      for (const [term, frequency] of frequencies) {
        let list = this.#postings.get(term);
        if (!list) {
          list = [];
          this.#postings.set(term, list);
          if (!term.startsWith('#') && !term.includes(' ')) {
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
  /** Whether a term (a stem, as {@link analyze} makes them) occurs in the indexed chunks. */
  has(term: string): boolean {
    return this.#postings.has(term);
  }

  search(query: string, k: number): LexicalHit[] {
    if (k <= 0) return [];
    const queryWeights = this.#queryTerms(query);
    const { k1, b } = this.#settings;
    const count = this.#ids.length;
    const scores = new Float64Array(count);
    for (const [term, queryWeight] of queryWeights) {
      const postings = this.#postings.get(term);
      if (!postings) continue;
      const idf = Math.log(1 + (count - postings.length + 0.5) / (postings.length + 0.5));
      for (const { chunk, frequency } of postings) {
        const norm = k1 * (1 - b + (b * (this.#lengths[chunk] as number)) / this.#averageLength);
        scores[chunk] =
          (scores[chunk] as number) + queryWeight * idf * ((frequency * (k1 + 1)) / (frequency + norm));
      }
    }
    const hits: LexicalHit[] = [];
    scores.forEach((score, chunk) => {
      if (score > 0) hits.push({ id: this.#ids[chunk] as string, score });
    });
    hits.sort((left, right) => right.score - left.score);
    return hits.slice(0, k);
  }

  /** Query terms with their weights: words, their pairs, concepts, and stand-ins for unknown words. */
  #queryTerms(query: string): Map<string, number> {
    const { terms, concepts, words } = analyze(query);
    const { conceptWeight, bigramWeight, fuzzyWeight } = this.#settings;
    const weights = new Map<string, number>();
    const add = (term: string, weight: number) => weights.set(term, Math.max(weights.get(term) ?? 0, weight));
    terms.forEach((term, index) => {
      const previous = terms[index - 1];
      if (previous !== undefined) {
        add(`${previous} ${term}`, bigramWeight);
        const joined = stem(`${words[index - 1]}${words[index]}`);
        if (this.#postings.has(joined)) add(joined, 1);
      }
      if (this.#postings.has(term)) {
        add(term, 1);
        return;
      }
      const parts = this.#split(words[index] as string);
      if (parts) for (const part of parts) add(part, 1);
      else for (const near of this.#nearTerms(term)) add(near, fuzzyWeight);
    });
    for (const concept of concepts) add(concept, conceptWeight);
    return weights;
  }

  /**
   * The two words an unknown word runs together ("voicemail" → "voice mail"), when the index has
   * them side by side.
   */
  #split(word: string): string[] | undefined {
    for (let cut = 2; cut <= word.length - 2; cut++) {
      const pair = `${stem(word.slice(0, cut))} ${stem(word.slice(cut))}`;
      if (this.#postings.has(pair)) return [...pair.split(' '), pair];
    }
    return undefined;
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
