import { describe, expect, it } from 'vitest';
import { embeddingText } from '../../../src/knowledge/types.ts';
import { OfflineEmbedder } from '../../../src/llm/offline-embedder.ts';

const cosine = (left: readonly number[], right: readonly number[]) =>
  left.reduce((sum, value, index) => sum + value * (right[index] ?? 0), 0);

const refunds = embeddingText({
  title: 'Refunds',
  headingPath: 'When you get your money back',
  text: 'We issue a refund to the original payment method within 3 business days of receiving your return.',
});
const shipping = embeddingText({
  title: 'Domestic shipping',
  headingPath: 'Delivery times',
  text: 'Standard orders ship within 1 business day and arrive in 3 to 5 business days.',
});
const hammock = embeddingText({
  title: 'Drift hammock',
  headingPath: '',
  text: 'Parachute nylon hammock with tree straps. Holds 400 lb and packs to the size of a grapefruit.',
});

describe('OfflineEmbedder', () => {
  it('names its version and returns vectors of its dimension', async () => {
    expect(new OfflineEmbedder().id).toBe('offline:hash-v4');
    // Weights other than the defaults make other vectors: another id, never mixed with these.
    expect(new OfflineEmbedder({ weights: { pair: 0 } }).id).toBe('offline:hash-v4-tuning');
    expect(new OfflineEmbedder().dimension).toBe(2048);
    const small = new OfflineEmbedder({ dimension: 256 });
    expect(small.dimension).toBe(256);
    expect(await small.embedQuery('where is my order')).toHaveLength(256);
    const vectors = await small.embedDocuments([refunds, shipping]);
    expect(vectors.map((vector) => vector.length)).toEqual([256, 256]);
  });

  it('is deterministic across calls and instances', async () => {
    const first = await new OfflineEmbedder().embedDocuments([refunds, shipping]);
    const second = await new OfflineEmbedder().embedDocuments([refunds, shipping]);
    expect(second).toEqual(first);
    expect(await new OfflineEmbedder().embedQuery('refund?')).toEqual(
      await new OfflineEmbedder().embedQuery('refund?'),
    );
  });

  it('returns unit-length vectors, and zeros for text without words', async () => {
    const embedder = new OfflineEmbedder({ dimension: 512 });
    for (const vector of await embedder.embedDocuments([refunds, 'x', 'Returns within 30 days'])) {
      expect(cosine(vector, vector)).toBeCloseTo(1, 10);
    }
    expect(await embedder.embedQuery(' ?! ')).toEqual(new Array(512).fill(0));
  });

  it('embeds documents in order, and a one-line document as the same text queried', async () => {
    const embedder = new OfflineEmbedder();
    const both = await embedder.embedDocuments([refunds, shipping]);
    const [one] = await embedder.embedDocuments([refunds]);
    const [other] = await embedder.embedDocuments([shipping]);
    expect(both).toEqual([one, other]);
    // Title and headings weigh more in a passage than in the same text as a query.
    expect(one).not.toEqual(embedder.embed(refunds));
    const [line] = await embedder.embedDocuments(['Returns within 30 days of delivery']);
    expect(line).toEqual(await embedder.embedQuery('Returns within 30 days of delivery'));
  });

  it('puts a question closer to its passage than to unrelated ones, through inflections', async () => {
    const embedder = new OfflineEmbedder();
    const [refundVector, shippingVector, hammockVector] = (await embedder.embedDocuments([
      refunds,
      shipping,
      hammock,
    ])) as [number[], number[], number[]];
    // "refunded" and "refund", "shipped" and "ship": the same stem and most character n-grams.
    const refunded = await embedder.embedQuery('when is my payment refunded?');
    expect(cosine(refunded, refundVector)).toBeGreaterThan(cosine(refunded, shippingVector) + 0.1);
    expect(cosine(refunded, refundVector)).toBeGreaterThan(cosine(refunded, hammockVector) + 0.1);
    const shipped = await embedder.embedQuery('how many business days until orders are shipped');
    expect(cosine(shipped, shippingVector)).toBeGreaterThan(cosine(shipped, refundVector));
    expect(cosine(shipped, shippingVector)).toBeGreaterThan(cosine(shipped, hammockVector) + 0.1);
  });

  it('rewards word pairs and ignores stop words', async () => {
    const embedder = new OfflineEmbedder();
    const [card, gift] = (await embedder.embedDocuments([
      embeddingText({ title: 'Cards', headingPath: '', text: 'A gift card never expires.' }),
      embeddingText({ title: 'Cards', headingPath: '', text: 'A card for a gift never expires.' }),
    ])) as [number[], number[]];
    const query = await embedder.embedQuery('gift card');
    expect(cosine(query, card)).toBeGreaterThan(cosine(query, gift) + 0.05);
    expect(embedder.embed('the gift card')).toEqual(embedder.embed('gift card'));
    expect(embedder.embed('what is it that you do')).toEqual(new Array(2048).fill(0));
  });

  it('tolerates typos', async () => {
    const embedder = new OfflineEmbedder();
    const [refundVector, , hammockVector] = (await embedder.embedDocuments([refunds, shipping, hammock])) as [
      number[],
      number[],
      number[],
    ];
    // Every word misspelt: only character n-grams are left in common.
    const typo = await embedder.embedQuery('refnud to orignal paymnet methd');
    expect(cosine(typo, refundVector)).toBeGreaterThan(0.04);
    expect(cosine(typo, refundVector)).toBeGreaterThan(5 * Math.abs(cosine(typo, hammockVector)));
  });

  it('weighs a passage title more than its text', async () => {
    const embedder = new OfflineEmbedder();
    const [inTitle, inText] = (await embedder.embedDocuments([
      embeddingText({ title: 'Gift cards', headingPath: '', text: 'Shipping rates and store hours.' }),
      embeddingText({ title: 'Shipping rates', headingPath: '', text: 'Gift cards and store hours.' }),
    ])) as [number[], number[]];
    const query = await embedder.embedQuery('gift cards');
    expect(cosine(query, inTitle)).toBeGreaterThan(cosine(query, inText) + 0.05);
  });

  it('rejects with the reason of an aborted signal', async () => {
    const embedder = new OfflineEmbedder();
    const reason = new Error('stopped by the caller');
    const signal = AbortSignal.abort(reason);
    await expect(embedder.embedDocuments([refunds], { signal })).rejects.toBe(reason);
    await expect(embedder.embedQuery('refund', { signal })).rejects.toBe(reason);
    await expect(
      embedder.embedQuery('refund', { signal: new AbortController().signal }),
    ).resolves.toHaveLength(2048);
  });
});
