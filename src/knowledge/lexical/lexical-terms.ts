import { editDistance } from '../../text/analysis.ts';
import type { KnowledgeChunk } from '../types.ts';
import type { LexicalAnalyzer, LexicalHit } from './lexical-engine.ts';

/** Most distinct terms of one query sent to an engine: a pasted log of 10,000 characters stays one bounded query. */
export const maxQueryTerms = 64;

/** Longest term kept, in characters: longer "words" (base64, hashes) never help a match. */
export const maxTermLength = 64;

/** The terms of a chunk's three fields, as its index stores them. */
export interface ChunkTerms {
  title: string[];
  headings: string[];
  body: string[];
}

/** Analyses a chunk's title, heading path and text. */
export function analyzeChunk(chunk: KnowledgeChunk, analyzer: LexicalAnalyzer): ChunkTerms {
  const clean = (terms: string[]) => terms.filter(isUsableTerm);
  return {
    title: clean(analyzer.analyze(chunk.title)),
    headings: clean(analyzer.analyze(chunk.headingPath)),
    body: clean(analyzer.analyze(chunk.text)),
  };
}

/** Distinct usable terms of a query, in order, at most {@link maxQueryTerms}. */
export function queryTerms(terms: readonly string[]): string[] {
  const distinct = new Set<string>();
  for (const term of terms) {
    if (!isUsableTerm(term)) continue;
    distinct.add(term);
    if (distinct.size === maxQueryTerms) break;
  }
  return [...distinct];
}

/** A term is one non-empty run without whitespace or control characters, of bounded length. */
export function isUsableTerm(term: string): boolean {
  return term.length > 0 && term.length <= maxTermLength && !/[\s\p{Cc}]/u.test(term);
}

/**
 * Whether `left` and `right` are at most `maxEdits` edits apart, counting an insertion, a deletion,
 * a substitution or a swap of two neighbouring characters as one edit (optimal string alignment).
 * Bounded: stops as soon as every path is over the limit.
 */
export function withinEdits(left: string, right: string, maxEdits: number): boolean {
  return editDistance(left, right, maxEdits) <= maxEdits;
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`: safe to log. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable: hide anything between "://user:" and "@".
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/** Default of the engines' `maxPostings`: chunks scored per query at most, summed over its terms. */
export const defaultMaxPostings = 25_000;

/**
 * The terms a query is run with, so its cost stays bounded however large the knowledge base:
 * terms no chunk has are dropped, and so are terms that alone occur in more chunks than
 * `maxPostings` *and* in more than half of all chunks (BM25 gives those almost no weight: FTS5
 * clamps their IDF to nearly zero). The rest are taken rarest first while the chunks they occur in
 * add up to at most `maxPostings` (the rarest one always). What is left out is a long query's
 * commonest terms, which rank least — the cut Lucene's cutoff frequency makes. A knowledge base
 * smaller than `maxPostings` chunks always gets every known term.
 *
 * @see https://www.elastic.co/blog/stop-stopping-stop-words-a-look-at-common-terms-query
 */
export function selectQueryTerms(
  frequencies: ReadonlyMap<string, number>,
  totalChunks: number,
  maxPostings: number,
): string[] {
  const candidates = [...frequencies]
    .filter(([, documents]) => documents > 0 && (documents <= maxPostings || documents <= totalChunks / 2))
    .sort((left, right) => left[1] - right[1] || left[0].localeCompare(right[0]));
  const selected: string[] = [];
  let postings = 0;
  for (const [term, documents] of candidates) {
    if (selected.length > 0 && postings + documents > maxPostings) break;
    selected.push(term);
    postings += documents;
  }
  return selected;
}

/** A search result row as both engines select it (snake_case columns and the engine's score). */
export interface ChunkRow {
  id: string;
  document_id: string;
  title: string;
  heading_path: string;
  text: string;
  url: string | null;
  chunk_index: number;
  score: number;
}

/** A search result row as a {@link LexicalHit}. */
export function toLexicalHit(row: ChunkRow): LexicalHit {
  return {
    chunk: {
      id: row.id,
      documentId: row.document_id,
      title: row.title,
      headingPath: row.heading_path,
      text: row.text,
      index: row.chunk_index,
      ...(row.url ? { url: row.url } : {}),
    },
    score: row.score,
  };
}
