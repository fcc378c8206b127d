import { describe, expect, it } from 'vitest';
import {
  correctQueryText,
  correctTerms,
  lexicalAnalyzer,
  rankHybrid,
} from '../../../src/knowledge/hybrid-ranking.ts';
import type { SimilarTerm } from '../../../src/knowledge/lexical/lexical-engine.ts';
import type { KnowledgeChunk, RetrievedChunk } from '../../../src/knowledge/types.ts';
import { ReferenceLexicalEngine } from './reference-lexical-engine.ts';

const chunk = (id: string, title: string, text: string): KnowledgeChunk => ({
  id: `${id}:0`,
  documentId: id,
  title,
  headingPath: '',
  text,
  index: 0,
});
const hit = (of: KnowledgeChunk, score: number): RetrievedChunk => ({ ...of, score });

const password = chunk(
  'password',
  'Reset your password',
  'Use the link in the email to choose a new password.',
);
const shipping = chunk('shipping', 'Shipping times', 'Orders ship within two business days.');
const returns = chunk('returns', 'Returns', 'Return unused items within 30 days for a refund.');
const receipt = chunk('receipt', 'Receipts', 'We email a receipt for every order you receive.');
const chunks = [password, shipping, returns, receipt];
const engine = new ReferenceLexicalEngine(chunks, [2, 1, 1]);

/** A vocabulary given as term → documents, answering as an engine would. */
function vocabularyEngine(vocabulary: Record<string, number>) {
  const asked: string[] = [];
  return {
    asked,
    documentFrequencies: async (terms: readonly string[]) =>
      new Map(terms.map((term) => [term, vocabulary[term] ?? 0])),
    similarTerms: async (term: string): Promise<SimilarTerm[]> => {
      asked.push(term);
      return Object.entries(vocabulary)
        .filter(([candidate]) => candidate !== term)
        .map(([candidate, documents]) => ({ term: candidate, documents }))
        .sort((left, right) => right.documents - left.documents);
    },
  };
}

describe('correctQueryText', () => {
  it('rewrites misspelt words as the knowledge base spells them, for the embedding', async () => {
    const vocabulary = vocabularyEngine({ return: 19, window: 2 });
    expect(await correctQueryText('whats ur retrun window??', vocabulary)).toBe('whats ur return window??');
    // Nothing to correct: the very same text.
    const text = 'What is your return window?';
    expect(await correctQueryText(text, vocabulary)).toBe(text);
  });
});

describe('correctTerms', () => {
  it('replaces an unknown term by the closest known one, the more frequent on a tie', async () => {
    const vocabulary = vocabularyEngine({ password: 12, passport: 30, receiv: 4, shipment: 9, ship: 20 });
    // "pasword" is one edit from "password" and two from "passport".
    expect(await correctTerms(['pasword'], vocabulary)).toEqual(['password']);
    // Porter stems "recieve" to "reciev": a swap away from "receiv".
    expect(await correctTerms(lexicalAnalyzer.analyze('recieve'), vocabulary)).toEqual(['receiv']);
    // Two edits only for long terms ("shipmnet" → "shipment" is a swap: one edit).
    expect(await correctTerms(['shipmnet'], vocabulary)).toEqual(['shipment']);
    expect(await correctTerms(['shpmnet'], vocabulary)).toEqual(['shpmnet']);
    expect(await correctTerms(['shipmennts'], vocabulary)).toEqual(['shipment']);
  });

  it('prefers fewer edits over more documents', async () => {
    const vocabulary = vocabularyEngine({ colour: 2, color: 50 });
    // "colourr" is one edit from "colour" and two from "color".
    expect(await correctTerms(['colourr'], vocabulary, { twoEditsFrom: 4 })).toEqual(['colour']);
    const tie = vocabularyEngine({ cards: 5, carts: 40 });
    expect(await correctTerms(['carxs'], tie)).toEqual(['carts']);
  });

  it('keeps the first letter: a word that differs there is usually another word', async () => {
    const vocabulary = vocabularyEngine({ talks: 50, store: 80 });
    expect(await correctTerms(['walks'], vocabulary)).toEqual(['walks']);
    expect(await correctTerms(['tallks'], vocabulary)).toEqual(['talks']);
    expect(await correctTerms(['stroe'], vocabulary)).toEqual(['store']);
  });

  it('never corrects a known term, a short one or one with digits, and dedupes', async () => {
    const vocabulary = vocabularyEngine({ passport: 3, password: 1, abc1: 2, cart: 9, wife: 4 });
    // "wif" and "lif" are under five letters: "wife"/"life" are words, not typos of each other.
    expect(await correctTerms(['passport', 'passport', 'carr', 'abc2', 'lif', 'zzzzzz'], vocabulary)).toEqual(
      ['passport', 'carr', 'abc2', 'lif', 'zzzzzz'],
    );
    // Only the unknown, long enough, digit-free "zzzzzz" was looked up.
    expect(vocabulary.asked).toEqual(['zzzzzz']);
    expect(await correctTerms([], vocabulary)).toEqual([]);
  });

  it('bounds the look-ups of a long query', async () => {
    const vocabulary = vocabularyEngine({ password: 1 });
    const unknown = Array.from({ length: 40 }, (_, index) =>
      `unknownword${String.fromCharCode(97 + (index % 26))}${index}`.replace(/\d/g, 'x'),
    );
    await correctTerms(unknown, vocabulary, { maxCorrections: 5 });
    expect(vocabulary.asked).toHaveLength(5);
  });
});

describe('rankHybrid', () => {
  it('fuses the vector and lexical rankings by their normalised scores', async () => {
    // The vector ranking prefers shipping, slightly; the lexical engine finds only the password page.
    const ranked = await rankHybrid({
      query: 'reset my password',
      vectorHits: [hit(shipping, 0.5), hit(password, 0.45)],
      lexical: engine,
      candidates: 10,
    });
    expect(ranked.map((chunk) => chunk.documentId)).toEqual(['password', 'shipping']);
    // password: 0.4 * 0.45 / 0.5 + 0.6 * 1; shipping: 0.4 * 1.
    expect(ranked[0]?.score).toBeCloseTo(0.4 * 0.9 + 0.6, 12);
    expect(ranked[1]?.score).toBeCloseTo(0.4, 12);
    // A lexical share of 0 leaves the vector order.
    const vectorOnly = await rankHybrid({
      query: 'reset my password',
      vectorHits: [hit(shipping, 0.5), hit(password, 0.45)],
      lexical: engine,
      candidates: 10,
      options: { lexicalShare: 0 },
    });
    expect(vectorOnly.map((chunk) => chunk.documentId)).toEqual(['shipping', 'password']);
  });

  it('returns lexical-only hits as the chunks the engine indexed', async () => {
    const ranked = await rankHybrid({
      query: 'refund for unused items',
      vectorHits: [],
      lexical: engine,
      candidates: 10,
    });
    expect(ranked[0]).toMatchObject({ ...returns, score: 0.6 });
  });

  it('finds a page through a misspelling the knowledge base corrects', async () => {
    const query = 'I never got my reciept';
    const corrected = await rankHybrid({ query, vectorHits: [], lexical: engine, candidates: 10 });
    expect(corrected.map((chunk) => chunk.documentId)).toEqual(['receipt']);
    const uncorrected = await rankHybrid({
      query,
      vectorHits: [],
      lexical: engine,
      candidates: 10,
      options: { correctTypos: false },
    });
    expect(uncorrected).toEqual([]);
  });

  it('gives nothing for a query of stop words, punctuation or emoji, and no exception', async () => {
    for (const query of ['what is it?', '🙂🙂🙂', '?!', ''])
      expect(
        await rankHybrid({ query, vectorHits: [hit(shipping, Number.NaN)], lexical: engine, candidates: 10 }),
      ).toEqual([]);
  });

  it('ranks a 10,000-character query and a query in another language without error', async () => {
    const long = `refund ${'please help me with this '.repeat(500)}`.slice(0, 10_000);
    const ranked = await rankHybrid({
      query: long,
      vectorHits: [hit(returns, 0.2)],
      lexical: engine,
      candidates: 3,
    });
    expect(ranked[0]?.documentId).toBe('returns');
    const other = await rankHybrid({
      query: 'Wo ist meine Bestellung? 注文はどこですか',
      vectorHits: [],
      lexical: engine,
      candidates: 3,
    });
    expect(other).toEqual([]);
  });

  it('finds documents written in another language by their own words', async () => {
    const german = chunk(
      'de/passwort',
      'Passwort ändern',
      'So ändern Sie Ihr Passwort in den Kontoeinstellungen.',
    );
    const japanese = chunk('ja/henpin', '返品', '返品は30日以内に受け付けます。');
    const mixed = new ReferenceLexicalEngine([...chunks, german, japanese], [2, 1, 1]);
    const search = (query: string) => rankHybrid({ query, vectorHits: [], lexical: mixed, candidates: 3 });
    expect((await search('Wie kann ich mein Passwort ändern?'))[0]?.documentId).toBe('de/passwort');
    expect((await search('返品'))[0]?.documentId).toBe('ja/henpin');
  });

  it('without a lexical engine keeps the vector hits as they are', async () => {
    const vectorHits = [hit(returns, 0.3), hit(shipping, 0.2)];
    expect(await rankHybrid({ query: 'returns', vectorHits, lexical: undefined, candidates: 10 })).toEqual(
      vectorHits,
    );
  });
});
