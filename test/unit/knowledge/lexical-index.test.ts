import { describe, expect, it } from 'vitest';
import { LexicalIndex } from '../../../src/knowledge/lexical-index.ts';
import type { KnowledgeChunk } from '../../../src/knowledge/types.ts';

function chunk(id: string, title: string, text: string, headingPath = ''): KnowledgeChunk {
  return { id, documentId: id, title, headingPath, text, index: 0 };
}

const chunks = [
  chunk(
    'returns',
    'Returns',
    'Items can be sent back within 30 days of delivery in their original packaging.',
  ),
  chunk('refunds', 'Refunds', 'Money goes to the original payment method after we inspect the item.'),
  chunk('hammock', 'Drift Hammock', 'Parachute nylon hammock with tree straps; holds 400 lb.'),
  chunk('boots', 'Hiking boots', 'Leather upper and a resoleable sole. Returns are accepted unworn.', 'Care'),
  chunk('voicemail', 'Voicemail', 'Press and hold 1 to reach your voicemail box and record a greeting.'),
  chunk('password', 'Password', 'Use the reset link on the sign-in page to choose a new password.'),
];
const index = new LexicalIndex(chunks);
const ids = (query: string, k = 3) => index.search(query, k).map((hit) => hit.id);

describe('LexicalIndex', () => {
  it('ranks best first, with positive, decreasing scores', () => {
    const hits = index.search('returns within 30 days', 6);
    expect(hits[0]?.id).toBe('returns');
    expect(hits.every((hit) => hit.score > 0)).toBe(true);
    const scores = hits.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((left, right) => right - left));
  });

  it('ranks a chunk whose title matches above one that mentions the word in passing', () => {
    expect(ids('returns', 2)).toEqual(['returns', 'boots']);
  });

  it('weighs title words above heading words and heading words above body words', () => {
    const fields = new LexicalIndex([
      chunk('body', 'Alpha', 'Warranty terms for alpha products.'),
      chunk('heading', 'Beta', 'Terms for beta products.', 'Warranty'),
      chunk('title', 'Warranty', 'Terms for gamma products.'),
    ]);
    expect(fields.search('warranty', 3).map((hit) => hit.id)).toEqual(['title', 'heading', 'body']);
  });

  it('matches through concepts when the query shares no word with the answer', () => {
    expect(ids('how do I get my money back', 1)).toEqual(['refunds']);
    expect(ids('forgot my pw, cannot log in', 1)).toEqual(['password']);
  });

  it('matches misspelt words and words run together or split apart', () => {
    expect(ids('hammok strapps', 1)).toEqual(['hammock']);
    expect(ids('set up my voice mail', 1)).toEqual(['voicemail']);
    const split = new LexicalIndex([
      chunk('mail', 'Voice mail', 'Press 1 for voice mail.'),
      chunk('email', 'Email', 'Change your email address.'),
    ]);
    expect(split.search('voicemail', 1).map((hit) => hit.id)).toEqual(['mail']);
  });

  it('returns nothing for empty, stopword-only or unrelated queries', () => {
    expect(index.search('', 3)).toEqual([]);
    expect(index.search('   ?! ', 3)).toEqual([]);
    expect(index.search('how do I', 3)).toEqual([]);
    expect(index.search('quantum chromodynamics', 3)).toEqual([]);
    expect(new LexicalIndex([]).search('returns', 3)).toEqual([]);
  });

  it('returns at most k hits', () => {
    expect(index.search('returns refunds hammock boots password', 2)).toHaveLength(2);
    expect(index.search('returns refunds hammock boots password', 0)).toEqual([]);
    expect(index.search('returns refunds hammock boots password', -1)).toEqual([]);
    expect(index.size).toBe(chunks.length);
  });
});
