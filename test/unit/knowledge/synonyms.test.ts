import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.ts';
import { glossaryFileFor, loadSynonyms, SynonymTable } from '../../../src/knowledge/synonyms.ts';
import { analyzeTerms } from '../../../src/text/analysis.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'glossary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SynonymTable', () => {
  const table = new SynonymTable([
    ['refund', 'money back', 'reimburse'],
    ['lost package', 'never arrived'],
  ]);

  it("adds the help center's word for a customer's phrase, after the query terms", () => {
    expect(table.expand(analyzeTerms('Can I get my money back?'))).toEqual(['monei', 'back', 'refund']);
    expect(table.expand(analyzeTerms('my parcel never arrived'))).toEqual([
      'parcel',
      'never',
      'arriv',
      'lost',
      'packag',
    ]);
  });

  it("leaves a query that uses the help center's word alone: the mapping goes one way", () => {
    // Expanding "refund" into "money back" would add "back" to every refund question.
    expect(table.expand(analyzeTerms('refund for my order'))).toEqual(['refund', 'order']);
  });

  it('matches a phrase only as a whole, in order', () => {
    // "back" alone, or "money" without "back", is not "money back".
    expect(table.expand(analyzeTerms('send it back'))).toEqual(['send', 'back']);
    expect(table.expand(analyzeTerms('back money'))).toEqual(['back', 'monei']);
  });

  it('drops phrases that are only stop words, and groups left with fewer than two phrases', () => {
    expect(new SynonymTable([['the', 'refund']]).size).toBe(0);
    expect(table.size).toBe(2);
  });
});

describe('loadSynonyms', () => {
  it('reads groups from YAML', async () => {
    const file = path.join(dir, 'ok.yaml');
    writeFileSync(file, 'groups:\n  - [refund, money back]\n');
    expect((await loadSynonyms(file)).expand(['monei', 'back'])).toEqual(['monei', 'back', 'refund']);
  });

  it('treats a missing file as no glossary unless it was named', async () => {
    expect((await loadSynonyms(path.join(dir, 'absent.yaml'))).size).toBe(0);
    await expect(loadSynonyms(path.join(dir, 'absent.yaml'), { required: true })).rejects.toThrow(
      ConfigError,
    );
  });

  it('names the file and the problem for bad YAML or a bad shape', async () => {
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'groups: [[refund, "money back]\n');
    await expect(loadSynonyms(broken)).rejects.toThrow(/broken\.yaml is not valid YAML/);
    const single = path.join(dir, 'single.yaml');
    writeFileSync(single, 'groups:\n  - [refund]\n');
    await expect(loadSynonyms(single)).rejects.toThrow(
      /single\.yaml: groups\.0 a group needs at least two phrases/,
    );
  });
});

describe('glossaryFileFor', () => {
  it('follows the ingested source with auto, so one knowledge base never gets another one`s glossary', async () => {
    mkdirSync(path.join(dir, 'kb'), { recursive: true });
    expect(await glossaryFileFor('auto', 'kb', dir)).toBe(path.join(dir, 'kb', 'glossary.yaml'));
    expect(await glossaryFileFor('auto', 'exports/help.jsonl', dir)).toBe(
      path.join(dir, 'exports', 'help.glossary.yaml'),
    );
    expect(await glossaryFileFor('auto', '', dir)).toBeUndefined();
  });

  it('uses a named file for any source, and none when empty', async () => {
    expect(await glossaryFileFor('ops/words.yaml', 'kb', dir)).toBe(path.join(dir, 'ops', 'words.yaml'));
    expect(await glossaryFileFor('none', 'kb', dir)).toBeUndefined();
    expect(await glossaryFileFor('', 'kb', dir)).toBeUndefined();
  });
});
