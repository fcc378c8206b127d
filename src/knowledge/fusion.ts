/** A ranked result: an id and a score where higher is better. */
export interface RankedId {
  id: string;
  score: number;
}

/** Options of {@link fuseRankings}. */
export interface FusionOptions {
  /** Reciprocal-rank constant: larger flattens the advantage of the top ranks. @defaultValue 60 */
  k?: number;
  /** @defaultValue 1 */
  vectorWeight?: number;
  /** @defaultValue 1 */
  lexicalWeight?: number;
}

const defaults = { k: 60, vectorWeight: 1, lexicalWeight: 1 } as const satisfies Required<FusionOptions>;

/**
 * Weighted reciprocal-rank fusion of the vector and lexical rankings: each list contributes
 * `weight / (k + rank)` per id, so scores on different scales (cosine, BM25) need no calibration.
 * Best first; each id once.
 *
 * @see https://plg.uwaterloo.ca/~gvcormac/cormacksigir09-rrf.pdf
 */
export function fuseRankings(
  vector: readonly RankedId[],
  lexical: readonly RankedId[],
  options: FusionOptions = {},
): RankedId[] {
  const { k, vectorWeight, lexicalWeight } = { ...defaults, ...options };
  const scores = new Map<string, number>();
  const addRanking = (ranking: readonly RankedId[], weight: number) => {
    const seen = new Set<string>();
    for (const { id } of ranking) {
      if (seen.has(id)) continue;
      seen.add(id);
      scores.set(id, (scores.get(id) ?? 0) + weight / (k + seen.size));
    }
  };
  addRanking(vector, vectorWeight);
  addRanking(lexical, lexicalWeight);
  return [...scores]
    .map(([id, score]) => ({ id, score }))
    .sort((left, right) => right.score - left.score || left.id.localeCompare(right.id));
}
