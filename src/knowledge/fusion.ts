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
 * Best first; each id once. The hybrid ranking uses {@link fuseScores} instead: on the retrieval
 * dev sets rank fusion lost 1–3 points of recall@3 to it at every k and weight tried, because it
 * forgets how far ahead a ranking's leader is.
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

/** A ranking and how much it counts in {@link fuseScores}. */
export interface WeightedRanking {
  ranking: readonly RankedId[];
  weight: number;
}

/**
 * Weighted sum of the rankings' scores, each divided by its ranking's best score so a query's
 * scores land in [0, 1] whatever the scale (cosine, BM25): with weights summing to 1, a convex
 * combination. An id absent from a ranking scores 0 there. Unlike rank fusion it keeps how far
 * ahead a ranking's leader is. Best first, ties by id; each id once (its best score in a ranking).
 *
 * @see https://doi.org/10.1145/3596512 (Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval")
 */
export function fuseScores(rankings: readonly WeightedRanking[]): RankedId[] {
  const scores = new Map<string, number>();
  for (const { ranking, weight } of rankings) {
    // A score that is not a number (a zero query vector's cosine) counts as no evidence.
    const usable = (score: number) => (Number.isFinite(score) && score > 0 ? score : 0);
    const best = ranking.reduce((highest, hit) => Math.max(highest, usable(hit.score)), 0);
    const seen = new Set<string>();
    for (const { id, score } of ranking) {
      if (seen.has(id)) continue;
      seen.add(id);
      const normalised = best > 0 ? usable(score) / best : 0;
      scores.set(id, (scores.get(id) ?? 0) + weight * normalised);
    }
  }
  return [...scores]
    .map(([id, score]) => ({ id, score }))
    .sort((left, right) => right.score - left.score || left.id.localeCompare(right.id));
}
