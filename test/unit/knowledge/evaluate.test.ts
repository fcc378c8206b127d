import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateRetrieval, readEvaluationFile } from '../../../src/knowledge/evaluate.ts';
import type { RetrievedChunk } from '../../../src/knowledge/types.ts';

const chunk = (documentId: string): RetrievedChunk => ({
  id: `${documentId}:x`,
  documentId,
  title: documentId,
  headingPath: '',
  text: '',
  index: 0,
  score: 1,
});

describe('evaluateRetrieval', () => {
  it('computes recall@k over distinct documents and MRR of the first relevant one', async () => {
    const rankings: Record<string, string[]> = {
      q1: ['a', 'b', 'c'],
      q2: ['b', 'b', 'a'],
      q3: ['x', 'y', 'z'],
      q4: ['c', 'd', 'e'],
    };
    const report = await evaluateRetrieval(
      [
        { query: 'q1', relevant_ids: ['a'] },
        { query: 'q2', relevant_ids: ['a'] },
        { query: 'q3', relevant_ids: ['a'] },
        { query: 'q4', relevant_ids: ['d', 'q'] },
      ],
      3,
      async (query) => (rankings[query] ?? []).map(chunk),
    );
    // q1: rank 1; q2: distinct docs b, a → rank 2; q3: miss; q4: one of two relevant, rank 2.
    expect(report.recallAtK).toBe(0.625);
    expect(report.mrr).toBe(0.5);
    expect(report.queries).toBe(4);
    expect(report.missed).toEqual([{ query: 'q3', relevant_ids: ['a'], retrieved_ids: ['x', 'y', 'z'] }]);
  });

  it('reports zero for an empty set instead of NaN', async () => {
    const report = await evaluateRetrieval([], 3, async () => []);
    expect(report).toEqual({ k: 3, queries: 0, recallAtK: 0, mrr: 0, missed: [] });
  });
});

describe('readEvaluationFile', () => {
  it('keeps valid lines and names the bad ones by line number', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'eval-test-')), 'queries.jsonl');
    writeFileSync(
      file,
      '{"query":"refund?","relevant_ids":["refunds"]}\nnot json\n{"query":"x","relevant_ids":[]}\n',
    );
    const { queries, problems } = await readEvaluationFile(file);
    expect(queries).toEqual([{ query: 'refund?', relevant_ids: ['refunds'] }]);
    expect(problems.map((problem) => problem.message.split(':')[0])).toEqual(['line 2', 'line 3']);
  });
});
