import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ChromaClient } from 'chromadb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { ChromaUnavailableError, EmbedderMismatchError } from '../../src/errors.ts';
import { readDocuments } from '../../src/knowledge/document-reader.ts';
import { evaluateRetrieval } from '../../src/knowledge/evaluate.ts';
import { lexicalAnalyzer } from '../../src/knowledge/hybrid-ranking.ts';
import { ingestDocuments } from '../../src/knowledge/ingest.ts';
import { createKnowledgeBase, type KnowledgeBase } from '../../src/knowledge/knowledge-base.ts';
import { KnowledgeStore } from '../../src/knowledge/knowledge-store.ts';
import type { Embedder } from '../../src/llm/embedder.ts';
import { OfflineEmbedder } from '../../src/llm/offline-embedder.ts';

const run = promisify(execFile);

/** Counts what reaches the real embedder, so "nothing was embedded" is observed, not assumed. */
class CountingEmbedder implements Embedder {
  readonly inner = new OfflineEmbedder();
  readonly id = this.inner.id;
  readonly dimension = this.inner.dimension;
  embedded = 0;
  embedDocuments(texts: readonly string[]) {
    this.embedded += texts.length;
    return this.inner.embedDocuments(texts);
  }
  embedQuery(text: string) {
    return this.inner.embedQuery(text);
  }
}

const chromaUrl = inject('chromaUrl');
const collection = `it-kb-${process.pid}-${Date.now()}`;
const workDir = mkdtempSync(path.join(tmpdir(), 'kb-it-'));
const sourceDir = path.join(workDir, 'knowledge');

function configFor(name: string) {
  return loadConfig({
    env: { CHROMA_URL: chromaUrl, KB_COLLECTION: name, DATA_DIR: workDir },
    loadDotEnv: false,
  });
}

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('knowledge base on a real Chroma server', () => {
  const embedder = new CountingEmbedder();
  let knowledgeBase: KnowledgeBase;

  async function ingestFolder() {
    const read = await readDocuments(sourceDir);
    const store = await knowledgeBase.store();
    embedder.embedded = 0;
    const lexical = await knowledgeBase.lexical();
    const report = await ingestDocuments({
      store,
      embedder,
      documents: read.documents,
      source: sourceDir,
      ...(lexical ? { lexical } : {}),
    });
    (await knowledgeBase.retriever()).invalidate();
    return report;
  }

  beforeAll(() => {
    cpSync(path.join(projectRoot, 'config', 'knowledge'), sourceDir, { recursive: true });
    knowledgeBase = createKnowledgeBase({ config: configFor(collection), embedder });
  });

  afterAll(async () => {
    await (await knowledgeBase.store()).drop();
    await knowledgeBase.close();
  });

  it('ingests the demo knowledge base and embeds nothing the second time', async () => {
    const first = await ingestFolder();
    expect(first.documents).toBeGreaterThanOrEqual(25);
    expect(first.added).toBe(first.chunks);
    expect(embedder.embedded).toBe(first.chunks);
    expect(first.version).toMatch(/^[0-9a-f]{16}$/);

    const second = await ingestFolder();
    expect(second.added).toBe(0);
    expect(second.deleted).toBe(0);
    expect(embedder.embedded).toBe(0);
    expect(second.version).toBe(first.version);
    const info = await (await knowledgeBase.store()).info();
    expect(info).toMatchObject({ version: first.version, chunks: first.chunks, embedder: embedder.id });
    // The lexical index followed the ingest and records the same version.
    expect(first.lexical).toBe('updated');
    expect(await (await knowledgeBase.lexical())?.state()).toMatchObject({
      version: first.version,
      chunks: first.chunks,
    });
  });

  it('re-embeds only the changed chunks of an edited document and changes the version', async () => {
    const before = await (await knowledgeBase.store()).info();
    writeFileSync(
      path.join(sourceDir, 'zz-test-notice.md'),
      '# Holiday notice\n\n## Dates\n\nThe warehouse closes from 24 to 26 December.\n\n## Orders\n\nOrders placed then ship on 27 December.',
    );
    const added = await ingestFolder();
    expect(added.added).toBe(2);
    expect(added.version).not.toBe(before.version);

    writeFileSync(
      path.join(sourceDir, 'zz-test-notice.md'),
      '# Holiday notice\n\n## Dates\n\nThe warehouse closes from 24 to 26 December.\n\n## Orders\n\nOrders placed then ship on 28 December.',
    );
    const updated = await ingestFolder();
    expect(updated).toMatchObject({ added: 1, deleted: 1 });
    expect(embedder.embedded).toBe(1);

    const hits = await (await knowledgeBase.retriever()).search(
      'holiday notice: orders placed then ship on which day?',
      3,
    );
    expect(hits.map((hit) => hit.documentId)).toContain('zz-test-notice');
    expect(hits.map((hit) => hit.text).join(' ')).toContain('28 December');
    expect(hits.map((hit) => hit.text).join(' ')).not.toContain('27 December');
  });

  it('deletes the chunks of a removed document', async () => {
    rmSync(path.join(sourceDir, 'zz-test-notice.md'));
    const report = await ingestFolder();
    expect(report).toMatchObject({ added: 0, deleted: 2 });
    const ids = await (await knowledgeBase.store()).listChunkIds();
    expect([...ids.values()].includes('zz-test-notice')).toBe(false);
    const lexical = await knowledgeBase.lexical();
    const hits = await lexical?.search(
      lexicalAnalyzer.analyze('holiday notice warehouse closes December'),
      10,
    );
    expect(hits?.map((hit) => hit.chunk.documentId)).not.toContain('zz-test-notice');
    expect(await lexical?.state()).toMatchObject({ version: report.version, chunks: ids.size });
  });

  it('searches and evaluates retrieval over the demo knowledge base', async () => {
    const retriever = await knowledgeBase.retriever();
    const hits = await retriever.search('how many days do I have to send something back?', 3);
    expect(hits).toHaveLength(3);
    expect(hits[0]?.score).toBeGreaterThan(0);
    const report = await evaluateRetrieval(
      [
        {
          query: 'how many days do I have to send something back?',
          relevant_ids: [hits[0]?.documentId ?? ''],
        },
        { query: 'zzzz qqqq', relevant_ids: ['no-such-document'] },
      ],
      3,
      (query, k) => retriever.search(query, k),
    );
    expect(report.recallAtK).toBe(0.5);
    expect(report.missed.map((missed) => missed.query)).toEqual(['zzzz qqqq']);
  });

  it('answers a 10,000-character query without error', async () => {
    const hits = await (await knowledgeBase.retriever()).search(
      `refund ${'please help me '.repeat(700)}`.slice(0, 10_000),
      3,
    );
    expect(hits.length).toBeGreaterThan(0);
  });

  it('refuses to mix vectors of another embedder and says to re-ingest', async () => {
    const { client, url } = await knowledgeBase.connection.connect();
    const other = new KnowledgeStore({
      client,
      url,
      collection,
      embedder: { id: 'openai:text-embedding-3-small:1536', dimension: 1536 },
    });
    await expect(other.open()).rejects.toThrow(EmbedderMismatchError);
    await expect(other.open()).rejects.toThrow(/re-ingest with `npm run kb -- ingest PATH --rebuild`/);
  });

  it('shares one client and one collection among 50 concurrent first uses', async () => {
    const fresh = createKnowledgeBase({ config: configFor(`${collection}-c`), embedder });
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, index) => {
        const retriever = await fresh.retriever();
        return {
          retriever,
          store: await fresh.store(),
          hits: await retriever.search(`question ${index}`, 3),
        };
      }),
    );
    expect(new Set(results.map((result) => result.store)).size).toBe(1);
    expect(new Set(results.map((result) => result.retriever)).size).toBe(1);
    const client = new ChromaClient({
      host: new URL(chromaUrl).hostname,
      port: Number(new URL(chromaUrl).port),
    });
    const names = (await client.listCollections()).map((item) => item.name);
    expect(names.filter((name) => name === `${collection}-c`)).toHaveLength(1);
    await (await fresh.store()).drop();
    await fresh.close();
  });
});

describe('when Chroma is unreachable', () => {
  it('fails with an error that names the URL, before anything is written', async () => {
    const config = loadConfig({
      env: { CHROMA_URL: 'http://127.0.0.1:9', DATA_DIR: workDir },
      loadDotEnv: false,
    });
    const knowledgeBase = createKnowledgeBase({ config, embedder: new OfflineEmbedder() });
    await expect(knowledgeBase.store()).rejects.toThrow(ChromaUnavailableError);
    await expect(knowledgeBase.store()).rejects.toThrow('Chroma at http://127.0.0.1:9 is not reachable');
  });
});

describe('the kb command', () => {
  const env = {
    ...process.env,
    CHROMA_URL: chromaUrl,
    KB_COLLECTION: `${collection}-cli`,
    DATA_DIR: workDir,
    LOG_LEVEL: 'warn',
  };
  const kb = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'scripts/kb.ts', ...args], { cwd: projectRoot, env });

  afterAll(async () => {
    const client = new ChromaClient({
      host: new URL(chromaUrl).hostname,
      port: Number(new URL(chromaUrl).port),
    });
    await client.deleteCollection({ name: `${collection}-cli` }).catch(() => undefined);
  });

  it('ingests a JSONL with bad lines, reporting them by line number while keeping the good ones', async () => {
    const file = path.join(workDir, 'faq.jsonl');
    writeFileSync(
      file,
      [
        '{"id":"faq-hours","title":"Support hours","text":"Our support team answers from 8am to 8pm, Monday to Saturday."}',
        '{"id":"faq-gift","title":"Gift cards","text":"Gift cards never expire and can be used on any order."',
        '{"id":"faq-hours","text":"duplicate"}',
        '{"id":"faq-pets","title":"Pets","text":"Well-behaved dogs are welcome in our showroom."}',
      ].join('\n'),
    );
    const { stdout, stderr } = await kb('ingest', file, '--json');
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ documents: 2, added: 2, problems: 2 });
    expect(stderr).toMatch(/line 2: not valid JSON/);
    expect(stderr).toMatch(/line 3: duplicate id "faq-hours" \(first on line 1\)/);

    const again = JSON.parse((await kb('ingest', file, '--json')).stdout);
    expect(again).toMatchObject({ added: 0, deleted: 0, version: report.version });
  });

  it('searches and evaluates with --json', async () => {
    const hits = JSON.parse(
      (await kb('search', 'can I bring my dog to the store', '--k', '1', '--json')).stdout,
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ documentId: 'faq-pets', title: 'Pets' });

    const queries = path.join(workDir, 'queries.jsonl');
    writeFileSync(
      queries,
      '{"query":"when is support open","relevant_ids":["faq-hours"]}\n{"query":"do gift cards expire","relevant_ids":["faq-gift"]}\n',
    );
    const report = JSON.parse((await kb('eval', queries, '--k', '3', '--json')).stdout);
    expect(report).toMatchObject({ k: 3, queries: 2, recallAtK: 0.5 });
    expect(report.missed).toEqual([
      { query: 'do gift cards expire', relevant_ids: ['faq-gift'], retrieved_ids: expect.any(Array) },
    ]);
    expect(Object.keys(report).sort()).toEqual(['hitRateAtK', 'k', 'missed', 'mrr', 'queries', 'recallAtK']);
  });

  it('exits 1 with one line naming the URL when Chroma is down', async () => {
    const failed = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/kb.ts', 'ingest', path.join(projectRoot, 'config', 'knowledge')],
      {
        cwd: projectRoot,
        env: { ...env, CHROMA_URL: 'http://127.0.0.1:9' },
      },
    ).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr.trim()).toMatch(/^kb: Chroma at http:\/\/127\.0\.0\.1:9 is not reachable/);
  });
});
