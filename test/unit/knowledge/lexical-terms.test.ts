import { describe, expect, it } from 'vitest';
import { lexicalAnalyzer } from '../../../src/knowledge/hybrid-ranking.ts';
import {
  analyzeChunk,
  isUsableTerm,
  maskUrl,
  maxQueryTerms,
  queryTerms,
  selectQueryTerms,
  withinEdits,
} from '../../../src/knowledge/lexical/lexical-terms.ts';
import { matchExpression } from '../../../src/knowledge/lexical/sqlite-lexical-engine.ts';

describe('withinEdits', () => {
  it.each([
    ['refund', 'refund', 0, true],
    ['refund', 'refnd', 1, true],
    ['refund', 'rfeund', 1, true],
    ['refund', 'refunds', 1, true],
    ['refund', 'rafund', 1, true],
    ['refund', 'rfnd', 1, false],
    ['refund', 'rfnd', 2, true],
    ['warranti', 'waranty', 1, false],
    ['warranti', 'waranty', 2, true],
    ['доставка', 'доставк', 1, true],
    ['ship', 'shop', 0, false],
  ])('%s ~ %s within %i edits: %s', (left, right, edits, expected) => {
    expect(withinEdits(left, right, edits)).toBe(expected);
    expect(withinEdits(right, left, edits)).toBe(expected);
  });
});

describe('selectQueryTerms', () => {
  const frequencies = new Map([
    ['rare', 10],
    ['common', 20_000],
    ['absent', 0],
    ['middle', 9_000],
    ['everywhere', 80_000],
  ]);

  it('drops unknown terms and terms in most chunks past the budget, rarest first within it', () => {
    expect(selectQueryTerms(frequencies, 100_000, 25_000)).toEqual(['rare', 'middle']);
    expect(selectQueryTerms(frequencies, 100_000, 40_000)).toEqual(['rare', 'middle', 'common']);
  });

  it('keeps every known term of a knowledge base smaller than the budget', () => {
    expect(
      selectQueryTerms(
        new Map([
          ['a', 2],
          ['b', 1],
          ['c', 0],
        ]),
        2,
        25_000,
      ),
    ).toEqual(['b', 'a']);
  });

  it('always keeps the rarest term, even over the budget, unless it is in most chunks', () => {
    expect(selectQueryTerms(new Map([['wide', 30_000]]), 100_000, 25_000)).toEqual(['wide']);
    expect(selectQueryTerms(new Map([['everywhere', 80_000]]), 100_000, 25_000)).toEqual([]);
  });
});

describe('queryTerms', () => {
  it('keeps distinct usable terms, at most the bound', () => {
    expect(queryTerms(['a', 'b', 'a', '', 'has space', 'x'.repeat(65)])).toEqual(['a', 'b']);
    expect(queryTerms(Array.from({ length: 500 }, (_, index) => `t${index}`))).toHaveLength(maxQueryTerms);
    expect(isUsableTerm('tab\tin')).toBe(false);
  });
});

describe('matchExpression', () => {
  it('quotes every term, doubling quotes, so FTS5 syntax in a term is text', () => {
    expect(matchExpression(['refund', 'a"b', 'NEAR(', '-x', 'title:y', '*'])).toBe(
      '"refund" OR "a""b" OR "NEAR(" OR "-x" OR "title:y" OR "*"',
    );
    expect(matchExpression([])).toBe('');
  });
});

describe('analyzeChunk', () => {
  it('analyses the three fields with the given analyzer', () => {
    expect(
      analyzeChunk(
        {
          id: 'x',
          documentId: 'x',
          title: 'Refund policy',
          headingPath: 'Time limits',
          text: 'The shipping of it',
          index: 0,
        },
        lexicalAnalyzer,
      ),
    ).toEqual({ title: ['refund', 'polici'], headings: ['time', 'limit'], body: ['ship'] });
  });
});

describe('maskUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(maskUrl('postgres://bot:s3cret@db.internal:5432/kb')).toBe(
      'postgres://bot:***@db.internal:5432/kb',
    );
    expect(maskUrl('postgres://postgres@127.0.0.1:5432/test')).toBe(
      'postgres://postgres@127.0.0.1:5432/test',
    );
    expect(maskUrl('postgres://bot:p@ss:w@rd@host/db')).not.toContain('ss:w');
  });
});
