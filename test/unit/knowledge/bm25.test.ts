import { describe, expect, it } from 'vitest';
import { baselineSearch, evaluateRetrieval } from '../../../src/knowledge/evaluate.ts';
import type { KnowledgeChunk } from '../../../src/knowledge/types.ts';
import { Bm25Index, baselineTokens } from '../../../src/text/bm25.ts';

const chunk = (
  documentId: string,
  index: number,
  title: string,
  text: string,
  headingPath = '',
): KnowledgeChunk => ({
  id: `${documentId}:${index}`,
  documentId,
  title,
  headingPath,
  text,
  index,
});

describe('Bm25Index', () => {
  it('scores plain BM25 as computed by hand', () => {
    // N = 2, "c" in one document: idf = ln(1 + 1.5 / 1.5) = ln 2; avgdl = 2.5;
    // document 1 has f = 2 and length 3: 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2.5)).
    const index = new Bm25Index([[['a', 'b']], [['a', 'c', 'c']]]);
    const [hit, ...rest] = index.search(['c'], 10);
    expect(rest).toEqual([]);
    expect(hit?.document).toBe(1);
    expect(hit?.score).toBeCloseTo((Math.LN2 * 4.4) / 3.38, 12);
    // "a" is everywhere: plain IDF stays positive, ln(1 + 0.5 / 2.5).
    expect(index.idf('a')).toBeCloseTo(Math.log(1.2), 12);
  });

  it('counts each distinct query term once', () => {
    const index = new Bm25Index([[['a', 'b']], [['a', 'c', 'c']]]);
    expect(index.search(['c', 'c', 'c'], 1)).toEqual(index.search(['c'], 1));
  });

  it("scores as FTS5's bm25(): field-weighted frequency, unweighted length, IDF floored", () => {
    // Fields: title, body; weights 2 and 1. N = 3, total length 6, avgdl 2.
    const index = new Bm25Index(
      [
        [['refund'], ['money', 'back']],
        [[], ['refund', 'policy']],
        [[], ['shipping']],
      ],
      { idf: 'fts5', fieldWeights: [2, 1] },
    );
    // "shipping": n = 1, idf = ln(2.5 / 1.5); f = 1, length 1: 2.2 / (1 + 1.2 * (0.25 + 0.75 / 2)).
    expect(index.search(['shipping'], 3)).toEqual([
      { document: 2, score: expect.closeTo((Math.log(2.5 / 1.5) * 2.2) / 1.75, 12) },
    ]);
    // "refund" is in 2 of 3: ln(1.5 / 2.5) < 0, floored at 1e-6; the title match (f = 2) still wins.
    expect(index.idf('refund')).toBe(1e-6);
    const refund = index.search(['refund'], 3);
    expect(refund.map((hit) => hit.document)).toEqual([0, 1]);
    expect(refund[0]?.score).toBeCloseTo((1e-6 * 2 * 2.2) / (2 + 1.2 * (0.25 + (0.75 * 3) / 2)), 18);
    expect(index.documentFrequency('refund')).toBe(2);
    expect(index.documentFrequency('nothing')).toBe(0);
  });

  it('breaks ties by document order and returns nothing for k = 0 or unknown terms', () => {
    const index = new Bm25Index([[['x']], [['x']], [['y']]]);
    expect(index.search(['x'], 5).map((hit) => hit.document)).toEqual([0, 1]);
    expect(index.search(['x'], 0)).toEqual([]);
    expect(index.search(['zzz'], 5)).toEqual([]);
    expect(new Bm25Index([]).search(['x'], 3)).toEqual([]);
  });

  it('tokenises as the published baseline does: lowercase ASCII letters and digits', () => {
    expect(baselineTokens("Can't pair the Galaxy S10's remote (model AX-200)?")).toEqual([
      'can',
      't',
      'pair',
      'the',
      'galaxy',
      's10',
      's',
      'remote',
      'model',
      'ax',
      '200',
    ]);
  });
});

describe('baselineSearch', () => {
  const chunks = [
    chunk('returns', 1, 'Returns', 'Labels are free for defective items.', 'Costs'),
    chunk('returns', 0, 'Returns', 'You can return most items within 30 days.'),
    chunk('shipping', 0, 'Shipping', 'Orders ship in 2 days. Returns are not shipping.'),
    chunk('hammock', 0, 'Drift hammock', 'Holds 400 lb.'),
  ];

  it('ranks whole documents (title, headings and every chunk) without stemming', async () => {
    const search = baselineSearch(chunks);
    const hits = await search('free labels for returns', 3);
    expect(hits.map((hit) => hit.documentId)).toEqual(['returns', 'shipping']);
    // Each result is the document's first chunk.
    expect(hits[0]?.id).toBe('returns:0');
    expect(await search('costs', 3)).toHaveLength(1);
    // No stemming: "label" does not match "labels".
    expect(await search('label', 3)).toEqual([]);
  });

  it('is scored like any search by evaluateRetrieval', async () => {
    const report = await evaluateRetrieval(
      [
        { query: 'how much weight does the hammock hold', relevant_ids: ['hammock'] },
        { query: 'label', relevant_ids: ['returns'] },
      ],
      3,
      baselineSearch(chunks),
    );
    expect(report).toMatchObject({ recallAtK: 0.5, hitRateAtK: 0.5, mrr: 0.5 });
  });
});
