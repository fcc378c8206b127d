import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { LexicalIndexUnavailableError } from '../../src/errors.ts';
import { lexicalAnalyzer } from '../../src/knowledge/hybrid-ranking.ts';
import { createLexicalEngine } from '../../src/knowledge/lexical/create-lexical-engine.ts';
import type { LexicalEngine } from '../../src/knowledge/lexical/lexical-engine.ts';
import { PostgresLexicalEngine } from '../../src/knowledge/lexical/postgres-lexical-engine.ts';
import { SqliteLexicalEngine } from '../../src/knowledge/lexical/sqlite-lexical-engine.ts';
import type { KnowledgeChunk } from '../../src/knowledge/types.ts';
import { dropSchema } from '../support/helpers.ts';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lexical_it_${process.pid}_${Date.now()}`;
const workDir = mkdtempSync(path.join(tmpdir(), 'lexical-it-'));

function chunk(id: string, fields: Partial<KnowledgeChunk> = {}): KnowledgeChunk {
  return {
    id,
    documentId: id.split(':')[0] ?? id,
    title: '',
    headingPath: '',
    text: '',
    index: 0,
    ...fields,
  };
}

const corpus: KnowledgeChunk[] = [
  chunk('returns:1', {
    title: 'Returns policy',
    headingPath: 'Time limits',
    text: 'You can send items back within 30 days of delivery.',
    url: 'https://example.test/returns',
  }),
  chunk('shipping:1', {
    title: 'Shipping',
    headingPath: 'Costs',
    text: 'Standard delivery is free over 50 euros. Returns are collected by courier.',
  }),
  chunk('warranty:1', {
    title: 'Warranty',
    headingPath: 'Claims',
    text: 'Our warranty covers manufacturing faults for two years, and a-b:c "quoted" NEAR(x y) -minus.',
  }),
  chunk('cyrillic:1', { title: 'Доставка', text: 'Доставка по всей России занимает от трёх дней.' }),
  chunk('cjk:1', { title: '配送', text: '配送には三日かかります。' }),
];

const terms = (text: string) => lexicalAnalyzer.analyze(text);

const engines: { name: string; open: () => Promise<LexicalEngine> }[] = [
  {
    name: 'sqlite',
    open: async () =>
      new SqliteLexicalEngine({
        file: path.join(workDir, `contract-${Date.now()}.sqlite`),
        analyzer: lexicalAnalyzer,
      }),
  },
  {
    name: 'postgres',
    open: () =>
      PostgresLexicalEngine.open({
        url: databaseUrl,
        schema,
        collection: `contract-${Date.now()}`,
        analyzer: lexicalAnalyzer,
      }),
  },
];

afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  // Only this run's own schema.
  await dropSchema(databaseUrl, schema);
});

describe.each(engines)('the $name lexical engine', ({ name, open }) => {
  let engine: LexicalEngine;

  beforeAll(async () => {
    engine = await open();
    await engine.upsert(corpus);
  });
  afterAll(() => engine.close());

  it('starts never built, and records versions with compare-and-set', async () => {
    const fresh = await open();
    expect(await fresh.state()).toMatchObject({ version: '', chunks: 0 });
    await fresh.upsert(corpus.slice(0, 2));
    expect(await fresh.markVersion('v1', lexicalAnalyzer.id)).toBe(true);
    expect(await fresh.state()).toMatchObject({ version: 'v1', analyzer: lexicalAnalyzer.id, chunks: 2 });
    expect(await fresh.markVersion('v2', lexicalAnalyzer.id, { ifVersion: 'v0' })).toBe(false);
    expect((await fresh.state()).version).toBe('v1');
    expect(await fresh.markVersion('v2', lexicalAnalyzer.id, { ifVersion: 'v1' })).toBe(true);
    await fresh.clear();
    expect(await fresh.state()).toMatchObject({ version: '', chunks: 0 });
    await fresh.close();
  });

  it('returns the chunk data with its hits and replaces a chunk upserted again', async () => {
    const [hit] = await engine.search(terms('send items back'), 3);
    expect(hit?.chunk).toEqual(corpus[0]);
    await engine.upsert([{ ...(corpus[0] as KnowledgeChunk), text: 'Items go back within 60 days.' }]);
    expect((await engine.state()).chunks).toBe(corpus.length);
    expect(await engine.search(terms('send'), 3)).toEqual([]);
    expect((await engine.search(terms('60 days'), 3))[0]?.chunk.text).toBe('Items go back within 60 days.');
    await engine.upsert([corpus[0] as KnowledgeChunk]);
  });

  it('ranks a title match above a body match (field weights)', async () => {
    // "returns" is the title of one chunk and a body word of another.
    const hits = await engine.search(terms('returns'), 5);
    expect(hits.map((hit) => hit.chunk.id)).toEqual(['returns:1', 'shipping:1']);
    expect(hits[0]?.score).toBeGreaterThan(hits[1]?.score ?? Number.POSITIVE_INFINITY);
  });

  it('weights are options: with the body weighed over the title, the body match wins', async () => {
    const reversed =
      name === 'sqlite'
        ? new SqliteLexicalEngine({
            file: path.join(workDir, `weights-${Date.now()}.sqlite`),
            analyzer: lexicalAnalyzer,
            weights: { title: 0.1, headings: 0.1, body: 5 },
          })
        : await PostgresLexicalEngine.open({
            url: databaseUrl,
            schema,
            collection: `weights-${Date.now()}`,
            analyzer: lexicalAnalyzer,
            weights: { title: 0.1, headings: 0.1, body: 5 },
          });
    await reversed.upsert([
      chunk('a:1', { title: 'Returns', text: 'Items and more items about parcels and other things.' }),
      chunk('b:1', { title: 'Parcels', text: 'Returns returns returns.' }),
    ]);
    expect((await reversed.search(terms('returns'), 2)).map((hit) => hit.chunk.id)).toEqual(['b:1', 'a:1']);
    await reversed.close();
  });

  it('treats query syntax in terms as text: no error, no injection', async () => {
    for (const hostile of [
      '"',
      '""',
      '*',
      'NEAR(',
      'NEAR(a b)',
      '-',
      '-minus',
      ':',
      'title:returns',
      "'",
      '\\',
      'a&b|c!',
      'AND',
      'OR',
      '^',
    ]) {
      await expect(engine.search([hostile], 5)).resolves.toBeInstanceOf(Array);
      await expect(engine.documentFrequencies([hostile])).resolves.toBeInstanceOf(Map);
      await expect(engine.similarTerms(`${hostile}xxxx`)).resolves.toBeInstanceOf(Array);
    }
    // A column filter is not applied: "title:returns" is one term, which no chunk has.
    expect(await engine.search(['title:returns'], 5)).toEqual([]);
    expect(await engine.search(['-minus'], 5)).toEqual([]);
    expect(await engine.search([], 5)).toEqual([]);
  });

  it('indexes text in other languages', async () => {
    expect((await engine.search(terms('доставка'), 3))[0]?.chunk.id).toBe('cyrillic:1');
    expect((await engine.search(terms('配送'), 3))[0]?.chunk.id).toBe('cjk:1');
  });

  it('counts document frequencies from its own vocabulary, kept in step with deletions', async () => {
    const [returns, delivery, absent] = [...terms('returns delivery'), 'zzzz'] as [string, string, string];
    expect(await engine.documentFrequencies([returns, delivery, absent])).toEqual(
      new Map([
        [returns, 2],
        [delivery, 2],
        [absent, 0],
      ]),
    );
    await engine.delete(['shipping:1', 'no-such-chunk']);
    expect((await engine.documentFrequencies([returns])).get(returns)).toBe(1);
    expect((await engine.state()).chunks).toBe(corpus.length - 1);
    await engine.upsert([corpus[1] as KnowledgeChunk]);
    expect((await engine.documentFrequencies([returns])).get(returns)).toBe(2);
  });

  it('finds vocabulary terms within the edit limit, most frequent first, checked exactly', async () => {
    const warranty = terms('warranty')[0] as string;
    expect(await engine.similarTerms('waranti', { maxEdits: 1 })).toEqual([{ term: warranty, documents: 1 }]);
    // Two letters swapped is one edit; three changes are more than two.
    expect((await engine.similarTerms('warratny', { maxEdits: 1 })).map((found) => found.term)).toEqual([]);
    expect((await engine.similarTerms('waranty', { maxEdits: 2 })).map((found) => found.term)).toContain(
      warranty,
    );
    expect((await engine.similarTerms('waranty', { maxEdits: 1 })).map((found) => found.term)).toEqual([]);
    expect(await engine.similarTerms('wxyzqnt', { maxEdits: 2 })).toEqual([]);
    expect(await engine.similarTerms(warranty)).toEqual([]);
    expect((await engine.similarTerms('deliveri', { maxEdits: 1, limit: 1 })).length).toBeLessThanOrEqual(1);
  });

  it('rebuilds under a lease: a second rebuilder is turned away, an ingest write supersedes it', async () => {
    const target = await open();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* pages() {
      yield corpus.slice(0, 2);
      await gate;
      yield corpus.slice(2);
    }
    const first = target.rebuild({
      version: 'r1',
      analyzer: lexicalAnalyzer.id,
      pages: pages(),
      owner: 'first',
    });
    await expect.poll(async () => (await target.state()).chunks).toBe(2);
    expect((await target.state()).rebuildingUntil).toBeGreaterThan(Date.now());
    await expect(
      target.rebuild({ version: 'r1', analyzer: lexicalAnalyzer.id, pages: pages(), owner: 'second' }),
    ).resolves.toBe('busy');
    // An ingest's write revokes the lease: the rebuild stops at its next page and records nothing.
    await target.upsert([chunk('late:1', { text: 'late arrival' })]);
    release();
    await expect(first).resolves.toBe('superseded');
    expect((await target.state()).version).toBe('');

    const rebuilt = await target.rebuild({
      version: 'r2',
      analyzer: lexicalAnalyzer.id,
      pages: (async function* () {
        yield corpus;
      })(),
      confirm: async (chunks) => chunks === corpus.length,
    });
    expect(rebuilt).toBe('rebuilt');
    expect(await target.state()).toMatchObject({ version: 'r2', chunks: corpus.length });
    expect(await target.search(['late'], 3)).toEqual([]);
    const unconfirmed = await target.rebuild({
      version: 'r3',
      analyzer: lexicalAnalyzer.id,
      pages: (async function* () {
        yield corpus;
      })(),
      confirm: async () => false,
    });
    expect(unconfirmed).toBe('unconfirmed');
    expect((await target.state()).version).toBe('');
    await target.close();
  });
});

describe('ranking parity', () => {
  // Rare and common words, short and long chunks, title and body matches: BM25's IDF and length
  // normalisation decide these orders, so an engine scoring otherwise (ts_rank) falls out of step.
  const manual: KnowledgeChunk[] = [
    chunk('a:1', {
      title: 'Router setup',
      headingPath: 'Getting started',
      text:
        'Connect the router to the modem with the cable in the box, switch the router on and wait ' +
        'for the light to turn green. Open the app, sign in, choose a network name and a password, ' +
        'and keep the router away from walls and metal. A factory reset is rarely needed.',
    }),
    chunk('b:1', { title: 'Factory reset', text: 'Hold the reset button for ten seconds.' }),
    chunk('c:1', {
      title: 'Wi-Fi password',
      headingPath: 'Security',
      text: 'The router password is printed on the label under the router.',
    }),
    chunk('d:1', { title: 'Router lights', text: 'A green router light means the router is online.' }),
    chunk('e:1', {
      title: 'Parental controls',
      text: 'Block websites on the router for the devices of your children, by schedule.',
    }),
    chunk('f:1', { title: 'Guest network', text: 'Give visitors a network without your password.' }),
    chunk('g:1', {
      title: 'Firmware update',
      headingPath: 'Router maintenance',
      text: 'The router updates itself at night; after a reset it checks for an update at once.',
    }),
    chunk('h:1', { title: 'Modem', text: 'The modem connects the router to your provider.' }),
  ];
  const queries = [
    'router password',
    'reset router',
    'factory reset password',
    'green light router',
    'router network update',
  ];

  it('gives the SQLite and PostgreSQL engines the same order and the same BM25 scores', async () => {
    const openSqlite = () =>
      new SqliteLexicalEngine({
        file: path.join(workDir, `parity-${randomUUID()}.sqlite`),
        analyzer: lexicalAnalyzer,
      });
    const sqlite = openSqlite();
    const postgres = await PostgresLexicalEngine.open({
      url: databaseUrl,
      schema,
      collection: `parity-${Date.now()}`,
      analyzer: lexicalAnalyzer,
    });
    const compare = async (reference: LexicalEngine) => {
      for (const query of queries) {
        const expected = await reference.search(terms(query), 3);
        const hits = await postgres.search(terms(query), 3);
        expect(expected.length, query).toBe(3);
        expect(
          hits.map((hit) => hit.chunk.id),
          query,
        ).toEqual(expected.map((hit) => hit.chunk.id));
        for (const [index, hit] of hits.entries())
          expect(hit.score, query).toBeCloseTo(expected[index]?.score ?? Number.NaN, 6);
      }
    };
    const replaced = { ...(manual[1] as KnowledgeChunk), text: 'Press reset. Reset resets it.' };
    const rebuilt = openSqlite();
    try {
      for (const engine of [sqlite, postgres]) await engine.upsert(manual);
      await compare(sqlite);
      // PostgreSQL's chunk count and length sum must stay in step through a replacement and a
      // deletion. Compared with an index built afresh: FTS5 leaves a contentless table's deleted
      // rows in its row count and average length (bm25's N and avgdl) until it is rebuilt.
      await postgres.upsert([replaced]);
      await postgres.delete(['h:1']);
      await rebuilt.upsert(
        manual
          .filter((entry) => entry.id !== 'h:1')
          .map((entry) => (entry.id === replaced.id ? replaced : entry)),
      );
      await compare(rebuilt);
    } finally {
      await Promise.all([sqlite.close(), rebuilt.close(), postgres.close()]);
    }
  });
});

describe('the SQLite index file', () => {
  it("keeps its document frequencies equal to FTS5's own vocabulary (fts5vocab) through replacements and deletions", async () => {
    const file = path.join(workDir, 'vocabulary.sqlite');
    const engine = new SqliteLexicalEngine({ file, analyzer: lexicalAnalyzer });
    await engine.upsert(corpus);
    await engine.upsert([{ ...(corpus[1] as KnowledgeChunk), text: 'Returns returns returns by courier.' }]);
    await engine.delete(['warranty:1']);
    const database = new Database(file, { readonly: true });
    const fromFts = database.prepare('SELECT term, doc FROM chunk_vocabulary ORDER BY term').all();
    const maintained = database
      .prepare('SELECT term, documents AS doc FROM terms WHERE documents > 0 ORDER BY term')
      .all();
    database.close();
    expect(fromFts.length).toBeGreaterThan(10);
    expect(maintained).toEqual(fromFts);
    await engine.close();
  });

  it('is rebuilt when deleted under a running engine: it reads as never built, with the reason', async () => {
    const file = path.join(workDir, 'deleted.sqlite');
    const engine = new SqliteLexicalEngine({ file, analyzer: lexicalAnalyzer });
    await engine.upsert(corpus);
    await engine.markVersion('v1', lexicalAnalyzer.id);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    const state = await engine.state();
    expect(state).toMatchObject({ version: '', chunks: 0 });
    expect(state.problem).toMatch(/was deleted/);
    expect(existsSync(file)).toBe(true);
    await engine.close();
  });

  it('is moved aside when corrupt, and a new one is started', async () => {
    const file = path.join(workDir, 'corrupt.sqlite');
    const first = new SqliteLexicalEngine({ file, analyzer: lexicalAnalyzer });
    await first.upsert(corpus);
    await first.markVersion('v1', lexicalAnalyzer.id);
    await first.close();
    writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a));
    const reopened = new SqliteLexicalEngine({ file, analyzer: lexicalAnalyzer });
    const state = await reopened.state();
    expect(state).toMatchObject({ version: '', chunks: 0 });
    expect(state.problem).toMatch(/was corrupt .* moved aside to .*corrupt\.sqlite\.corrupt-/);
    expect(readdirSync(workDir).some((entry) => entry.startsWith('corrupt.sqlite.corrupt-'))).toBe(true);
    await reopened.upsert(corpus.slice(0, 1));
    expect((await reopened.search(terms('returns'), 3)).map((hit) => hit.chunk.id)).toEqual(['returns:1']);
    await reopened.close();
  });
});

describe('createLexicalEngine', () => {
  const configWith = (env: Record<string, string>) =>
    loadConfig({ env: { DATA_DIR: workDir, KB_COLLECTION: 'factory-kb', ...env }, loadDotEnv: false });

  it('keeps the index in a SQLite file in the data folder without DATABASE_URL', async () => {
    const engine = await createLexicalEngine(configWith({}));
    expect(engine.kind).toBe('sqlite');
    expect(engine.location).toBe(path.join(workDir, 'lexical', 'factory-kb.sqlite'));
    await engine.close();
  });

  it('uses PostgreSQL when DATABASE_URL is set, in the configured schema', async () => {
    const engine = await createLexicalEngine(
      configWith({ DATABASE_URL: databaseUrl, KB_POSTGRES_SCHEMA: schema }),
    );
    expect(engine.kind).toBe('postgres');
    expect(engine.location).toContain(`"${schema}"`);
    await engine.close();
  });

  it('stops with one line naming the URL, password masked, and the fix, when PostgreSQL is unreachable', async () => {
    const attempt = createLexicalEngine(
      configWith({ DATABASE_URL: 'postgres://bot:s3cret-pass@127.0.0.1:9/kb', KB_POSTGRES_SCHEMA: schema }),
    );
    await expect(attempt).rejects.toThrow(LexicalIndexUnavailableError);
    const error = (await attempt.catch((caught: unknown) => caught)) as LexicalIndexUnavailableError;
    expect(error.code).toBe('lexical_index_unreachable');
    expect(error.message).toMatch(
      /^PostgreSQL at postgres:\/\/bot:\*\*\*@127\.0\.0\.1:9\/kb is not usable for the lexical index \(.*ECONNREFUSED.*\): start it or correct DATABASE_URL, or unset DATABASE_URL/,
    );
    expect(error.message).not.toContain('s3cret');
    expect(error.message).not.toContain('\n');
  });

  it('can be forced to SQLite with DATABASE_URL set', async () => {
    const engine = await createLexicalEngine(
      configWith({ DATABASE_URL: 'postgres://bot:x@127.0.0.1:9/kb', KB_LEXICAL_ENGINE: 'sqlite' }),
    );
    expect(engine.kind).toBe('sqlite');
    await engine.close();
  });
});
