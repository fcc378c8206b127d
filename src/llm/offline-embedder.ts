import { isStopword, splitWords, stemWord } from '../text/analysis.ts';
import type { Embedder, EmbedOptions } from './embedder.ts';

/** How much each kind of feature counts; see {@link OfflineEmbedder}. */
export interface OfflineFeatureWeights {
  /** A stemmed content word. */
  term: number;
  /** Two adjacent content words: rewards phrases ("gift card", "screen mirroring"). */
  pair: number;
  /**
   * The norm of one word's character 3–5-grams together (each gets `characters / √count`), so a
   * word's spelling counts about as much as the word whatever its length: typos and inflections.
   */
  characters: number;
  /** Passages are laid out by `embeddingText`: title, then headings, then text. */
  title: number;
  heading: number;
}

/** Options of {@link OfflineEmbedder}. */
export interface OfflineEmbedderOptions {
  /**
   * Vector length. Fewer slots mean more hash collisions: 2,048 scored clearly better than 768 on
   * the retrieval dev sets, and 4,096 gained nothing. @defaultValue 2048
   */
  dimension?: number;
  /**
   * Feature weights, for tuning with scripts/retrieval-dev.ts only: other weights make other
   * vectors, so the id says `-tuning` and such vectors are never mixed with the default ones.
   * @defaultValue {@link offlineFeatureWeights}
   */
  weights?: Partial<OfflineFeatureWeights>;
}

/**
 * The default feature weights, chosen with `scripts/retrieval-dev.ts --grid` on three dev sets at
 * once (doc2dial, samsung-emanual, the demo store), fused as the bot fuses: pairs at 1 beat 0.5 on
 * all three (phrases are most of what a hashed vector can add to BM25), 1.5 lost on two; title 2 and
 * headings 1.5 beat both 1/1 and 3/2 on two of three; characters 0.75 was within 0.003 of the best
 * on each while keeping misspelt queries near their passage. Changing any of them changes every
 * vector: bump the id.
 */
export const offlineFeatureWeights = {
  term: 1,
  pair: 1,
  characters: 0.75,
  title: 2,
  heading: 1.5,
} as const satisfies OfflineFeatureWeights;

// Distinct seeds keep a word, a word pair and a character n-gram with the same spelling in different slots.
const seeds = { term: 0x811c9dc5, pair: 0x2f0b3a4d, characters: 0x1b873593 } as const;

/**
 * Embeddings without a model, a download or the network, and without any word list of its own:
 * the content words of a text (stop words dropped, Porter-stemmed, from src/text), pairs of
 * adjacent content words, and each word's character 3–5-grams (typos, inflections, compounds),
 * feature-hashed (FNV-1a) with a sign bit into a fixed-length, L2-normalised vector with sublinear
 * term frequencies. Cosine similarity then behaves like a typo-tolerant, phrase-aware TF overlap:
 * the partner of the lexical engine's BM25 in hybrid search, and deterministic.
 */
export class OfflineEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly #weights: OfflineFeatureWeights;

  constructor(options: OfflineEmbedderOptions = {}) {
    this.dimension = options.dimension ?? 2048;
    this.#weights = { ...offlineFeatureWeights, ...options.weights };
    this.id = options.weights ? 'offline:hash-v4-tuning' : 'offline:hash-v4';
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
              [title, this.#weights.title],
              [headings, this.#weights.heading],
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
    const weights = this.#weights;
    counts.clear();
    for (const [text, factor] of parts) {
      let previous: number | undefined;
      for (const word of splitWords(text)) {
        if (isStopword(word)) continue;
        const term = stemWord(word);
        counts.add(hashString(seeds.term, term), weights.term * factor);
        if (previous !== undefined && weights.pair > 0)
          counts.add(hashString(hashChar(previous, 32), term), weights.pair * factor);
        previous = hashString(seeds.pair, term);
        if (weights.characters > 0) addCharacterGrams(word, weights.characters * factor, counts);
      }
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
  const share = weight / Math.sqrt(3 * padded.length - 9);
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
