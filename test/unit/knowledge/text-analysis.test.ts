import { describe, expect, it } from 'vitest';
import {
  analyze,
  isStopword,
  normalizeText,
  splitWords,
  stem,
  withinOneEdit,
} from '../../../src/knowledge/text-analysis.ts';

describe('normalizeText and splitWords', () => {
  it('applies NFKC, lowercases, strips diacritics and combining marks, and drops apostrophes', () => {
    expect(normalizeText('ＲＥＦＵＮＤ')).toBe('refund');
    expect(normalizeText('Café Ångström DON’T')).toBe('cafe angstrom dont');
    expect(normalizeText('r̸̛e̴f̷u̶n̵d̸')).toBe('refund');
  });

  it('splits on anything but letters and digits, and keeps numbers', () => {
    expect(splitWords('Order #A-123: 2 items, 30-day return!')).toEqual([
      'order',
      'a',
      '123',
      '2',
      'items',
      '30',
      'day',
      'return',
    ]);
    expect(splitWords(' \n—… ')).toEqual([]);
  });

  it('treats function words as stopwords but keeps words that change a support question', () => {
    expect(isStopword('the')).toBe(true);
    expect(isStopword('please')).toBe(true);
    for (const word of ['not', 'no', 'off', 'out', 'own', 'refund']) expect(isStopword(word)).toBe(false);
  });
});

describe('stem', () => {
  it('gives inflections of a word one stem', () => {
    expect(new Set(['arrive', 'arrives', 'arrived', 'arriving'].map(stem)).size).toBe(1);
    expect(stem('refunds')).toBe(stem('refund'));
    expect(stem('shipping')).toBe(stem('shipped'));
    expect(stem('deliveries')).toBe(stem('delivery'));
    expect(stem('days')).toBe(stem('day'));
    expect(stem('cancelled')).toBe(stem('cancel'));
    expect(stem('canceled')).toBe(stem('cancel'));
  });

  it('strips derivational suffixes conservatively', () => {
    expect(stem('activation')).toBe(stem('activate'));
    expect(stem('activated')).toBe(stem('activate'));
    expect(stem('payments')).toBe(stem('payment'));
    expect(stem('quickly')).toBe(stem('quick'));
    expect(stem('availability')).toBe(stem('available'));
    expect(stem('call')).toBe('call');
    expect(stem('bus')).toBe('bus');
  });

  it('maps British spellings onto American ones', () => {
    expect(stem('colour')).toBe(stem('color'));
    expect(stem('authorised')).toBe(stem('authorized'));
    expect(stem('organisation')).toBe(stem('organization'));
    expect(stem('centre')).toBe(stem('center'));
  });

  it('leaves numbers and words with digits alone', () => {
    expect(stem('2024')).toBe('2024');
    expect(stem('5g')).toBe('5g');
    expect(stem('mp3s')).toBe('mp3s');
  });
});

describe('withinOneEdit', () => {
  it('accepts one insertion, deletion, substitution or swap of neighbours, and nothing more', () => {
    expect(withinOneEdit('refund', 'refund')).toBe(true);
    expect(withinOneEdit('refund', 'refunds')).toBe(true);
    expect(withinOneEdit('refund', 'refnd')).toBe(true);
    expect(withinOneEdit('refund', 'refand')).toBe(true);
    expect(withinOneEdit('refund', 'rfeund')).toBe(true);
    expect(withinOneEdit('refund', 'rfenud')).toBe(false);
    expect(withinOneEdit('refund', 'refunded')).toBe(false);
  });
});

describe('analyze', () => {
  it('keeps stems of the meaningful words, with the words that produced them', () => {
    const analyzed = analyze('How do I get my refunds?');
    expect(analyzed.terms).toEqual([stem('refunds')]);
    expect(analyzed.words).toEqual(['refunds']);
  });

  it.each([
    ['can I send back my boots', '#return'],
    ['can I send the boots back', '#return'],
    ['when do I get my money back', '#refund'],
    ['will you reimburse me', '#refund'],
    ['where is my parcel', '#shipping'],
    ['the package never came', '#lost'],
    ['expected arrival date', '#delivery'],
    ['the zipper is faulty', '#damage'],
    ['it arrived broken', '#damage'],
    ['question about billing', '#payment'],
    ['I cannot sign in', '#login'],
    ['forgot my pw', '#password'],
    ['do you have a voucher', '#discount'],
    ['can I swap it for a bigger one', '#exchange'],
    ['please call off my order', '#cancel'],
    ['talk to a real person', '#contact'],
  ])('finds the concept of "%s"', (text, concept) => {
    expect(analyze(text).concepts).toContain(concept);
  });

  it('does not stretch a phrase across more than two words', () => {
    expect(analyze('send the three heavy boots back').concepts).not.toContain('#return');
  });

  it('reads a misspelt concept word as the word it misspells', () => {
    expect(analyze('refnud please').concepts).toContain('#refund');
    expect(analyze('my pasword').concepts).toContain('#password');
    expect(analyze('my pasword').terms).toEqual(['pasword']);
  });

  it('finds no concepts in text that has none', () => {
    expect(analyze('hammock straps and tent poles').concepts).toEqual([]);
    expect(analyze('')).toEqual({ terms: [], concepts: [], words: [] });
  });
});
