import { analyzeTerms, editDistance } from '../text/analysis.ts';
import { fuseScores } from './fusion.ts';
import type { LexicalEngine, LexicalHit } from './lexical/lexical-engine.ts';
import type { SynonymTable } from './synonyms.ts';
import type { KnowledgeChunk, RetrievedChunk } from './types.ts';

/**
 * How {@link rankHybrid} ranks. Chosen with scripts/retrieval-dev.ts on three dev sets (doc2dial,
 * samsung-emanual, the demo store), each value the best or within noise of it on all three.
 */
export interface HybridRankingOptions {
  /**
   * Share of the lexical ranking in the fused score; the vector ranking has the rest. 0.6 was best
   * or tied on all three dev sets (0.5 and 0.7 each lost on two of them). @defaultValue 0.6
   */
  lexicalShare?: number;
  /** Replace query terms the knowledge base does not know by its own close spellings. @defaultValue true */
  correctTypos?: boolean;
}

/** What {@link rankHybrid} ranks: one query, the vector store's candidates, and the lexical engine. */
export interface HybridRankingInput {
  query: string;
  /** Chroma's nearest chunks for the query's vector, best first. */
  vectorHits: readonly RetrievedChunk[];
  /** Absent: vector search alone. */
  lexical: LexicalEngine | undefined;
  /** Candidates taken from each ranking. */
  candidates: number;
  /** For tuning; the defaults are what the bot runs with. */
  options?: HybridRankingOptions;
  /** The operator's glossary for this knowledge base: its groups expand the lexical query. */
  synonyms?: SynonymTable;
}

const defaults = { lexicalShare: 0.6, correctTypos: true } as const satisfies Required<HybridRankingOptions>;

/**
 * The hybrid ranking: the query's analysed terms (misspellings replaced by the knowledge base's
 * own words, then expanded by the operator's glossary) searched in the lexical engine (BM25 with
 * field weights), fused with the vector candidates by a weighted sum of max-normalised scores
 * ({@link fuseScores}). Returns chunks best first, before any per-document limit. A query without
 * a content word (only stop words, punctuation or emoji) has nothing to match and gets no chunks.
 */
export async function rankHybrid(input: HybridRankingInput): Promise<RetrievedChunk[]> {
  const lexicalHits = await searchLexical(input);
  return fuseHybrid(input.vectorHits, lexicalHits, input.options);
}

/**
 * The lexical half of {@link rankHybrid} alone, which needs no vector hits: the Retriever runs it
 * while Chroma answers. `null` when the query has no content word (nothing is to be returned);
 * `undefined` without a lexical engine (vector search alone).
 */
export async function searchLexical(
  input: Omit<HybridRankingInput, 'vectorHits'>,
): Promise<LexicalHit[] | null | undefined> {
  const { lexical, candidates } = input;
  const analysed = lexicalAnalyzer.analyze(input.query);
  if (analysed.length === 0) return null;
  if (!lexical) return undefined;
  const settings = { ...defaults, ...input.options };
  const corrected = settings.correctTypos ? await correctTerms(analysed, lexical) : [...new Set(analysed)];
  const terms = input.synonyms ? input.synonyms.expand(corrected) : corrected;
  return lexical.search(terms, candidates);
}

/** The fused ranking of {@link rankHybrid}, from both halves' results. */
export function fuseHybrid(
  vectorHits: readonly RetrievedChunk[],
  lexicalHits: LexicalHit[] | null | undefined,
  options: HybridRankingOptions = {},
): RetrievedChunk[] {
  if (lexicalHits === null) return [];
  if (lexicalHits === undefined) return [...vectorHits];
  const settings = { ...defaults, ...options };
  const byId = new Map<string, KnowledgeChunk>(vectorHits.map((hit) => [hit.id, hit]));
  for (const hit of lexicalHits) if (!byId.has(hit.chunk.id)) byId.set(hit.chunk.id, hit.chunk);
  const fused: RetrievedChunk[] = [];
  for (const { id, score } of fuseScores([
    { ranking: vectorHits, weight: 1 - settings.lexicalShare },
    {
      ranking: lexicalHits.map((hit) => ({ id: hit.chunk.id, score: hit.score })),
      weight: settings.lexicalShare,
    },
  ])) {
    const chunk = byId.get(id);
    if (chunk) fused.push({ ...chunk, score });
  }
  return fused;
}

/**
 * The fused ranking regrouped by document: documents in the order of their best chunk, and within
 * a document its chunks by lexical score (chunks the lexical engine did not return after, in fused
 * order). Every chunk of a page shares its title, which dominates a short chunk's embedding: the
 * box-contents chunk of a tent's page out-scored its specifications for "trail weight of the
 * tent". Which document answers is the fused ranking's call; which of its passages, BM25's.
 */
export function groupByDocument(
  ranked: readonly RetrievedChunk[],
  lexicalHits: readonly LexicalHit[] | null | undefined,
): RetrievedChunk[] {
  if (!lexicalHits || lexicalHits.length === 0) return [...ranked];
  const lexicalScore = new Map(lexicalHits.map((hit) => [hit.chunk.id, hit.score]));
  const groups = new Map<string, RetrievedChunk[]>();
  for (const chunk of ranked) {
    const group = groups.get(chunk.documentId);
    if (group) group.push(chunk);
    else groups.set(chunk.documentId, [chunk]);
  }
  const score = (chunk: RetrievedChunk) => lexicalScore.get(chunk.id) ?? Number.NEGATIVE_INFINITY;
  // Array.prototype.sort is stable: equal lexical scores keep their fused order.
  return [...groups.values()].flatMap((group) => group.sort((left, right) => score(right) - score(left)));
}

/** Options of {@link correctTerms}. */
export interface TypoCorrectionOptions {
  /**
   * Terms shorter than this are never corrected: too many real words lie one edit from them
   * ("talk"/"walk", "wife"/"life"). @defaultValue 5
   */
  minLength?: number;
  /** Terms at least this long may be two edits from the word meant; shorter ones one. @defaultValue 8 */
  twoEditsFrom?: number;
  /** Most unknown terms looked up, so a pasted log does not cost hundreds of look-ups. @defaultValue 8 */
  maxCorrections?: number;
}

/**
 * The query's distinct terms with each one the knowledge base does not know (document frequency
 * 0) replaced by the closest of its vocabulary's terms (fewest edits, then most documents), when
 * one is within one edit (two for long terms) and starts with the same letter. Terms the knowledge
 * base knows are never changed, nor short terms or terms with digits (model numbers, order numbers).
 */
export async function correctTerms(
  terms: readonly string[],
  engine: Pick<LexicalEngine, 'documentFrequencies' | 'similarTerms'>,
  options: TypoCorrectionOptions = {},
): Promise<string[]> {
  const corrections = await typoCorrections(terms, engine, options);
  return [...new Set(terms.map((term) => corrections.get(term) ?? term))];
}

/** The corrections {@link correctTerms} makes, as misspelt term → the knowledge base's term. */
export async function typoCorrections(
  terms: readonly string[],
  engine: Pick<LexicalEngine, 'documentFrequencies' | 'similarTerms'>,
  options: TypoCorrectionOptions = {},
): Promise<Map<string, string>> {
  const minLength = options.minLength ?? 5;
  const twoEditsFrom = options.twoEditsFrom ?? 8;
  let lookUps = options.maxCorrections ?? 8;
  const corrections = new Map<string, string>();
  const distinct = [...new Set(terms)];
  if (distinct.length === 0) return corrections;
  const frequencies = await engine.documentFrequencies(distinct);
  await Promise.all(
    distinct.map(async (term) => {
      if ((frequencies.get(term) ?? 0) > 0 || term.length < minLength || /\d/.test(term)) return;
      if (lookUps <= 0) return;
      lookUps--;
      const maxEdits = term.length >= twoEditsFrom ? 2 : 1;
      let best: { term: string; edits: number; documents: number } | undefined;
      for (const candidate of await engine.similarTerms(term, { maxEdits, limit: 20 })) {
        // Misspellings rarely touch the first letter; a word differing there is usually another word.
        if (candidate.documents <= 0 || candidate.term[0] !== term[0]) continue;
        const edits = editDistance(term, candidate.term, maxEdits);
        if (edits > maxEdits) continue;
        if (!best || edits < best.edits || (edits === best.edits && candidate.documents > best.documents))
          best = { term: candidate.term, edits, documents: candidate.documents };
      }
      if (best) corrections.set(term, best.term);
    }),
  );
  return corrections;
}

/**
 * The query with each misspelt word (by {@link typoCorrections}) replaced by the knowledge base's
 * own term, so the vector half searches for what the lexical half does: a hashed embedding of
 * "retrun" is far from every page about returns. The text is unchanged when nothing is corrected.
 */
export async function correctQueryText(
  text: string,
  engine: Pick<LexicalEngine, 'documentFrequencies' | 'similarTerms'>,
  options: TypoCorrectionOptions = {},
): Promise<string> {
  const corrections = await typoCorrections(lexicalAnalyzer.analyze(text), engine, options);
  if (corrections.size === 0) return text;
  return text.replace(/[\p{L}\p{N}'’]+/gu, (word) => {
    const [term] = lexicalAnalyzer.analyze(word);
    return term !== undefined ? (corrections.get(term) ?? word) : word;
  });
}

/** The analysis the lexical index is built and searched with; its id is recorded in the index. */
export const lexicalAnalyzer = { id: 'porter-stopword-v1', analyze: analyzeTerms } as const;
