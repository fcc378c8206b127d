import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balanceMarkdown } from '../../../src/reply/markdown.ts';

/**
 * An independent reading of "balanced": fences come in pairs; outside them every backtick belongs
 * to a one-line code span, every `[` to a citation or a whole link, and bold, italic and strike
 * markers pair up within each paragraph.
 */
function unbalanced(markdown: string): string | undefined {
  const fences = markdown.split('\n').filter((line) => /^\s{0,3}(?:`{3,}|~{3,})/.test(line)).length;
  if (fences % 2 === 1) return 'open fence';
  const prose = markdown.replace(/^\s{0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\s{0,3}\1[^\n]*$/gm, '');
  for (const paragraph of prose.split(/\n[ \t]*\n/)) {
    const text = paragraph
      .replace(/(`+)[^`]+?\1/g, '')
      .replace(/\[[^\]\n[]*\]\([^)\s]*\)/g, 'link')
      .replace(/\[[^\]\n[]*\]/g, 'cite');
    if (text.includes('`')) return `stray backtick in ${JSON.stringify(paragraph)}`;
    if (text.includes('[') || /\]\(/.test(text)) return `open link in ${JSON.stringify(paragraph)}`;
    const markers = text.replace(/(^|\n)\s*[*-]\s/g, '$1').replace(/\s\*\s/g, ' ');
    if ((markers.match(/\*\*/g)?.length ?? 0) % 2 === 1) return `odd ** in ${JSON.stringify(paragraph)}`;
    if ((markers.match(/~~/g)?.length ?? 0) % 2 === 1) return `odd ~~ in ${JSON.stringify(paragraph)}`;
    if ((markers.replace(/\*\*/g, '').match(/\*/g)?.length ?? 0) % 2 === 1)
      return `odd * in ${JSON.stringify(paragraph)}`;
  }
  return undefined;
}

const word = fc.stringMatching(/^[A-Za-z0-9]{1,8}$/);
const phrase = fc.array(word, { minLength: 1, maxLength: 4 }).map((words) => words.join(' '));
/** Answers as the model writes them: prose, bold, italic, strike, code spans, links, citations, lists, fences. */
const answer = fc
  .array(
    fc.oneof(
      phrase,
      phrase.map((text) => `**${text}**`),
      phrase.map((text) => `*${text}*`),
      phrase.map((text) => `~~${text}~~`),
      word.map((text) => `\`${text}\``),
      fc.tuple(phrase, word).map(([text, path]) => `[${text}](https://pinecrest.example/${path})`),
      fc.integer({ min: 1, max: 3 }).map((number) => `[${number}]`),
      phrase.map((text) => `\n- ${text}`),
      phrase.map((text) => `\n\n\`\`\`\n${text}\n\`\`\`\n\n`),
      fc.constant('. '),
      fc.constant('\n\n'),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((parts) => parts.join(' '));

describe('balanceMarkdown', () => {
  it.each([
    ['We ship to the **United Kingdom*', 'We ship to the United Kingdom'],
    ['Returns are free for **30 days', 'Returns are free for 30 days'],
    ['Use the code `SPRING', 'Use the code SPRING'],
    ['See [our returns page](https://pinecrest.example/ret', 'See our returns page'],
    ['As passage [2 says', 'As passage 2 says'],
    ['It is ~~not', 'It is not'],
    ['Steps:\n```\nlog in\nopen Orders', 'Steps:\n```\nlog in\nopen Orders\n```'],
    ['**Free** shipping over $50 and *fast', '**Free** shipping over $50 and fast'],
  ])('closes or drops what a cut answer left open: %j', (cut, balanced) => {
    expect(balanceMarkdown(cut)).toBe(balanced);
    expect(unbalanced(balanceMarkdown(cut))).toBeUndefined();
  });

  it('leaves balanced markdown and literal symbols alone', () => {
    for (const text of [
      '**30 days** from delivery [1]. *Unused* items only; see [returns](https://pinecrest.example/returns).',
      '- one\n* two\n\n2 * 3 = 6, snake_case_name, ~20 minutes',
      '```js\nconst price = a * b; // **not bold**\n```\nDone.',
      '***Important***: keep the `PC-1234` number.',
    ])
      expect(balanceMarkdown(text)).toBe(text);
  });

  it('makes every prefix of an answer balanced, keeping its words in order', () => {
    fc.assert(
      fc.property(answer, fc.nat(), (text, seed) => {
        const cut = text.slice(0, seed % (text.length + 1));
        const balanced = balanceMarkdown(cut);
        expect(unbalanced(balanced)).toBeUndefined();
        // Only markup goes: the words are the cut's, in order (a cut link address may go too).
        const words = (value: string) => value.match(/[A-Za-z0-9]+/g) ?? [];
        const kept = words(balanced);
        const all = words(cut);
        let at = 0;
        for (const item of kept) {
          while (at < all.length && all[at] !== item) at++;
          expect(at).toBeLessThan(all.length);
          at++;
        }
        expect(balanceMarkdown(balanced)).toBe(balanced);
      }),
      { numRuns: 500 },
    );
  });

  it('returns whole answers unchanged', () => {
    fc.assert(
      fc.property(answer, (text) => {
        expect(balanceMarkdown(text)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
