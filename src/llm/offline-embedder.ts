import { analyze } from '../knowledge/text-analysis.ts';
import type { Embedder, EmbedOptions } from './embedder.ts';

/** Options of {@link OfflineEmbedder}. */
export interface OfflineEmbedderOptions {
  /**
   * Vector length. Fewer slots mean more hash collisions: 2,048 scored clearly better than 768 on
   * the retrieval dev sets, and more gained little. @defaultValue 2048
   */
  dimension?: number;
}

// Tuned with scripts/retrieval-dev.ts; changing any of them changes every vector, so bump the id.
const weights = {
  term: 1,
  bigram: 0.6,
  concept: 0.8,
  /** Shared by all character n-grams of one word, so long words do not dominate. */
  characters: 0.9,
  /** Passages are laid out by `embeddingText`: title, then headings, then text. */
  title: 2,
  heading: 1.5,
} as const;

// Distinct seeds keep a word, a word pair, a concept and a character n-gram with the same spelling
// in different slots.
const seeds = { term: 0x811c9dc5, bigram: 0x2f0b3a4d, concept: 0x5bd1e995, characters: 0x1b873593 } as const;

/**
 * Embeddings without a model, a download or the network: stemmed words, word pairs, help-center
 * concepts and character 3–5-grams (typos, inflections), feature-hashed (FNV-1a) with a sign bit
 * into a fixed-length, L2-normalised vector with sublinear term frequencies. Cosine similarity then
 * behaves like a typo-tolerant TF overlap with synonyms — a solid partner for BM25 in hybrid search,
 * and deterministic.
 */
export class OfflineEmbedder implements Embedder {
  readonly id = 'offline:hash-v3';
  readonly dimension: number;

  constructor(options: OfflineEmbedderOptions = {}) {
    this.dimension = options.dimension ?? 2048;
  }

  /**
   * Embeds passages. A passage laid out as `embeddingText` lays it out (title, headings, then text,
   * line by line) has its title and headings weigh more; a text of one or two lines is embedded as
   * a query is.
   */
  async embedDocuments(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    const vectors: number[][] = [];
    for (const text of texts) {
      options.signal?.throwIfAborted();
      const [title = '', headings = '', ...body] = text.split('\n');
      vectors.push(
        body.length === 0
          ? this.embed(text)
          : this.#vector([
              [title, weights.title],
              [headings, weights.heading],
              [body.join('\n'), 1],
            ]),
      );
    }
    return vectors;
  }

  async embedQuery(text: string, options: EmbedOptions = {}): Promise<number[]> {
    options.signal?.throwIfAborted();
    return this.embed(text);
  }

  /** The vector of one text (synchronous). */
  embed(text: string): number[] {
    return this.#vector([[text, 1]]);
  }

  #vector(parts: readonly (readonly [string, number])[]): number[] {
    counts.clear();
    for (const [text, factor] of parts) {
      const { terms, concepts, words } = analyze(text);
      for (const term of terms) counts.add(hashString(seeds.term, term), weights.term * factor);
      for (let index = 1; index < terms.length; index++) {
        const first = hashString(seeds.bigram, terms[index - 1] as string);
        counts.add(hashString(hashChar(first, 32), terms[index] as string), weights.bigram * factor);
      }
      for (const concept of concepts)
        counts.add(hashString(seeds.concept, concept), weights.concept * factor);
      for (const word of words) addCharacterGrams(word, weights.characters * factor, counts);
    }

    const vector = new Float64Array(this.dimension);
    counts.forEach((hash, count) => {
      // Sublinear term frequency: a word repeated ten times is not ten times as relevant.
      const value = count <= 1 ? count : 1 + Math.log(count);
      const slot = hash % this.dimension;
      vector[slot] = (vector[slot] as number) + (hash & 0x80000000 ? -value : value);
    });
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    const result = new Array<number>(this.dimension);
    for (let slot = 0; slot < this.dimension; slot++)
      result[slot] = norm > 0 ? (vector[slot] as number) / norm : 0;
    return result;
  }
}

/**
 * Weights summed per feature hash: an open-addressing table, several times faster than a `Map` here.
 * One table is reused across calls (embedding is synchronous), cleared through its list of used slots.
 */
class FeatureCounts {
  #keys = new Uint32Array(8192);
  #values = new Float64Array(8192);
  #filled = new Uint8Array(8192);
  #used: number[] = [];

  clear(): void {
    for (const slot of this.#used) this.#filled[slot] = 0;
    this.#used = [];
  }

  add(hash: number, weight: number): void {
    const mask = this.#keys.length - 1;
    let slot = hash & mask;
    while (this.#filled[slot]) {
      if (this.#keys[slot] === hash) {
        (this.#values[slot] as number) += weight;
        return;
      }
      slot = (slot + 1) & mask;
    }
    this.#filled[slot] = 1;
    this.#keys[slot] = hash;
    this.#values[slot] = weight;
    this.#used.push(slot);
    if (this.#used.length * 2 > this.#keys.length) this.#grow();
  }

  forEach(visit: (hash: number, weight: number) => void): void {
    for (const slot of this.#used) visit(this.#keys[slot] as number, this.#values[slot] as number);
  }

  #grow(): void {
    const entries = this.#used.map((slot) => [this.#keys[slot] as number, this.#values[slot] as number]);
    const size = this.#keys.length * 2;
    this.#keys = new Uint32Array(size);
    this.#values = new Float64Array(size);
    this.#filled = new Uint8Array(size);
    this.#used = [];
    for (const [hash, weight] of entries) this.add(hash as number, weight as number);
  }
}

const counts = new FeatureCounts();

/** Character 3–5-grams of `<word>`, sharing `weight` between them; words under four letters have none. */
function addCharacterGrams(word: string, weight: number, counts: FeatureCounts): void {
  if (word.length < 4) return;
  const padded = `<${word}>`;
  const share = weight / (3 * padded.length - 9);
  for (let start = 0; start + 3 <= padded.length; start++) {
    let hash: number = seeds.characters;
    for (let end = start; end < start + 5 && end < padded.length; end++) {
      hash = hashChar(hash, padded.charCodeAt(end));
      if (end - start >= 2) counts.add(hash >>> 0, share);
    }
  }
}

/** 32-bit FNV-1a over UTF-16 code units, continuing from `seed`. */
function hashString(seed: number, text: string): number {
  let hash = seed;
  for (let index = 0; index < text.length; index++) hash = hashChar(hash, text.charCodeAt(index));
  return hash >>> 0;
}

function hashChar(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}
