import { describe, expect, it } from 'vitest';
import { fuseRankings } from '../../../src/knowledge/fusion.ts';
import { LexicalIndex } from '../../../src/knowledge/lexical-index.ts';
import { analyze, normalizeText, stem } from '../../../src/knowledge/text-analysis.ts';
import type { KnowledgeChunk } from '../../../src/knowledge/types.ts';
import { OfflineEmbedder } from '../../../src/llm/offline-embedder.ts';

function chunk(id: string, title: string, text: string, headingPath = ''): KnowledgeChunk {
  return { id: `${id}:0`, documentId: id, title, headingPath, text, index: 0 };
}

const cosine = (left: number[], right: number[]) =>
  left.reduce((sum, value, index) => sum + value * (right[index] ?? 0), 0);

describe('text analysis', () => {
  it('stems inflections of one word to one stem', () => {
    expect(new Set(['arrive', 'arrives', 'arrived', 'arriving'].map(stem))).toEqual(new Set(['arriv']));
    expect(stem('shipping')).toBe(stem('shipped'));
    expect(stem('refunds')).toBe(stem('refund'));
    expect(stem('deliveries')).toBe(stem('delivery'));
    expect(stem('42')).toBe('42');
  });

  it('strips diacritics, zalgo marks and apostrophes', () => {
    expect(normalizeText('Café DON’T')).toBe('cafe dont');
    expect(normalizeText('r̸̛e̴f̷u̶n̵d̸')).toBe('refund');
  });

  it('drops stopwords and finds help-center concepts in phrases', () => {
    const analyzed = analyze('How do I get my money back and send the parcel back?');
    expect(analyzed.terms).not.toContain('how');
    expect(analyzed.concepts).toEqual(expect.arrayContaining(['#refund', '#shipping']));
    expect(analyze('can I send back my boots').concepts).toContain('#return');
    expect(analyze('can I send the boots back').concepts).toContain('#return');
    expect(analyze('send the three heavy boots back').concepts).not.toContain('#return');
  });
});

describe('OfflineEmbedder', () => {
  const embedder = new OfflineEmbedder({ dimension: 512 });

  it('returns deterministic, unit-length vectors of its dimension', async () => {
    const [first] = await embedder.embedDocuments(['Returns within 30 days of delivery']);
    const again = await embedder.embedQuery('Returns within 30 days of delivery');
    expect(first).toHaveLength(512);
    expect(again).toEqual(first);
    expect(cosine(again, again)).toBeCloseTo(1, 6);
    expect(await embedder.embedQuery('   ')).toEqual(new Array(512).fill(0));
  });

  it('puts a paraphrase closer than an unrelated text, and tolerates a typo', async () => {
    const passage = embedder.embed(
      'Refunds are issued to the original payment method within 3 business days.',
    );
    const paraphrase = embedder.embed('when do I get my money back?');
    const typo = embedder.embed('refnds to original paymnet method');
    const unrelated = embedder.embed('The hammock holds 400 lb and comes with tree straps.');
    expect(cosine(passage, paraphrase)).toBeGreaterThan(cosine(passage, unrelated));
    expect(cosine(passage, typo)).toBeGreaterThan(cosine(passage, unrelated));
  });

  it('rejects when cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(embedder.embedDocuments(['a'], { signal: controller.signal })).rejects.toThrow('stop');
    await expect(embedder.embedQuery('a', { signal: controller.signal })).rejects.toThrow('stop');
  });
});

describe('LexicalIndex', () => {
  const index = new LexicalIndex([
    chunk('returns', 'Returns', 'Items can be sent back within 30 days of delivery in original packaging.'),
    chunk('refunds', 'Refunds', 'Money is returned to the original payment method after inspection.'),
    chunk('hammock', 'Drift Hammock', 'Parachute nylon hammock with tree straps, holds 400 lb.'),
    chunk('boots', 'Boots', 'Leather upper and a sole that can be replaced; mentions returns once.', 'Care'),
  ]);

  it('ranks the document whose title matches above one that mentions the word in passing', () => {
    const ids = index.search('returns', 4).map((hit) => hit.id);
    expect(ids[0]).toBe('returns:0');
    expect(ids).toContain('boots:0');
  });

  it('matches through concepts and near-miss spellings', () => {
    expect(index.search('how do I get my money back', 1)[0]?.id).toBe('refunds:0');
    expect(index.search('hammok strapps', 1)[0]?.id).toBe('hammock:0');
  });

  it('returns nothing for empty or unrelated queries and respects k', () => {
    expect(index.search('', 3)).toEqual([]);
    expect(index.search('quantum chromodynamics', 3)).toEqual([]);
    expect(index.search('returns refunds hammock boots', 2)).toHaveLength(2);
  });
});

describe('fuseRankings', () => {
  it('rewards ids ranked well in both lists and lists each id once', () => {
    const fused = fuseRankings(
      [
        { id: 'a', score: 0.9 },
        { id: 'b', score: 0.8 },
        { id: 'a', score: 0.1 },
      ],
      [
        { id: 'b', score: 12 },
        { id: 'c', score: 3 },
      ],
    );
    expect(fused.map((hit) => hit.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0]?.score).toBeCloseTo(1 / 62 + 1 / 61, 10);
  });

  it('lets a weight favour one ranking', () => {
    const vector = [{ id: 'v', score: 1 }];
    const lexical = [{ id: 'l', score: 1 }];
    expect(fuseRankings(vector, lexical, { lexicalWeight: 2 })[0]?.id).toBe('l');
    expect(fuseRankings(vector, lexical, { vectorWeight: 2 })[0]?.id).toBe('v');
  });
});
