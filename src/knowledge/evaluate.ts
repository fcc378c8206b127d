import { readFile } from 'node:fs/promises';
import { IngestInputError } from '../errors.ts';
import { Bm25Index, baselineTokens } from '../text/bm25.ts';
import type { KnowledgeChunk, RetrievedChunk } from './types.ts';

/** One line of an evaluation file. */
export interface EvaluationQuery {
  query: string;
  relevant_ids: string[];
}

/** A query whose relevant documents were not all in the top k. */
export interface MissedQuery extends EvaluationQuery {
  retrieved_ids: string[];
}

/** Retrieval quality over an evaluation set. */
export interface EvaluationReport {
  k: number;
  queries: number;
  /** Mean over queries of the share of relevant documents found in the top k chunks. */
  recallAtK: number;
  /**
   * Share of queries with at least one relevant document in the top k. The published BM25 figures
   * of the retrieval dev sets (../shared/data/retrieval) are this; with one relevant document per
   * query it equals `recallAtK`.
   */
  hitRateAtK: number;
  /** Mean reciprocal rank of the first relevant document within the first {@link mrrDepth} (at least k), else 0. */
  mrr: number;
  /** Queries with no relevant document in the top k. */
  missed: MissedQuery[];
}

/**
 * Reads `{"query","relevant_ids"}` lines. Malformed lines are reported with their line number and
 * skipped; the rest are returned.
 */
export async function readEvaluationFile(
  file: string,
): Promise<{ queries: EvaluationQuery[]; problems: IngestInputError[] }> {
  const content = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new IngestInputError(file, `${file} cannot be read`, { cause: error });
  });
  const queries: EvaluationQuery[] = [];
  const problems: IngestInputError[] = [];
  content.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const source = `${file}:${index + 1}`;
    try {
      const record = JSON.parse(line) as Partial<EvaluationQuery>;
      const valid =
        typeof record.query === 'string' &&
        record.query.trim() !== '' &&
        Array.isArray(record.relevant_ids) &&
        record.relevant_ids.length > 0 &&
        record.relevant_ids.every((id) => typeof id === 'string');
      if (!valid) throw new Error('expected {"query": string, "relevant_ids": [string, ...]}');
      queries.push({ query: record.query as string, relevant_ids: record.relevant_ids as string[] });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      problems.push(new IngestInputError(source, `line ${index + 1}: ${reason}; line skipped`));
    }
  });
  return { queries, problems };
}

/** How deep MRR looks: MRR@10, as the published figures, or k when k is larger. */
export const mrrDepth = 10;

/**
 * Runs every query through `search` (asking for max(k, {@link mrrDepth}) results) and scores the
 * ranked document ids against `relevant_ids`: recall@k and hit@k over the first k distinct
 * documents, MRR over the first {@link mrrDepth}.
 */
export async function evaluateRetrieval(
  queries: readonly EvaluationQuery[],
  k: number,
  search: (query: string, k: number) => Promise<RetrievedChunk[]>,
): Promise<EvaluationReport> {
  const depth = Math.max(k, mrrDepth);
  let recallSum = 0;
  let hits = 0;
  let reciprocalRankSum = 0;
  const missed: MissedQuery[] = [];
  for (const item of queries) {
    const chunks = await search(item.query, depth);
    const ranked = [...new Set(chunks.map((chunk) => chunk.documentId))];
    const top = ranked.slice(0, k);
    const relevant = new Set(item.relevant_ids);
    const found = top.filter((id) => relevant.has(id)).length;
    recallSum += found / relevant.size;
    if (found > 0) hits++;
    const firstRank = ranked.slice(0, depth).findIndex((id) => relevant.has(id));
    reciprocalRankSum += firstRank === -1 ? 0 : 1 / (firstRank + 1);
    if (found === 0) missed.push({ ...item, retrieved_ids: top });
  }
  const count = queries.length;
  return {
    k,
    queries: count,
    recallAtK: count === 0 ? 0 : round(recallSum / count),
    hitRateAtK: count === 0 ? 0 : round(hits / count),
    mrr: count === 0 ? 0 : round(reciprocalRankSum / count),
    missed,
  };
}

/** What `kb eval --baseline` ranks with, for the report. */
export const baselineDescription =
  'plain BM25 (k1 1.2, b 0.75, lowercase [a-z0-9]+ tokens, title prepended, no stemming, no stop words) over whole documents';

/**
 * Plain BM25 over the documents the chunks came from (title, then each chunk's headings where they
 * change, then its text, in order), ranking documents: the baseline the published figures of the
 * retrieval dev sets use, to put beside the bot's. Ties go to the document seen first. Each result
 * is the document's first chunk with the document's score.
 */
export function baselineSearch(
  chunks: readonly KnowledgeChunk[],
): (query: string, k: number) => Promise<RetrievedChunk[]> {
  const byDocument = new Map<string, KnowledgeChunk[]>();
  for (const chunk of chunks) {
    const list = byDocument.get(chunk.documentId);
    if (list) list.push(chunk);
    else byDocument.set(chunk.documentId, [chunk]);
  }
  const documents = [...byDocument.values()].map((parts) =>
    parts.sort((left, right) => left.index - right.index),
  );
  const index = new Bm25Index(
    documents.map((parts) => {
      const texts = [parts[0]?.title ?? ''];
      let headings = '';
      for (const part of parts) {
        if (part.headingPath !== headings) texts.push(part.headingPath);
        headings = part.headingPath;
        texts.push(part.text);
      }
      return [baselineTokens(texts.join('\n'))];
    }),
  );
  return async (query, k) =>
    index.search(baselineTokens(query), k).map(({ document, score }) => ({
      ...(documents[document]?.[0] as KnowledgeChunk),
      score,
    }));
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
