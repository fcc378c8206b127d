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
    // Three of the four found at least one relevant document.
    expect(report.hitRateAtK).toBe(0.75);
    expect(report.mrr).toBe(0.5);
    expect(report.queries).toBe(4);
    expect(report.missed).toEqual([{ query: 'q3', relevant_ids: ['a'], retrieved_ids: ['x', 'y', 'z'] }]);
  });

  it('reports zero for an empty set instead of NaN', async () => {
    const report = await evaluateRetrieval([], 3, async () => []);
    expect(report).toEqual({ k: 3, queries: 0, recallAtK: 0, hitRateAtK: 0, mrr: 0, missed: [] });
  });

  it('asks for ten results for MRR@10 but scores recall and hits on the first k', async () => {
    const asked: number[] = [];
    const ranking = ['a', 'b', 'c', 'd', 'e', 'f'];
    const report = await evaluateRetrieval([{ query: 'q', relevant_ids: ['e', 'z'] }], 3, async (_, k) => {
      asked.push(k);
      return ranking.slice(0, k).map(chunk);
    });
    expect(asked).toEqual([10]);
    expect(report).toMatchObject({ recallAtK: 0, hitRateAtK: 0, mrr: 0.2 });
    expect(report.missed).toEqual([{ query: 'q', relevant_ids: ['e', 'z'], retrieved_ids: ['a', 'b', 'c'] }]);
    const deep = await evaluateRetrieval([{ query: 'q', relevant_ids: ['e'] }], 20, async (_, k) => {
      asked.push(k);
      return ranking.map(chunk);
    });
    expect(asked.at(-1)).toBe(20);
    expect(deep).toMatchObject({ recallAtK: 1, hitRateAtK: 1, mrr: 0.2 });
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
