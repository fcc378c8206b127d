/**
 * Knowledge-base benchmark (not a test): ingest throughput and top-k query latency at a given
 * size, on a real Chroma server (a local one started for the run, or CHROMA_URL).
 *
 *   npm run bench:kb -- [--chunks 10000] [--queries 300] [--k 3] [--json]
 *
 * The corpus is synthetic but shaped like help-center text: documents of a few headed sections,
 * about 200 tokens per chunk, drawn from a support vocabulary so BM25 and vectors both have work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.ts';
import { ingestDocuments } from '../src/knowledge/ingest.ts';
import { createKnowledgeBase } from '../src/knowledge/knowledge-base.ts';
import type { KnowledgeDocument } from '../src/knowledge/types.ts';
import { createEmbedder } from '../src/llm/create-embedder.ts';
import { createLogger } from '../src/observability/logger.ts';

const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '300' },
    k: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const targetChunks = Number(values.chunks);
const queryCount = Number(values.queries);
const k = Number(values.k);

const words = `order shipping delivery refund return exchange warranty account password payment card invoice
  tracking parcel courier customs duty store credit gift voucher discount coupon promo loyalty points tent
  backpack stove filter headlamp jacket sleeping bag pan thermostat battery charger size colour fabric waterproof
  seam zipper strap buckle frame pole stake fuel canister lumens beam runtime warmth rating insulation down
  weight grams litres capacity dimensions compatible replacement repair damaged missing late cancel change
  address email login reset verify secure privacy data delete subscription newsletter hours phone chat`
  .split(/\s+/)
  .filter(Boolean);

function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function sentence(random: () => number): string {
  const length = 8 + Math.floor(random() * 10);
  const picked = Array.from({ length }, () => words[Math.floor(random() * words.length)]);
  const text = picked.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function corpus(chunks: number): KnowledgeDocument[] {
  const random = randomGenerator(42);
  const sectionsPerDocument = 5;
  const documents: KnowledgeDocument[] = [];
  for (let index = 0; documents.length * sectionsPerDocument < chunks; index++) {
    const sections = Array.from({ length: sectionsPerDocument }, (_, section) => {
      // About 180 tokens: one chunk per section.
      const body = Array.from({ length: 6 }, () => sentence(random)).join(' ');
      return `## Section ${section + 1}: ${words[Math.floor(random() * words.length)]}\n\n${body}`;
    });
    documents.push({
      id: `doc-${index}`,
      title: `Article ${index}`,
      text: `# Article ${index}\n\n${sections.join('\n\n')}`,
      source: 'synthetic',
    });
  }
  return documents;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-kb-'));
const config = loadConfig({
  env: { ...process.env, DATA_DIR: dataDir, KB_COLLECTION: `bench-${process.pid}` },
});
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
const embedder = createEmbedder(config);
const knowledgeBase = createKnowledgeBase({ config, embedder, logger });

try {
  const documents = corpus(targetChunks);
  const store = await knowledgeBase.store();
  const ingestStarted = performance.now();
  const report = await ingestDocuments({
    store,
    embedder,
    documents,
    source: 'synthetic',
    batchSize: config.embeddings.batchSize,
  });
  const ingestSeconds = (performance.now() - ingestStarted) / 1000;

  const reingestStarted = performance.now();
  const again = await ingestDocuments({ store, embedder, documents, source: 'synthetic' });
  const reingestSeconds = (performance.now() - reingestStarted) / 1000;

  const retriever = await knowledgeBase.retriever();
  const random = randomGenerator(7);
  await retriever.search('warm up the index', k);
  const latencies: number[] = [];
  const vectorOnly: number[] = [];
  for (let index = 0; index < queryCount; index++) {
    const query = Array.from(
      { length: 4 + Math.floor(random() * 8) },
      () => words[Math.floor(random() * words.length)],
    ).join(' ');
    const started = performance.now();
    await retriever.search(query, k);
    latencies.push(performance.now() - started);
    const vector = await embedder.embedQuery(query);
    const vectorStarted = performance.now();
    await store.queryByVector(vector, k);
    vectorOnly.push(performance.now() - vectorStarted);
  }
  latencies.sort((left, right) => left - right);
  vectorOnly.sort((left, right) => left - right);
  const round = (value: number) => Math.round(value * 100) / 100;
  const result = {
    embedder: embedder.id,
    chunks: report.chunks,
    ingest: { seconds: round(ingestSeconds), chunksPerSecond: Math.round(report.added / ingestSeconds) },
    reingest: { seconds: round(reingestSeconds), embedded: again.added },
    query: {
      k,
      queries: queryCount,
      hybridP50Ms: round(percentile(latencies, 50)),
      hybridP95Ms: round(percentile(latencies, 95)),
      chromaOnlyP50Ms: round(percentile(vectorOnly, 50)),
      chromaOnlyP95Ms: round(percentile(vectorOnly, 95)),
    },
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      [
        `Knowledge-base benchmark (${result.embedder}, ${result.chunks} chunks, ${result.machine.cpus} CPUs, Node ${result.machine.node})`,
        `| figure | value |`,
        `| --- | --- |`,
        `| ingest | ${result.ingest.seconds} s, ${result.ingest.chunksPerSecond} chunks/s |`,
        `| re-ingest of the same input | ${result.reingest.seconds} s, ${result.reingest.embedded} embedded |`,
        `| top-${k} query, hybrid (embed + Chroma + BM25 + fusion) | p50 ${result.query.hybridP50Ms} ms, p95 ${result.query.hybridP95Ms} ms |`,
        `| top-${k} query, Chroma alone | p50 ${result.query.chromaOnlyP50Ms} ms, p95 ${result.query.chromaOnlyP95Ms} ms |`,
        '',
      ].join('\n'),
    );
  }
  await store.drop();
} finally {
  await knowledgeBase.close();
  rmSync(dataDir, { recursive: true, force: true });
}
