/**
 * Knowledge-base benchmark (not a test): ingest throughput, top-k query latency and the memory of
 * a process that serves queries, at a given size, on a real Chroma server (a local one started for
 * the run, or CHROMA_URL) and the configured lexical engine (SQLite in a temporary data folder; or
 * PostgreSQL with DATABASE_URL, in KB_POSTGRES_SCHEMA).
 *
 *   npm run bench:kb -- [--chunks 10000] [--queries 300] [--k 3] [--corpus support|uniform] [--json]
 *                       [--keep DIR]
 *
 * `--keep DIR` keeps the knowledge base in DIR after the run and reuses it on the next one with the
 * same size and corpus (the ingest figure is then a re-ingest), for tuning the query path.
 *
 * The corpus is synthetic but shaped like help-center text: documents of five headed sections,
 * about 200 tokens per chunk. `support` (the default) draws words Zipf-like from a support
 * vocabulary followed by a long tail of product and model names, so a few words are common and
 * most are rare, as in real text. `uniform` draws every word with equal chance from 150 support
 * words (every word then occurs in about half the chunks: BM25's worst case, and the corpus of the
 * figures measured before the lexical index moved out of the heap).
 *
 * Queries are served by a child process that plays the bot: it opens the knowledge base the way
 * `npm start` does, and reports its own resident memory, so the harness that generated the corpus
 * does not count.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadConfig, projectRoot } from '../src/config/load.ts';
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
    corpus: { type: 'string', default: 'support' },
    json: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    keep: { type: 'string' },
  },
});
const targetChunks = Number(values.chunks);
const queryCount = Number(values.queries);
const k = Number(values.k);
const corpusKind = values.corpus === 'uniform' ? 'uniform' : 'support';

const supportWords =
  `order shipping delivery refund return exchange warranty account password payment card invoice
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

/** Draws words: uniformly from the support words, or Zipf–Mandelbrot over them and a long tail. */
function wordSource(kind: 'support' | 'uniform', random: () => number): () => string {
  if (kind === 'uniform') return () => supportWords[Math.floor(random() * supportWords.length)] as string;
  const syllables = 'ka lo mi ne tu ra ve si do pa ul an er ox iz be go fu'.split(' ');
  const vocabulary = [...supportWords];
  for (let index = 0; vocabulary.length < 20_000; index++) {
    let name = '';
    for (let rest = index + 1; rest > 0; rest = Math.floor(rest / syllables.length))
      name += syllables[rest % syllables.length];
    vocabulary.push(index % 7 === 0 ? `${name}${index % 1000}` : name);
  }
  // Rank r weighs 1 / (r + 50): the commonest word is in about a quarter of the chunks, the tail rare.
  const cumulative = new Float64Array(vocabulary.length);
  let total = 0;
  vocabulary.forEach((_, rank) => {
    total += 1 / (rank + 51);
    cumulative[rank] = total;
  });
  return () => {
    const target = random() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] as number) < target) low = middle + 1;
      else high = middle;
    }
    return vocabulary[low] as string;
  };
}

function sentence(word: () => string, random: () => number): string {
  const text = Array.from({ length: 8 + Math.floor(random() * 10) }, word).join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function corpus(chunks: number): KnowledgeDocument[] {
  const random = randomGenerator(42);
  const word = wordSource(corpusKind, random);
  const sectionsPerDocument = 5;
  const documents: KnowledgeDocument[] = [];
  for (let index = 0; documents.length * sectionsPerDocument < chunks; index++) {
    const sections = Array.from({ length: sectionsPerDocument }, (_, section) => {
      // About 180 tokens: one chunk per section.
      const body = Array.from({ length: 6 }, () => sentence(word, random)).join(' ');
      return `## Section ${section + 1}: ${word()}\n\n${body}`;
    });
    documents.push({
      id: `doc-${index}`,
      title: `Article ${index}: ${word()} ${word()}`,
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

const round = (value: number) => Math.round(value * 100) / 100;

/** Peak resident memory of this process in MB (Linux VmHWM), else the current RSS. */
function peakRssMb(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Math.round(Number(match[1]) / 1024);
  } catch {}
  return Math.round(process.memoryUsage().rss / 1024 / 1024);
}

/** The child: opens the knowledge base as the bot does, serves the queries, reports its timings and memory. */
async function serve(): Promise<void> {
  const config = loadConfig();
  const embedder = createEmbedder(config);
  const knowledgeBase = createKnowledgeBase({ config, embedder, logger: createLogger({ level: 'warn' }) });
  try {
    const lexical = await knowledgeBase.lexical();
    const retriever = await knowledgeBase.retriever();
    const store = await knowledgeBase.store();
    const info = await store.info();
    const lexicalState = await lexical?.state();
    await retriever.search('warm up the index', k);
    const random = randomGenerator(7);
    const word = wordSource(corpusKind, random);
    const hybrid: number[] = [];
    const vectorOnly: number[] = [];
    for (let index = 0; index < queryCount; index++) {
      const query = Array.from({ length: 4 + Math.floor(random() * 8) }, word).join(' ');
      const started = performance.now();
      await retriever.search(query, k);
      hybrid.push(performance.now() - started);
      const vector = await embedder.embedQuery(query);
      const vectorStarted = performance.now();
      await store.queryByVector(vector, k);
      vectorOnly.push(performance.now() - vectorStarted);
    }
    hybrid.sort((left, right) => left - right);
    vectorOnly.sort((left, right) => left - right);
    process.stdout.write(
      `${JSON.stringify({
        lexicalInStep: lexicalState?.version === info.version,
        hybridP50Ms: round(percentile(hybrid, 50)),
        hybridP95Ms: round(percentile(hybrid, 95)),
        chromaOnlyP50Ms: round(percentile(vectorOnly, 50)),
        chromaOnlyP95Ms: round(percentile(vectorOnly, 95)),
        rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
        peakRssMb: peakRssMb(),
      })}\n`,
    );
  } finally {
    await knowledgeBase.close();
  }
}

async function run(): Promise<void> {
  const kept = values.keep ? path.resolve(values.keep) : undefined;
  const dataDir = kept ?? mkdtempSync(path.join(tmpdir(), 'bench-kb-'));
  const collection = kept ? `bench-${targetChunks}-${corpusKind}` : `bench-${process.pid}`;
  const env = { ...process.env, DATA_DIR: dataDir, KB_COLLECTION: collection };
  const config = loadConfig({ env });
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const embedder = createEmbedder(config);
  const knowledgeBase = createKnowledgeBase({ config, embedder, logger });
  try {
    const documents = corpus(targetChunks);
    const store = await knowledgeBase.store();
    const lexical = await knowledgeBase.lexical();
    const { url: chromaUrl } = await knowledgeBase.connection.connect();
    const ingestStarted = performance.now();
    const report = await ingestDocuments({
      store,
      embedder,
      documents,
      source: 'synthetic',
      batchSize: config.embeddings.batchSize,
      concurrency: config.embeddings.concurrency,
      ...(lexical ? { lexical } : {}),
    });
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;

    const reingestStarted = performance.now();
    const again = await ingestDocuments({
      store,
      embedder,
      documents,
      source: 'synthetic',
      ...(lexical ? { lexical } : {}),
    });
    const reingestSeconds = (performance.now() - reingestStarted) / 1000;

    const child = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(projectRoot, 'scripts', 'bench-kb.ts'),
        '--serve',
        '--queries',
        String(queryCount),
        '--k',
        String(k),
        '--corpus',
        corpusKind,
      ],
      { cwd: projectRoot, env: { ...env, CHROMA_URL: chromaUrl, LOG_LEVEL: 'warn' }, maxBuffer: 1 << 20 },
    );
    const served = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}');
    const result = {
      embedder: embedder.id,
      lexicalEngine: lexical?.kind ?? 'none',
      corpus: corpusKind,
      chunks: report.chunks,
      ingest: {
        seconds: round(ingestSeconds),
        chunksPerSecond: Math.round(report.added / ingestSeconds),
        concurrency: config.embeddings.concurrency,
        lexical: report.lexical,
      },
      reingest: { seconds: round(reingestSeconds), embedded: again.added },
      query: { k, queries: queryCount, ...served },
      machine: { cpus: cpus().length, node: process.version },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        [
          `Knowledge-base benchmark (${result.embedder}, ${result.lexicalEngine} lexical index, ${result.corpus} corpus, ${result.chunks} chunks, ${result.machine.cpus} CPUs, Node ${result.machine.node})`,
          '| figure | value |',
          '| --- | --- |',
          `| ingest (${result.ingest.concurrency} batches in flight) | ${result.ingest.seconds} s, ${result.ingest.chunksPerSecond} chunks/s, lexical index ${result.ingest.lexical} |`,
          `| re-ingest of the same input | ${result.reingest.seconds} s, ${result.reingest.embedded} embedded |`,
          `| top-${k} query, hybrid (embed + Chroma + lexical engine + fusion) | p50 ${served.hybridP50Ms} ms, p95 ${served.hybridP95Ms} ms${served.lexicalInStep ? '' : ' (lexical index NOT in step: vector only)'} |`,
          `| top-${k} query, Chroma alone | p50 ${served.chromaOnlyP50Ms} ms, p95 ${served.chromaOnlyP95Ms} ms |`,
          `| serving process memory after ${queryCount} queries | RSS ${served.rssMb} MB, peak ${served.peakRssMb} MB |`,
          '',
        ].join('\n'),
      );
    }
    if (!kept) {
      await store.drop();
      await lexical?.clear();
    }
  } finally {
    await knowledgeBase.close();
    if (!kept) rmSync(dataDir, { recursive: true, force: true });
  }
}

await (values.serve ? serve() : run());
