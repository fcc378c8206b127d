import { describe, expect, it } from 'vitest';
import { chunkDocument, estimateTokens } from '../../../src/knowledge/chunker.ts';
import type { KnowledgeDocument } from '../../../src/knowledge/types.ts';

const document = (text: string, id = 'returns'): KnowledgeDocument => ({
  id,
  title: 'Returns',
  text,
  source: `${id}.md`,
});

describe('chunkDocument', () => {
  it('keeps each chunk under one heading path, without repeating the title', () => {
    const chunks = chunkDocument(
      document(
        '# Returns\n\nIntro text.\n\n## Window\n\n30 days.\n\n### Exceptions\n\nFinal sale items.\n\n## How to\n\nUse the portal.',
      ),
    );
    expect(chunks.map((chunk) => [chunk.headingPath, chunk.text])).toEqual([
      // A short lead joins the first section: alone it would be a passage that answers nothing.
      ['Window', 'Intro text.\n\n30 days.'],
      ['Window > Exceptions', 'Final sale items.'],
      ['How to', 'Use the portal.'],
    ]);
    expect(chunks.map((chunk) => chunk.index)).toEqual([0, 1, 2]);
  });

  it('keeps a lead of a quarter chunk or more as a passage of its own', () => {
    const lead = 'Our returns policy in brief, for every order shipped in the United States. '.repeat(3);
    const chunks = chunkDocument(document(`# Returns\n\n${lead}\n\n## Window\n\n30 days.`), {
      chunkTokens: 200,
    });
    expect(chunks.map((chunk) => [chunk.headingPath, chunk.text])).toEqual([
      ['', lead.trim()],
      ['Window', '30 days.'],
    ]);
  });

  it('packs paragraphs up to about the token budget and splits oversized ones at sentences', () => {
    const sentence = 'Refunds go back to the original payment method within five business days. ';
    const text = `## Refunds\n\n${sentence.repeat(30)}\n\nShort closing paragraph.`;
    const chunks = chunkDocument(document(text), { chunkTokens: 100 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(estimateTokens(chunk.text)).toBeLessThanOrEqual(100);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.text.endsWith('days.')).toBe(true);
    const rejoined = chunks
      .map((chunk) => chunk.text)
      .join(' ')
      .replace(/\s+/g, ' ');
    expect(rejoined).toBe(`${sentence.repeat(30)}Short closing paragraph.`.replace(/\s+/g, ' ').trim());
  });

  it('does not treat # inside a code fence as a heading', () => {
    const chunks = chunkDocument(document('## Setup\n\n```sh\n# not a heading\nmake\n```\n\nDone.'));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.text).toContain('# not a heading');
    expect(chunks[0]?.headingPath).toBe('Setup');
  });

  it('derives ids from the document and content, stable across runs and changed by edits', () => {
    const first = chunkDocument(document('## A\n\nAlpha.\n\n## B\n\nBeta.'));
    const again = chunkDocument(document('## A\n\nAlpha.\n\n## B\n\nBeta.'));
    const edited = chunkDocument(document('## A\n\nAlpha.\n\n## B\n\nBeta, changed.'));
    expect(again.map((chunk) => chunk.id)).toEqual(first.map((chunk) => chunk.id));
    expect(edited[0]?.id).toBe(first[0]?.id);
    expect(edited[1]?.id).not.toBe(first[1]?.id);
    expect(first[0]?.id.startsWith('returns:')).toBe(true);
  });

  it('gives repeated passages distinct ids', () => {
    const chunks = chunkDocument(document('Same text.\n\n## X\n\nOther.\n\n## X\n\nOther.'));
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(chunks.length);
  });

  it('cuts a single enormous word and chunks a 5 MB document', () => {
    const blob = 'x'.repeat(5_000);
    expect(chunkDocument(document(blob), { chunkTokens: 200 }).map((chunk) => chunk.text.length)).toEqual([
      800, 800, 800, 800, 800, 800, 200,
    ]);
    const big = 'Paragraph of support text that repeats for size. '.repeat(100_000);
    const chunks = chunkDocument(document(big));
    expect(chunks.length).toBeGreaterThan(5_000);
    expect(chunks.every((chunk) => chunk.text.length <= 800)).toBe(true);
  });

  it('returns no chunks for whitespace', () => {
    expect(chunkDocument(document('  \n\n \t'))).toEqual([]);
  });
});
