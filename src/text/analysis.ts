import { stemmer } from 'stemmer';
import { eng } from 'stopword';

/**
 * Language processing for retrieval, from maintained packages: Porter stemming (`stemmer`) and an
 * English stop-word list (`stopword`). Nothing here knows any one knowledge base; what is specific
 * to a help center is learned from the ingested corpus (see the lexical engines) or set in config.
 */

// Negations and words that change what a support question asks are kept: "no", "not" and "off"
// are not in the package's list; these few that are, carry meaning here ("out of stock", "turn it
// up", "more than", "other colours").
const keep = new Set([
  'out',
  'up',
  'off',
  'over',
  'under',
  'more',
  'most',
  'only',
  'other',
  'never',
  'after',
  'before',
]);
const stopwords = new Set(eng.filter((word) => !keep.has(word)));

/**
 * Lowercases, applies NFKC, strips diacritics and combining marks, and drops apostrophes so
 * "don't" and "dont" are one word.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/['’‘`]/g, '');
}

/** Words and numbers of a text, normalised, in order (stop words included). */
export function splitWords(text: string): string[] {
  return normalizeText(text).match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Whether a normalised word carries no meaning for retrieval. */
export function isStopword(word: string): boolean {
  return stopwords.has(word);
}

/** The stem of a normalised word (Porter); words with digits are kept as they are. */
export function stemWord(word: string): string {
  if (/\d/.test(word)) return word;
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    stemmed = stemmer(word);
    if (stemCache.size >= 100_000) stemCache.clear();
    stemCache.set(word, stemmed);
  }
  return stemmed;
}

const stemCache = new Map<string, string>();

/** The terms a text is indexed and searched by: its words without stop words, stemmed, in order. */
export function analyzeTerms(text: string): string[] {
  const terms: string[] = [];
  for (const word of splitWords(text)) if (!stopwords.has(word)) terms.push(stemWord(word));
  return terms;
}

/**
 * The optimal-string-alignment distance between two words (insertions, deletions, substitutions
 * and swaps of adjacent letters, counted in code points), or `maxEdits + 1` as soon as it is known
 * to exceed `maxEdits`.
 */
export function editDistance(left: string, right: string, maxEdits = Number.POSITIVE_INFINITY): number {
  if (left === right) return 0;
  const a = [...left];
  const b = [...right];
  if (Math.abs(a.length - b.length) > maxEdits) return maxEdits + 1;
  const width = b.length + 1;
  let beforePrevious = new Array<number>(width).fill(0);
  let previous = Array.from({ length: width }, (_, column) => column);
  let current = new Array<number>(width).fill(0);
  for (let row = 1; row <= a.length; row++) {
    current[0] = row;
    let rowMinimum = row;
    for (let column = 1; column <= b.length; column++) {
      const cost = a[row - 1] === b[column - 1] ? 0 : 1;
      let distance = Math.min(
        (previous[column] as number) + 1,
        (current[column - 1] as number) + 1,
        (previous[column - 1] as number) + cost,
      );
      if (row > 1 && column > 1 && a[row - 1] === b[column - 2] && a[row - 2] === b[column - 1])
        distance = Math.min(distance, (beforePrevious[column - 2] as number) + 1);
      current[column] = distance;
      if (distance < rowMinimum) rowMinimum = distance;
    }
    if (rowMinimum > maxEdits) return maxEdits + 1;
    [beforePrevious, previous, current] = [previous, current, beforePrevious];
  }
  const distance = previous[b.length] as number;
  return distance > maxEdits ? maxEdits + 1 : distance;
}
