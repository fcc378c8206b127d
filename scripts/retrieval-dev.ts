/**
 * Retrieval tuning without Chroma or a database:
 *   npx tsx scripts/retrieval-dev.ts [--set doc2dial|samsung|demo|faq]... [--engine reference|sqlite] [--k 3] [--misses] [--grid]
 *   npx tsx scripts/retrieval-dev.ts KB_PATH QUERIES.jsonl [--k 3] [--misses]
 * Chunks the knowledge base as ingest does, embeds it with the real OfflineEmbedder (exact cosine,
 * as Chroma's nearest neighbours would be), indexes it in an in-memory lexical engine that scores
 * exactly as SQLite FTS5's bm25() does (field weights on term frequency, document length unweighted),
 * and runs the real `rankHybrid` over both, limited to one chunk per document like the Retriever.
 * Prints recall@k, hit@k and MRR@10 beside plain BM25 (`kb eval --baseline`) for each set, with the
 * queries split in two halves (odd and even lines) so a change that helps only one half shows.
 * `--grid` sweeps the ranking's parameters. `--engine sqlite` ranks with the real SQLite FTS5
 * engine (src/knowledge/lexical) in a temporary folder instead, to check the reference against it.
 * The dev sets under ../shared are read by path. Environment, for experiments: FIELDS=2,1,1 (field
 * weights), GRID=fields,share,typos,embedder (what --grid sweeps), EMBEDDERS='[{"pair":1.5}]'
 * (embedder weights it tries), DIMENSION=2048, CHUNK_TOKENS=200 (as ingest's chunkTokens).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/config/load.ts';
import { chunkDocument } from '../src/knowledge/chunker.ts';
import { readDocuments } from '../src/knowledge/document-reader.ts';
import {
  baselineSearch,
  type EvaluationQuery,
  type EvaluationReport,
  evaluateRetrieval,
  readEvaluationFile,
} from '../src/knowledge/evaluate.ts';
import {
  correctQueryText,
  type HybridRankingOptions,
  lexicalAnalyzer,
  rankHybrid,
} from '../src/knowledge/hybrid-ranking.ts';
import type { LexicalEngine } from '../src/knowledge/lexical/lexical-engine.ts';
import { SqliteLexicalEngine } from '../src/knowledge/lexical/sqlite-lexical-engine.ts';
import { loadSynonyms } from '../src/knowledge/synonyms.ts';
import { embeddingText, type KnowledgeChunk, type RetrievedChunk } from '../src/knowledge/types.ts';
import { OfflineEmbedder, type OfflineFeatureWeights } from '../src/llm/offline-embedder.ts';
import {
  type FieldWeights,
  ReferenceLexicalEngine,
} from '../test/unit/knowledge/reference-lexical-engine.ts';

// SYNONYMS=FILE: an operator glossary to expand lexical queries with (knowledge.glossary).
const synonyms = process.env.SYNONYMS ? await loadSynonyms(process.env.SYNONYMS) : undefined;

/** Candidates taken from each ranking, as the Retriever's default. */
const candidates = 30;
const shared = path.resolve(projectRoot, '..', 'shared', 'data', 'retrieval');
const devSets: Record<string, { knowledge: string; queries: string }> = {
  doc2dial: {
    knowledge: path.join(shared, 'doc2dial-val', 'passages.jsonl'),
    queries: path.join(shared, 'doc2dial-val', 'queries.jsonl'),
  },
  samsung: {
    knowledge: path.join(shared, 'samsung-emanual', 'passages.jsonl'),
    queries: path.join(shared, 'samsung-emanual', 'queries.jsonl'),
  },
  demo: {
    knowledge: path.join(projectRoot, 'config', 'knowledge'),
    queries: path.join(projectRoot, 'test', 'fixtures', 'kb-eval.jsonl'),
  },
  faq: {
    knowledge: path.join(projectRoot, 'test', 'fixtures', 'retrieval-dev', 'faq.jsonl'),
    queries: path.join(projectRoot, 'test', 'fixtures', 'retrieval-dev', 'queries.jsonl'),
  },
};

/** One dev set, loaded: its chunks, queries, and the vector candidates of each query. */
interface LoadedSet {
  name: string;
  chunks: KnowledgeChunk[];
  queries: EvaluationQuery[];
  vectorHits: Map<string, RetrievedChunk[]>;
  engines: Map<string, LexicalEngine>;
}

async function loadSet(name: string, knowledge: string, queriesFile: string): Promise<LoadedSet> {
  const { documents, problems } = await readDocuments(knowledge);
  const evaluation = await readEvaluationFile(queriesFile);
  for (const problem of [...problems, ...evaluation.problems]) process.stderr.write(`${problem.message}\n`);
  const chunkTokens = Number(process.env.CHUNK_TOKENS ?? 200);
  const chunks = documents.flatMap((document) => chunkDocument(document, { chunkTokens }));
  return { name, chunks, queries: evaluation.queries, vectorHits: new Map(), engines: new Map() };
}

/** Exact nearest neighbours by cosine: the vectors are sparse, so only their non-zero slots are multiplied. */
async function embedSet(set: LoadedSet, embedder: OfflineEmbedder): Promise<void> {
  const dimension = embedder.dimension;
  const matrix = new Float32Array(set.chunks.length * dimension);
  const vectors = await embedder.embedDocuments(set.chunks.map(embeddingText));
  vectors.forEach((vector, row) => {
    matrix.set(vector, row * dimension);
  });
  set.vectorHits.clear();
  // As the Retriever does: misspelt words become the knowledge base's own before embedding.
  const vocabulary = await engineFor(set, [1, 1, 1]);
  for (const { query } of set.queries) {
    if (set.vectorHits.has(query)) continue;
    const queryVector = await embedder.embedQuery(await correctQueryText(query, vocabulary));
    const slots: number[] = [];
    queryVector.forEach((value, slot) => {
      if (value !== 0) slots.push(slot);
    });
    const scores = new Float64Array(set.chunks.length);
    for (let row = 0; row < set.chunks.length; row++) {
      let score = 0;
      const base = row * dimension;
      for (const slot of slots) score += (matrix[base + slot] as number) * (queryVector[slot] as number);
      scores[row] = score;
    }
    const top = [...scores.keys()]
      .sort((left, right) => (scores[right] as number) - (scores[left] as number) || left - right)
      .slice(0, candidates)
      .filter((row) => (scores[row] as number) > 0);
    set.vectorHits.set(
      query,
      top.map((row) => ({ ...(set.chunks[row] as KnowledgeChunk), score: scores[row] as number })),
    );
  }
}

/** `--engine sqlite`: the real SQLite FTS5 engine in a temporary folder instead of the in-memory reference. */
let sqliteFolder: string | undefined;
process.on('exit', () => {
  if (sqliteFolder) rmSync(sqliteFolder, { recursive: true, force: true });
});

async function engineFor(set: LoadedSet, fieldWeights: FieldWeights): Promise<LexicalEngine> {
  const key = fieldWeights.join(',');
  let engine = set.engines.get(key);
  if (!engine) {
    if (values.engine === 'sqlite') {
      sqliteFolder ??= mkdtempSync(path.join(tmpdir(), 'retrieval-dev-'));
      const [title, headings, body] = fieldWeights;
      engine = new SqliteLexicalEngine({
        file: path.join(sqliteFolder, `${set.name}-${key}.sqlite`),
        analyzer: lexicalAnalyzer,
        weights: { title, headings, body },
      });
      await engine.upsert(set.chunks);
    } else engine = new ReferenceLexicalEngine(set.chunks, fieldWeights);
    set.engines.set(key, engine);
  }
  return engine;
}

/** The Retriever's last step: best first, at most one chunk per document, `limit` chunks. */
function onePerDocument(ranked: readonly RetrievedChunk[], limit: number): RetrievedChunk[] {
  const seen = new Set<string>();
  const results: RetrievedChunk[] = [];
  for (const chunk of ranked) {
    if (seen.has(chunk.documentId)) continue;
    seen.add(chunk.documentId);
    results.push(chunk);
    if (results.length === limit) break;
  }
  return results;
}

type Mode = 'baseline' | 'vector' | 'lexical' | 'hybrid';

interface Configuration {
  fieldWeights: FieldWeights;
  ranking: HybridRankingOptions;
}

async function searchFor(set: LoadedSet, mode: Mode, configuration: Configuration) {
  const engine = await engineFor(set, configuration.fieldWeights);
  const baseline = mode === 'baseline' ? baselineSearch(set.chunks) : undefined;
  return async (query: string, k: number): Promise<RetrievedChunk[]> => {
    if (baseline) return baseline(query, k);
    const vectorHits = mode === 'lexical' ? [] : (set.vectorHits.get(query) ?? []);
    if (mode === 'vector') return onePerDocument(vectorHits, k);
    const ranked = await rankHybrid({
      query,
      vectorHits,
      lexical: engine,
      candidates,
      options: mode === 'lexical' ? { ...configuration.ranking, lexicalShare: 1 } : configuration.ranking,
      ...(synonyms ? { synonyms } : {}),
    });
    return onePerDocument(ranked, k);
  };
}

async function measure(
  set: LoadedSet,
  mode: Mode,
  configuration: Configuration,
  k: number,
): Promise<{ all: EvaluationReport; halves: [EvaluationReport, EvaluationReport] }> {
  const search = await searchFor(set, mode, configuration);
  const all = await evaluateRetrieval(set.queries, k, search);
  const odd = set.queries.filter((_, index) => index % 2 === 0);
  const even = set.queries.filter((_, index) => index % 2 === 1);
  return {
    all,
    halves: [await evaluateRetrieval(odd, k, search), await evaluateRetrieval(even, k, search)],
  };
}

const format = (report: EvaluationReport) =>
  `recall ${report.recallAtK.toFixed(4)}  hit ${report.hitRateAtK.toFixed(4)}  MRR@10 ${report.mrr.toFixed(4)}`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    set: { type: 'string', multiple: true },
    k: { type: 'string', default: '3' },
    misses: { type: 'boolean', default: false },
    grid: { type: 'boolean', default: false },
    engine: { type: 'string', default: 'reference' },
  },
});
const k = Number(values.k);
if (!Number.isInteger(k) || k < 1) {
  process.stderr.write(
    'usage: retrieval-dev [--set NAME]... [KB_PATH QUERIES.jsonl] [--k 3] [--misses] [--grid]\n',
  );
  process.exit(1);
}

const sets: LoadedSet[] = [];
if (positionals.length === 2)
  sets.push(await loadSet('custom', positionals[0] as string, positionals[1] as string));
for (const name of values.set ?? (positionals.length === 2 ? [] : ['doc2dial', 'samsung', 'demo'])) {
  const paths = devSets[name];
  if (!paths) throw new Error(`unknown set "${name}": one of ${Object.keys(devSets).join(', ')}`);
  sets.push(await loadSet(name, paths.knowledge, paths.queries));
}

const defaultConfiguration: Configuration = {
  fieldWeights: (process.env.FIELDS?.split(',').map(Number) as unknown as FieldWeights | undefined) ?? [
    2, 1, 1,
  ],
  ranking: {},
};

async function withEmbedder(weights?: Partial<OfflineFeatureWeights>): Promise<void> {
  const dimension = Number(process.env.DIMENSION ?? 2048);
  const embedder = new OfflineEmbedder(weights ? { weights, dimension } : { dimension });
  for (const set of sets) await embedSet(set, embedder);
}

if (!values.grid) {
  await withEmbedder();
  for (const set of sets) {
    process.stdout.write(
      `\n${set.name}: ${set.chunks.length} chunks of ${new Set(set.chunks.map((chunk) => chunk.documentId)).size} documents, ${set.queries.length} queries\n`,
    );
    for (const mode of ['baseline', 'lexical', 'vector', 'hybrid'] as const) {
      const { all, halves } = await measure(set, mode, defaultConfiguration, k);
      process.stdout.write(
        `  ${mode.padEnd(8)} ${format(all)}   halves: recall ${halves[0].recallAtK.toFixed(4)} / ${halves[1].recallAtK.toFixed(4)}\n`,
      );
      if (values.misses && mode === 'hybrid')
        for (const miss of all.missed)
          process.stdout.write(
            `    miss: ${miss.query} → want ${miss.relevant_ids.join(',')}, got ${miss.retrieved_ids.join(',')}\n`,
          );
    }
  }
} else {
  await runGrid();
}

/** Sweeps one parameter at a time around the defaults and prints recall@k per set for each value. */
async function runGrid(): Promise<void> {
  const rows: { label: string; configuration: Configuration; embedder?: Partial<OfflineFeatureWeights> }[] =
    [];
  const sweep = process.env.GRID ?? 'fields,share,embedder';
  if (sweep.includes('fields'))
    for (const fieldWeights of [
      [1, 1, 1],
      [2, 1, 1],
      [2, 1.5, 1],
      [3, 2, 1],
    ] as const)
      rows.push({ label: `fields ${fieldWeights.join('/')}`, configuration: { fieldWeights, ranking: {} } });
  if (sweep.includes('share'))
    for (const lexicalShare of [0.4, 0.5, 0.6, 0.7])
      rows.push({
        label: `lexical share ${lexicalShare}`,
        configuration: { ...defaultConfiguration, ranking: { lexicalShare } },
      });
  if (sweep.includes('typos'))
    rows.push({
      label: 'no typo correction',
      configuration: { ...defaultConfiguration, ranking: { correctTypos: false } },
    });
  if (sweep.includes('embedder'))
    for (const embedder of JSON.parse(
      process.env.EMBEDDERS ??
        '[{"pair":0.5},{"pair":1.5},{"characters":0.5},{"characters":1.5},{"title":1,"heading":1},{"title":3,"heading":2}]',
    ) as Partial<OfflineFeatureWeights>[])
      rows.push({
        label: `embedder ${JSON.stringify(embedder)}`,
        configuration: defaultConfiguration,
        embedder,
      });
  let embedderKey = '';
  for (const row of rows.sort((left, right) =>
    JSON.stringify(left.embedder ?? {}).localeCompare(JSON.stringify(right.embedder ?? {})),
  )) {
    const key = JSON.stringify(row.embedder ?? {});
    if (key !== embedderKey) {
      await withEmbedder(row.embedder);
      embedderKey = key;
    }
    const cells: string[] = [];
    for (const set of sets) {
      const { all } = await measure(set, 'hybrid', row.configuration, k);
      cells.push(
        `${set.name} ${all.recallAtK.toFixed(4)}/${all.hitRateAtK.toFixed(4)}/${all.mrr.toFixed(4)}`,
      );
    }
    process.stdout.write(`${row.label.padEnd(28)} ${cells.join('  ')}\n`);
  }
}
