import type { Embedder } from '../llm/embedder.ts';
import { analyzeTerms, editDistance, splitWords, stemWord } from '../text/analysis.ts';

/** What a question is compared on. */
export interface QuestionSignature {
  /** Unit-length embedding. */
  vector: Float32Array;
  /** Stems of the meaningful words. */
  terms: string[];
  /** Numbers in the question ("PC-10023", "30 days"): they must agree exactly. */
  numbers: string[];
}

/** A cached (or in-flight) question a new one matched. */
export interface NearDuplicate {
  key: string;
  question: string;
  similarity: number;
}

/** Options of {@link NearDuplicateIndex}. */
export interface NearDuplicateIndexOptions {
  embedder: Embedder;
  /** Least cosine similarity of two questions' embeddings. */
  threshold: number;
  /** Entries kept per scope; the oldest go first. @defaultValue 5_000 */
  maxEntries?: number;
  /**
   * Bytes of embeddings kept per scope, whichever bound comes first: a 2,048-dimension vector
   * (the offline embedder's) takes 8 KB, so 5,000 entries would hold 40 MB outside the JS heap.
   * @defaultValue 8_388_608 (8 MB: 1,024 such vectors, 1,365 of OpenAI's 1,536 dimensions)
   */
  maxBytes?: number;
}

/**
 * Words whose presence or absence does not change what a support question asks: how it is phrased
 * ("what is your … policy", "can you explain", "quick question"). Anything else that differs
 * between two questions — a country, a product, a payment method, "how much" against "how long",
 * "opened" against "unopened" — keeps them apart, however close their embeddings are.
 */
const phrasingWords = new Set(
  (
    'usual usually typical typically normal normally exact exactly possible possibly allowed allow able ' +
    'policy policies rule rules work works way ways go goes going happen happens find out check explain ' +
    'wonder wondering curious quick quickly thing things actually currently team store shop company ' +
    'pinecrest supply co question questions info information details detail process procedure general ' +
    'generally anyway kind sort little bit okay sure say said ask asking look looking help helps ' +
    'regarding about whats tell me some ur u r ya yall pls plz please thx ty thanks thank hi hello hey gonna wanna'
  )
    .split(' ')
    .map(stemWord),
);

/**
 * Question words that decide what is asked ("how much" is a price, "how long" or "when" a time,
 * "where" a place): kept even though retrieval treats them as stopwords.
 */
const questionWords = new Set(['much', 'many', 'long', 'when', 'where', 'why', 'which', 'who', 'whom']);

/**
 * Recognises questions that are the same question reworded, so the answer cache can serve them:
 * two questions match when their embeddings are at least `threshold` alike **and** every meaningful
 * word of one is in the other, apart from phrasing words and single-letter typos of words the
 * knowledge base does not know. The second rule is what keeps "Do you ship to Canada?" from
 * answering "Do you ship to Mexico?", which embeddings alone place very close.
 *
 * Entries live in this process (a bounded index per cache scope); the answers themselves stay in
 * the shared Keyv store, so exact repeats are shared by every instance.
 */
export class NearDuplicateIndex {
  readonly #options: Required<NearDuplicateIndexOptions>;
  readonly #scopes = new Map<string, Map<string, { question: string; signature: QuestionSignature }>>();

  constructor(options: NearDuplicateIndexOptions) {
    this.#options = { maxEntries: 5_000, maxBytes: 8_388_608, ...options };
  }

  get threshold(): number {
    return this.#options.threshold;
  }

  async signature(question: string): Promise<QuestionSignature> {
    const raw = await this.#options.embedder.embedQuery(question);
    let norm = 0;
    for (const value of raw) norm += value * value;
    norm = Math.sqrt(norm) || 1;
    const vector = Float32Array.from(raw, (value) => value / norm);
    return {
      vector,
      terms: [...analyzeTerms(question), ...splitWords(question).filter((word) => questionWords.has(word))],
      numbers: splitWords(question).filter((word) => /\d/.test(word)),
    };
  }

  add(scope: string, key: string, question: string, signature: QuestionSignature): void {
    let entries = this.#scopes.get(scope);
    if (!entries) {
      // A new knowledge-base or prompt version makes the old scopes unreachable: drop them.
      this.#scopes.clear();
      entries = new Map();
      this.#scopes.set(scope, entries);
    }
    entries.delete(key);
    entries.set(key, { question, signature });
    const byBytes = Math.max(1, Math.floor(this.#options.maxBytes / signature.vector.byteLength));
    const limit = Math.min(this.#options.maxEntries, byBytes);
    while (entries.size > limit) entries.delete(entries.keys().next().value as string);
  }

  remove(scope: string, key: string): void {
    this.#scopes.get(scope)?.delete(key);
  }

  /** The most similar compatible entry at or above the threshold. */
  find(
    scope: string,
    signature: QuestionSignature,
    knows: (term: string) => boolean = () => true,
  ): NearDuplicate | undefined {
    let best: NearDuplicate | undefined;
    for (const [key, entry] of this.#scopes.get(scope) ?? []) {
      const similarity = cosine(signature.vector, entry.signature.vector);
      if (similarity < this.#options.threshold || (best && similarity <= best.similarity)) continue;
      if (!sameQuestion(signature, entry.signature, knows)) continue;
      best = { key, question: entry.question, similarity };
    }
    return best;
  }

  /** Whether two questions would match (for evaluation). */
  async matches(left: string, right: string, knows?: (term: string) => boolean): Promise<boolean> {
    const [a, b] = await Promise.all([this.signature(left), this.signature(right)]);
    return cosine(a.vector, b.vector) >= this.#options.threshold && sameQuestion(a, b, knows);
  }

  /** Cosine similarity of two questions' embeddings (for evaluation). */
  async similarity(left: string, right: string): Promise<number> {
    const [a, b] = await Promise.all([this.signature(left), this.signature(right)]);
    return cosine(a.vector, b.vector);
  }
}

function cosine(left: Float32Array, right: Float32Array): number {
  let dot = 0;
  for (let index = 0; index < left.length; index++) dot += (left[index] as number) * (right[index] as number);
  return dot;
}

/**
 * The lexical rule: numbers equal, and the meaningful words that differ are phrasing words or
 * typos (a word the knowledge base does not know, one edit from a word of the other question).
 */
export function sameQuestion(
  left: QuestionSignature,
  right: QuestionSignature,
  knows: (term: string) => boolean = () => true,
): boolean {
  if (left.numbers.join(' ') !== right.numbers.join(' ')) return false;
  // Question words are stop words to the index, so it never "knows" them: they are words, not typos.
  const known = (term: string) => questionWords.has(term) || knows(term);
  const leftTerms = new Set(left.terms.filter((term) => !phrasingWords.has(term)));
  const rightTerms = new Set(right.terms.filter((term) => !phrasingWords.has(term)));
  const onlyLeft = [...leftTerms].filter((term) => !rightTerms.has(term));
  const onlyRight = [...rightTerms].filter((term) => !leftTerms.has(term));
  if (onlyLeft.length !== onlyRight.length) return false;
  // Each differing word must pair with one of the other question as a typo of it.
  for (const term of onlyLeft) {
    const partner = onlyRight.findIndex(
      (other) =>
        Math.min(term.length, other.length) >= 4 &&
        (!known(term) || !known(other)) &&
        editDistance(term, other, 1) <= 1,
    );
    if (partner === -1) return false;
    onlyRight.splice(partner, 1);
  }
  return true;
}
