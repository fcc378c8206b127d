import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { readDocuments } from '../../src/knowledge/document-reader.ts';
import { lexicalAnalyzer } from '../../src/knowledge/hybrid-ranking.ts';
import { ingestDocuments } from '../../src/knowledge/ingest.ts';
import { createKnowledgeBase, type KnowledgeBase } from '../../src/knowledge/knowledge-base.ts';
import { OfflineEmbedder } from '../../src/llm/offline-embedder.ts';
import { dropSchema, recordingLogger } from '../support/helpers.ts';

const chromaUrl = inject('chromaUrl');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lexical_rt_${process.pid}_${Date.now()}`;
const workDir = mkdtempSync(path.join(tmpdir(), 'lexical-rt-'));
const embedder = new OfflineEmbedder();

function configFor(collection: string, env: Record<string, string> = {}) {
  return loadConfig({
    env: { CHROMA_URL: chromaUrl, KB_COLLECTION: collection, DATA_DIR: workDir, ...env },
    loadDotEnv: false,
  });
}

afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  // Only this run's own schema.
  await dropSchema(databaseUrl, schema);
});

const variants: { engine: string; env: Record<string, string> }[] = [
  { engine: 'sqlite', env: { KB_LEXICAL_ENGINE: 'sqlite' } },
  { engine: 'postgres', env: { DATABASE_URL: databaseUrl, KB_POSTGRES_SCHEMA: schema } },
];

describe.each(variants)('hybrid retrieval with the $engine lexical index', ({ engine, env }) => {
  const collection = `it-lex-${engine}-${process.pid}-${Date.now()}`;
  const recorder = recordingLogger();
  let knowledgeBase: KnowledgeBase;
  let version = '';

  beforeAll(async () => {
    knowledgeBase = createKnowledgeBase({
      config: configFor(collection, env),
      embedder,
      logger: recorder.logger,
    });
    const { documents } = await readDocuments(path.join(projectRoot, 'config', 'knowledge'));
    const lexical = await knowledgeBase.lexical();
    expect(lexical?.kind).toBe(engine);
    const report = await ingestDocuments({
      store: await knowledgeBase.store(),
      embedder,
      documents,
      source: 'config/knowledge',
      ...(lexical ? { lexical } : {}),
    });
    expect(report.lexical).toBe('updated');
    version = report.version;
  });

  afterAll(async () => {
    await (await knowledgeBase.store()).drop();
    await knowledgeBase.close();
  });

  it('answers from the engine without rebuilding anything after an ingest in this process', async () => {
    const retriever = await knowledgeBase.retriever();
    const hits = await retriever.search('how many days do I have to return boots?', 3);
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((hit) => hit.documentId)).size).toBe(3);
    expect(recorder.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });

  it('survives queries of stop words only, emoji only, and 10,000 characters', async () => {
    const retriever = await knowledgeBase.retriever();
    await expect(retriever.search('what is the and of it', 3)).resolves.toBeInstanceOf(Array);
    await expect(retriever.search('🙂🙂🔥', 3)).resolves.toBeInstanceOf(Array);
    const long = `refund ${Array.from({ length: 1500 }, (_, index) => `word${index}x`).join(' ')}`.slice(
      0,
      10_000,
    );
    const started = performance.now();
    const hits = await retriever.search(long, 3);
    expect(hits.length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('rebuilds from Chroma with one log line when another process ingested, searching by vector meanwhile', async () => {
    // Another process (its own data folder, so its own SQLite file; or the same PostgreSQL tables
    // left untouched) ingests one more document into the collection.
    const other = createKnowledgeBase({
      config: configFor(collection, { ...env, DATA_DIR: path.join(workDir, 'other') }),
      embedder,
    });
    const { documents } = await readDocuments(path.join(projectRoot, 'config', 'knowledge'));
    const report = await ingestDocuments({
      store: await other.store(),
      embedder,
      documents: [
        ...documents,
        {
          id: 'zz-kayaks',
          title: 'Kayak rental',
          text: 'Kayaks rent for 40 euros a day at the lake shop.',
          source: 'test',
        },
      ],
      source: 'config/knowledge',
    });
    await other.close();
    expect(report.version).not.toBe(version);

    const retriever = await knowledgeBase.retriever();
    retriever.invalidate();
    recorder.lines.length = 0;
    const during = await retriever.search('kayak rental price', 3);
    expect(during.length).toBeGreaterThan(0);
    await retriever.settled();
    const warnings = recorder.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(
      /^lexical index out of step with the knowledge base \(it holds version [0-9a-f]+, the collection [0-9a-f]+\): rebuilding it from Chroma in pages/,
    );
    const lexical = await knowledgeBase.lexical();
    expect(await lexical?.state()).toMatchObject({ version: report.version, analyzer: lexicalAnalyzer.id });
    const lexicalHits = await lexical?.search(lexicalAnalyzer.analyze('kayaks'), 3);
    expect(lexicalHits?.map((hit) => hit.chunk.documentId)).toEqual(['zz-kayaks']);
    expect((await retriever.search('kayak rental price', 3))[0]?.documentId).toBe('zz-kayaks');
    expect(recorder.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    version = report.version;
  });

  it("tells words the knowledge base uses from typos, by the engine's analysis", async () => {
    const terms = lexicalAnalyzer.analyze('Refunds warranty retrun kayaks');
    expect(terms).toEqual(['refund', 'warranti', 'retrun', 'kayak']);
    const knows = await (await knowledgeBase.retriever()).vocabulary(terms);
    expect(['refund', 'warranti', 'kayak'].map(knows)).toEqual([true, true, true]);
    expect(knows('retrun')).toBe(false);
    // A word not asked about: SQLite answers it directly, PostgreSQL assumes it known.
    expect(knows('zzqqxx')).toBe(engine !== 'sqlite');
  });
});

describe('the SQLite index of a running bot', () => {
  const collection = `it-lex-file-${process.pid}-${Date.now()}`;
  const recorder = recordingLogger();
  let knowledgeBase: KnowledgeBase;
  const file = path.join(workDir, 'lexical', `${collection}.sqlite`);

  const start = () =>
    createKnowledgeBase({
      config: configFor(collection, { KB_LEXICAL_ENGINE: 'sqlite' }),
      embedder,
      logger: recorder.logger,
    });

  beforeAll(() => {
    knowledgeBase = start();
  });

  afterAll(async () => {
    await (await knowledgeBase.store()).drop();
    await knowledgeBase.close();
  });

  it('returns nothing, without error, from an empty knowledge base', async () => {
    expect(await (await knowledgeBase.retriever()).search('where is my order?', 3)).toEqual([]);
    expect(recorder.lines.filter((line) => line.level !== 'info' && line.level !== 'debug')).toEqual([]);
  });

  async function ingestDemo() {
    const { documents } = await readDocuments(path.join(projectRoot, 'config', 'knowledge'));
    const lexical = await knowledgeBase.lexical();
    return ingestDocuments({
      store: await knowledgeBase.store(),
      embedder,
      documents,
      source: 'config/knowledge',
      ...(lexical ? { lexical } : {}),
    });
  }

  it.each([
    {
      damage: 'deleted under it',
      apply: async () => {
        for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
      },
      reason: /was deleted/,
    },
    {
      damage: 'found corrupt at the next start',
      apply: async () => {
        await knowledgeBase.close();
        writeFileSync(file, Buffer.alloc(8192, 0x41));
        knowledgeBase = start();
      },
      reason: /was corrupt \(file is not a database\); it was moved aside/,
    },
  ])('is rebuilt with one log line when its file is $damage', async ({ apply, reason }) => {
    const report = await ingestDemo();
    const retriever = await knowledgeBase.retriever();
    retriever.invalidate();
    await retriever.search('refund', 3);
    expect(existsSync(file)).toBe(true);

    await apply();
    recorder.lines.length = 0;
    const current = await knowledgeBase.retriever();
    current.invalidate();
    const during = await current.search('how do I get a refund?', 3);
    expect(during.length).toBe(3);
    await current.settled();
    const warnings = recorder.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(reason);
    expect(warnings[0]?.message).toMatch(/rebuilding it from Chroma in pages/);
    const state = await (await knowledgeBase.lexical())?.state();
    expect(state).toMatchObject({ version: report.version, chunks: report.chunks });
    expect(state?.problem).toBeUndefined();
  });
});

describe('ingest', () => {
  it('embeds up to `concurrency` batches ahead of the writes and stores every chunk in both indexes', async () => {
    const collection = `it-lex-ingest-${process.pid}-${Date.now()}`;
    const inner = new OfflineEmbedder();
    let inFlight = 0;
    let mostInFlight = 0;
    const slowEmbedder = {
      id: inner.id,
      dimension: inner.dimension,
      async embedDocuments(texts: readonly string[]) {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        return inner.embedDocuments(texts);
      },
      embedQuery: (text: string) => inner.embedQuery(text),
    };
    const knowledgeBase = createKnowledgeBase({
      config: configFor(collection, { KB_LEXICAL_ENGINE: 'sqlite' }),
      embedder: slowEmbedder,
    });
    try {
      const { documents } = await readDocuments(path.join(projectRoot, 'config', 'knowledge'));
      const lexical = await knowledgeBase.lexical();
      const progress: number[] = [];
      const report = await ingestDocuments({
        store: await knowledgeBase.store(),
        embedder: slowEmbedder,
        documents,
        source: 'config/knowledge',
        batchSize: 8,
        concurrency: 3,
        ...(lexical ? { lexical } : {}),
        onProgress: (event) => {
          if (event.phase === 'embed') progress.push(event.done);
        },
      });
      expect(mostInFlight).toBe(3);
      expect(progress.at(-1)).toBe(report.added);
      expect(progress).toEqual([...progress].sort((left, right) => left - right));
      expect((await (await knowledgeBase.store()).info()).chunks).toBe(report.chunks);
      expect(await lexical?.state()).toMatchObject({ version: report.version, chunks: report.chunks });
    } finally {
      await (await knowledgeBase.store()).drop();
      await knowledgeBase.close();
    }
  });
});
