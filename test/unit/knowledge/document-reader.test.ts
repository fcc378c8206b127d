import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestInputError } from '../../../src/errors.ts';
import { readDocuments } from '../../../src/knowledge/document-reader.ts';

function folderWith(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'reader-test-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

describe('readDocuments from a folder', () => {
  it('reads .md and .txt recursively, ids from the relative path, titles from the first heading', async () => {
    const root = folderWith({
      'returns.md': '# Returns policy\n\nThirty days.',
      'products/tent.md': 'Intro\n\n# Ridgeline 2 tent\n\nSleeps two.',
      'notes.txt': 'Plain text notes.',
      'image.png': Buffer.from([0x89, 0x50]),
    });
    const { documents, problems } = await readDocuments(root);
    expect(problems).toEqual([]);
    expect(documents.map((document) => [document.id, document.title])).toEqual([
      ['notes', 'Notes'],
      ['products/tent', 'Ridgeline 2 tent'],
      ['returns', 'Returns policy'],
    ]);
  });

  it('skips empty, binary and non-UTF-8 files with a clear problem each, keeping the good ones', async () => {
    const root = folderWith({
      'good.md': '# Good\n\nText.',
      'empty.md': '   \n',
      'binary.md': Buffer.from([0x23, 0x20, 0x00, 0x01, 0x02]),
      'latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9]),
    });
    const { documents, problems, unreadableIds } = await readDocuments(root);
    expect(documents.map((document) => document.id)).toEqual(['good']);
    const messages = problems.map((problem) => problem.message).join('\n');
    expect(messages).toMatch(/binary\.md looks binary/);
    expect(messages).toMatch(/empty\.md is empty/);
    expect(messages).toMatch(/latin1\.txt is not valid UTF-8; convert it/);
    // Unreadable files keep their old chunks; an emptied file is a removed document.
    expect(unreadableIds.sort()).toEqual(['binary', 'latin1']);
  });

  it('rejects a path that does not exist or is not a folder or .jsonl', async () => {
    await expect(readDocuments('/nonexistent/kb')).rejects.toThrow(IngestInputError);
    const root = folderWith({ 'doc.md': 'x' });
    await expect(readDocuments(path.join(root, 'doc.md'))).rejects.toThrow(/neither a folder/);
  });
});

describe('readDocuments from JSONL', () => {
  it('reads good lines and reports malformed, invalid and duplicate lines by number', async () => {
    const root = folderWith({
      'kb.jsonl': [
        '{"id":"a","text":"Alpha text","title":"Alpha","url":"https://help.example/a"}',
        '{"id":"b","text":"Beta text"',
        '',
        '{"id":"a","text":"Again"}',
        '{"text":"no id"}',
        '["not","an","object"]',
        '{"id":"c","text":"Gamma"}',
      ].join('\n'),
    });
    const { documents, problems } = await readDocuments(path.join(root, 'kb.jsonl'));
    expect(documents.map((document) => [document.id, document.title, document.url])).toEqual([
      ['a', 'Alpha', 'https://help.example/a'],
      ['c', 'C', undefined],
    ]);
    expect(problems.map((problem) => problem.message.split(':')[0])).toEqual([
      'line 2',
      'line 4',
      'line 5',
      'line 6',
    ]);
    expect(problems[1]?.message).toBe('line 4: duplicate id "a" (first on line 1); line skipped');
    expect(problems[0]?.source).toMatch(/kb\.jsonl:2$/);
  });
});

describe('readDocuments from a large .jsonl', () => {
  it('streams a 100 MB export a line at a time, reporting an oversized or non-UTF-8 line by its number', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'reader-large-'));
    const file = path.join(root, 'export.jsonl');
    const out = createWriteStream(file);
    const body = 'Orders ship within two business days from our warehouse. '.repeat(16);
    let lines = 0;
    let bytes = 0;
    const write = (line: string | Buffer) =>
      new Promise<void>((resolve) => {
        lines++;
        bytes += line.length + 1;
        out.write(line);
        if (out.write('\n')) resolve();
        else out.once('drain', resolve);
      });
    while (bytes < 100 * 1024 * 1024) {
      if (lines === 1000) await write(JSON.stringify({ id: 'too-long', text: 'x'.repeat(2 * 1024 * 1024) }));
      else if (lines === 2000) await write(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      else await write(JSON.stringify({ id: `article-${lines}`, title: `Article ${lines}`, text: body }));
    }
    await new Promise<void>((resolve) => out.end(resolve));
    expect(statSync(file).size).toBeGreaterThan(100 * 1024 * 1024);

    const { documents, problems } = await readDocuments(file);
    expect(documents).toHaveLength(lines - 2);
    expect(documents.at(-1)).toMatchObject({ id: `article-${lines - 1}`, source: `${file}:${lines}` });
    expect(problems.map((problem) => problem.message)).toEqual([
      'line 1001: longer than the 1048576-byte limit per line (split the document); line skipped',
      'line 2001: is not valid UTF-8 (convert the file, e.g. iconv -t UTF-8); line skipped',
    ]);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('reads a file whose last line has no newline, and CRLF lines', async () => {
    const root = folderWith({ 'kb.jsonl': '{"id":"a","text":"One."}\r\n{"id":"b","text":"Two."}' });
    const { documents, problems } = await readDocuments(path.join(root, 'kb.jsonl'));
    expect(problems).toEqual([]);
    expect(documents.map((document) => [document.id, document.text])).toEqual([
      ['a', 'One.'],
      ['b', 'Two.'],
    ]);
  });
});
