import { describe, expect, it } from 'vitest';
import {
  analyzeTerms,
  editDistance,
  isStopword,
  normalizeText,
  splitWords,
  stemWord,
} from '../../../src/text/analysis.ts';

describe('src/text analysis', () => {
  it('normalises case, width, diacritics and apostrophes', () => {
    expect(normalizeText('Ｃafé DON’T')).toBe('cafe dont');
    expect(splitWords("Where's my order #1234? It's late!")).toEqual([
      'wheres',
      'my',
      'order',
      '1234',
      'its',
      'late',
    ]);
  });

  it('drops stop words but keeps the ones that change what is asked', () => {
    expect(isStopword('the')).toBe(true);
    expect(isStopword('refund')).toBe(false);
    for (const kept of ['out', 'off', 'up', 'not', 'no', 'other']) expect(isStopword(kept)).toBe(false);
  });

  it('stems with Porter, leaving words with digits alone', () => {
    expect(['connect', 'connected', 'connecting', 'connection', 'connections'].map(stemWord)).toEqual(
      new Array(5).fill('connect'),
    );
    expect(stemWord('relational')).toBe('relat');
    expect(stemWord('ps5s')).toBe('ps5s');
    expect(analyzeTerms('How do I reset the passwords of my accounts?')).toEqual([
      'reset',
      'password',
      'account',
    ]);
  });

  it('gives no terms for text of only stop words, punctuation or emoji', () => {
    expect(analyzeTerms('and the of to')).toEqual([]);
    expect(analyzeTerms('🙂🙂 👍 !!! ???')).toEqual([]);
    expect(analyzeTerms('')).toEqual([]);
  });

  it('keeps letters of other scripts as words', () => {
    expect(analyzeTerms('Wie kann ich mein Passwort ändern?')).toContain('andern');
    expect(analyzeTerms('パスワードを変更する')).toHaveLength(1);
  });

  it('measures edits: insertions, deletions, substitutions and swaps, bounded', () => {
    expect(editDistance('password', 'password')).toBe(0);
    expect(editDistance('pasword', 'password')).toBe(1);
    expect(editDistance('passwrod', 'password')).toBe(1);
    expect(editDistance('passwerd', 'password')).toBe(1);
    expect(editDistance('paswrod', 'password')).toBe(2);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('kitten', 'sitting', 1)).toBe(2);
    expect(editDistance('a', 'abcdef', 2)).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
