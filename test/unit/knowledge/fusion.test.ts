import { describe, expect, it } from 'vitest';
import { fuseRankings } from '../../../src/knowledge/fusion.ts';

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
