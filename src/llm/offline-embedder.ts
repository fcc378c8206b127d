import { analyze } from '../knowledge/text-analysis.ts';
import type { Embedder, EmbedOptions } from './embedder.ts';

/** Options of {@link OfflineEmbedder}. */
export interface OfflineEmbedderOptions {
  /** Vector length. @defaultValue 1024 */
  dimension?: number;
}

const weights = {
  term: 1,
  bigram: 0.6,
  concept: 0.8,
  /** Shared by all character n-grams of one word, so long words do not dominate. */
  characters: 0.9,
} as const;

/**
 * Embeddings without a model, a download or the network: stemmed words, word pairs, help-center
 * concepts and character 3–5-grams (typos, inflections), feature-hashed with a sign bit into a
 * fixed-length, L2-normalised vector. Cosine similarity then behaves like a typo-tolerant TF
 * overlap with synonyms — a solid partner for BM25 in hybrid search, and deterministic.
 */
export class OfflineEmbedder implements Embedder {
  readonly id = 'offline:hash-v2';
  readonly dimension: number;

  constructor(options: OfflineEmbedderOptions = {}) {
    this.dimension = options.dimension ?? 1024;
  }

  async embedDocuments(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    const vectors: number[][] = [];
    for (const text of texts) {
      options.signal?.throwIfAborted();
      vectors.push(this.embed(text));
    }
    return vectors;
  }

  async embedQuery(text: string, options: EmbedOptions = {}): Promise<number[]> {
    options.signal?.throwIfAborted();
    return this.embed(text);
  }

  /** The vector of one text (synchronous). */
  embed(text: string): number[] {
    const { terms, concepts, words } = analyze(text);
    const counts = new Map<string, number>();
    const add = (feature: string, weight: number) => counts.set(feature, (counts.get(feature) ?? 0) + weight);

    for (const term of terms) add(`w:${term}`, weights.term);
    for (let index = 1; index < terms.length; index++)
      add(`b:${terms[index - 1]} ${terms[index]}`, weights.bigram);
    for (const concept of concepts) add(concept, weights.concept);
    for (const word of words) {
      const grams = characterGrams(word);
      const share = weights.characters / Math.max(1, grams.length);
      for (const gram of grams) add(`c:${gram}`, share);
    }

    const vector = new Float64Array(this.dimension);
    for (const [feature, count] of counts) {
      const hash = fnv1a(feature);
      // Sublinear term frequency: a word repeated ten times is not ten times as relevant.
      const value = count <= 1 ? count : 1 + Math.log(count);
      const slot = hash % this.dimension;
      vector[slot] = (vector[slot] ?? 0) + (hash & 0x80000000 ? -value : value);
    }
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    return Array.from(vector, (value) => (norm > 0 ? value / norm : 0));
  }
}

function characterGrams(word: string): string[] {
  if (word.length < 4) return [];
  const padded = `<${word}>`;
  const grams: string[] = [];
  for (let size = 3; size <= 5; size++) {
    for (let start = 0; start + size <= padded.length; start++) grams.push(padded.slice(start, start + size));
  }
  return grams;
}

/** 32-bit FNV-1a over UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
