import { describe, expect, it } from 'vitest';
import { fuseRankings, fuseScores } from '../../../src/knowledge/fusion.ts';

const ranking = (...ids: string[]) => ids.map((id, index) => ({ id, score: 100 - index }));

describe('fuseRankings', () => {
  it('sums weight / (k + rank) over both rankings, best first', () => {
    const fused = fuseRankings(ranking('a', 'b', 'c'), ranking('b', 'd'));
    expect(fused.map((hit) => hit.id)).toEqual(['b', 'a', 'd', 'c']);
    expect(fused[0]?.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[1]?.score).toBeCloseTo(1 / 61, 12);
    expect(fused[2]?.score).toBeCloseTo(1 / 62, 12);
    expect(fused[3]?.score).toBeCloseTo(1 / 63, 12);
  });

  it('ignores the scores themselves: only ranks count', () => {
    const scaled = fuseRankings(
      [
        { id: 'a', score: 0.9 },
        { id: 'b', score: 0.1 },
      ],
      [
        { id: 'b', score: 1_000 },
        { id: 'a', score: 999 },
      ],
    );
    expect(scaled.map((hit) => hit.score)).toEqual([1 / 61 + 1 / 62, 1 / 61 + 1 / 62]);
  });

  it('lists each id once, counting only its first position in a ranking', () => {
    const fused = fuseRankings(ranking('a', 'a', 'b'), ranking('c', 'c'));
    expect(fused.map((hit) => hit.id)).toEqual(['a', 'c', 'b']);
    expect(fused[0]?.score).toBeCloseTo(1 / 61, 12);
    expect(fused[2]?.score).toBeCloseTo(1 / 62, 12);
  });

  it('lets a weight favour one ranking', () => {
    const vector = ranking('v', 'shared');
    const lexical = ranking('l', 'shared');
    const order = (options: Parameters<typeof fuseRankings>[2]) =>
      fuseRankings(vector, lexical, options).map((hit) => hit.id);
    expect(order({ lexicalWeight: 2 })).toEqual(['shared', 'l', 'v']);
    expect(order({ vectorWeight: 2 })).toEqual(['shared', 'v', 'l']);
    expect(fuseRankings(vector, lexical, { lexicalWeight: 2 })[1]?.score).toBeCloseTo(2 / 61, 12);
    expect(order({ vectorWeight: 0 })).toEqual(['l', 'shared', 'v']);
  });

  it('uses k to set how much the top ranks count', () => {
    // "a" and "c" are first in one ranking each; "b" is third in both.
    const vector = ranking('a', 'x', 'b');
    const lexical = ranking('c', 'y', 'b');
    expect(fuseRankings(vector, lexical).map((hit) => hit.id)).toEqual(['b', 'a', 'c', 'x', 'y']);
    const sharp = fuseRankings(vector, lexical, { k: 0.5 });
    expect(sharp.map((hit) => hit.id)).toEqual(['a', 'c', 'b', 'x', 'y']);
    expect(sharp[0]?.score).toBeCloseTo(1 / 1.5, 12);
  });

  it('breaks ties by id and handles empty rankings', () => {
    expect(fuseRankings(ranking('z'), ranking('y')).map((hit) => hit.id)).toEqual(['y', 'z']);
    expect(fuseRankings([], [])).toEqual([]);
    expect(fuseRankings([], ranking('x'))).toEqual([{ id: 'x', score: 1 / 61 }]);
  });
});

describe('fuseScores', () => {
  const scored = (...pairs: [string, number][]) => pairs.map(([id, score]) => ({ id, score }));

  it("sums each ranking's max-normalised scores times its weight, best first", () => {
    const fused = fuseScores([
      { ranking: scored(['a', 0.8], ['b', 0.4]), weight: 0.4 },
      { ranking: scored(['b', 12], ['c', 3]), weight: 0.6 },
    ]);
    expect(fused.map((hit) => hit.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0]?.score).toBeCloseTo(0.4 * 0.5 + 0.6, 12);
    expect(fused[1]?.score).toBeCloseTo(0.4, 12);
    expect(fused[2]?.score).toBeCloseTo(0.6 * 0.25, 12);
  });

  it('keeps how far ahead a leader is, unlike rank fusion', () => {
    // Lexically "a" is far ahead and "b" barely matches; the vector ranking has them close, "b" first.
    const vector = scored(['b', 0.5], ['a', 0.49]);
    const lexical = scored(['a', 10], ['b', 1]);
    expect(
      fuseScores([
        { ranking: vector, weight: 0.5 },
        { ranking: lexical, weight: 0.5 },
      ])[0]?.id,
    ).toBe('a');
    expect(fuseRankings(vector, lexical).map((hit) => hit.score)).toEqual([1 / 61 + 1 / 62, 1 / 61 + 1 / 62]);
  });

  it('counts an id once per ranking, and no evidence from scores that are not positive numbers', () => {
    const fused = fuseScores([
      { ranking: scored(['a', 2], ['a', 1], ['b', Number.NaN], ['c', -1]), weight: 1 },
      { ranking: [], weight: 1 },
    ]);
    expect(fused).toEqual([
      { id: 'a', score: 1 },
      { id: 'b', score: 0 },
      { id: 'c', score: 0 },
    ]);
    expect(fuseScores([{ ranking: scored(['x', 0]), weight: 1 }])).toEqual([{ id: 'x', score: 0 }]);
    expect(fuseScores([])).toEqual([]);
  });
});
