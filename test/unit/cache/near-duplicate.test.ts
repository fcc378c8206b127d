import { describe, expect, it } from 'vitest';
import { NearDuplicateIndex } from '../../../src/cache/near-duplicate.ts';
import { OfflineEmbedder } from '../../../src/llm/offline-embedder.ts';

const index = new NearDuplicateIndex({ embedder: new OfflineEmbedder(), threshold: 0.4 });
// A knowledge base that knows these words; anything else may be a typo.
const vocabulary = new Set([
  'return',
  'window',
  'ship',
  'canada',
  'mexico',
  'cost',
  'boot',
  'book',
  'sell',
  'open',
  'unopen',
  'item',
  'warranti',
  'tent',
]);
const knows = (term: string) => vocabulary.has(term);

describe('near-duplicate questions', () => {
  it.each([
    ['What is your return window?', 'what is your return window'],
    ['What is your return window?', 'WHAT IS YOUR RETURN WINDOW??'],
    ['What is your return window?', 'Hi team, what is your return window? thanks!'],
    ['What is your return window?', 'What is your retrun window?'],
    ['Do you ship to Canada?', 'Do you ship to Canada please'],
  ])('matches %j and %j', async (left, right) => {
    expect(await index.matches(left, right, knows)).toBe(true);
  });

  it.each([
    ['Do you ship to Canada?', 'Do you ship to Mexico?'],
    ['How long does shipping to Canada take?', 'How much does shipping to Canada cost?'],
    ['Can I return opened items?', 'Can I return unopened items?'],
    ['Where is order PC-10023?', 'Where is order PC-10024?'],
    ['Do you sell boots?', 'Do you sell books?'],
    ['What is the warranty on tents?', 'What is the warranty on backpacks?'],
  ])('keeps %j and %j apart', async (left, right) => {
    expect(await index.matches(left, right, knows)).toBe(false);
  });

  it('finds the closest compatible entry in a scope, and forgets scopes of older versions', async () => {
    const scoped = new NearDuplicateIndex({ embedder: new OfflineEmbedder(), threshold: 0.4 });
    const canada = 'Do you ship to Canada?';
    const mexico = 'Do you ship to Mexico?';
    scoped.add('v1', 'key-canada', canada, await scoped.signature(canada));
    scoped.add('v1', 'key-mexico', mexico, await scoped.signature(mexico));
    expect(scoped.find('v1', await scoped.signature('do you ship to mexico??'), knows)?.key).toBe(
      'key-mexico',
    );
    expect(scoped.find('v2', await scoped.signature(canada), knows)).toBeUndefined();
    scoped.add('v2', 'key-canada-2', canada, await scoped.signature(canada));
    expect(scoped.find('v1', await scoped.signature(canada), knows)).toBeUndefined();
  });

  it('keeps at most maxBytes of embeddings per scope, the newest, before maxEntries is reached', async () => {
    // The offline embedder's 2,048 dimensions: 8 KB per entry, so 64 KB holds 8 of them.
    const bounded = new NearDuplicateIndex({
      embedder: new OfflineEmbedder(),
      threshold: 0.4,
      maxBytes: 64 * 1024,
    });
    const question = (order: number) => `Where is my order PC-${10_000 + order}?`;
    for (let order = 0; order < 100; order++) {
      bounded.add('v1', `key-${order}`, question(order), await bounded.signature(question(order)));
    }
    // Order numbers must agree exactly: each question matches only its own entry.
    const found = async (order: number) =>
      bounded.find('v1', await bounded.signature(question(order)), knows)?.key;
    expect(await found(0)).toBeUndefined();
    expect(await found(91)).toBeUndefined();
    expect(await found(92)).toBe('key-92');
    expect(await found(99)).toBe('key-99');
  });
});
