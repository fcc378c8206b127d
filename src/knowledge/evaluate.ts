import { readFile } from 'node:fs/promises';
import { IngestInputError } from '../errors.ts';
import type { RetrievedChunk } from './types.ts';

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
  /** Mean reciprocal rank of the first relevant document (0 when none is in the top k). */
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

/** Runs every query through `search` and scores the ranked document ids against `relevant_ids`. */
export async function evaluateRetrieval(
  queries: readonly EvaluationQuery[],
  k: number,
  search: (query: string, k: number) => Promise<RetrievedChunk[]>,
): Promise<EvaluationReport> {
  let recallSum = 0;
  let reciprocalRankSum = 0;
  const missed: MissedQuery[] = [];
  for (const item of queries) {
    const chunks = await search(item.query, k);
    const ranked = [...new Set(chunks.map((chunk) => chunk.documentId))];
    const relevant = new Set(item.relevant_ids);
    const found = ranked.filter((id) => relevant.has(id)).length;
    recallSum += found / relevant.size;
    const firstRank = ranked.findIndex((id) => relevant.has(id));
    reciprocalRankSum += firstRank === -1 ? 0 : 1 / (firstRank + 1);
    if (found === 0) missed.push({ ...item, retrieved_ids: ranked });
  }
  const count = queries.length;
  return {
    k,
    queries: count,
    recallAtK: count === 0 ? 0 : round(recallSum / count),
    mrr: count === 0 ? 0 : round(reciprocalRankSum / count),
    missed,
  };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
