/**
 * The knowledge-base command:
 *   npm run kb -- ingest PATH [--rebuild] [--json]
 *   npm run kb -- search "question" [--k 3] [--json]
 *   npm run kb -- eval QUERIES.jsonl [--k 3] [--baseline] [--json]
 *   npm run kb -- info [--json]
 * DATA_DIR and KB_COLLECTION choose where the data lives and which collection is used.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/cli/progress.ts';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { SupportBotError, toSupportBotError } from '../src/errors.ts';
import { readDocuments } from '../src/knowledge/document-reader.ts';
import {
  baselineDescription,
  baselineSearch,
  type EvaluationReport,
  evaluateRetrieval,
  mrrDepth,
  readEvaluationFile,
} from '../src/knowledge/evaluate.ts';
import { ingestDocuments } from '../src/knowledge/ingest.ts';
import { createKnowledgeBase, type KnowledgeBase } from '../src/knowledge/knowledge-base.ts';
import { createEmbedder } from '../src/llm/create-embedder.ts';
import { createLogger } from '../src/observability/logger.ts';

const usage = `Usage:
  npm run kb -- ingest PATH [--rebuild] [--json]   folder of .md/.txt, or .jsonl of {"id","text","title"?,"url"?}
  npm run kb -- search "question" [--k 3] [--json]
  npm run kb -- eval QUERIES.jsonl [--k 3] [--baseline] [--json]
                                                   lines of {"query","relevant_ids":[...]}; --baseline also
                                                   ranks them by plain BM25 over the same documents
  npm run kb -- info [--json]
Environment: DATA_DIR (local data), KB_COLLECTION (collection), CHROMA_URL (existing server).`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      k: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      rebuild: { type: 'boolean', default: false },
      baseline: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, argument] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${usage}\n`);
    return command || values.help ? 0 : 2;
  }
  const k = Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 100)
    throw new SupportBotError('usage', `--k must be a whole number from 1 to 100, not "${values.k}"`);

  const config = loadConfig();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const embedder = createEmbedder(config);
  const knowledgeBase = createKnowledgeBase({ config, embedder, logger });
  try {
    switch (command) {
      case 'ingest':
        return await ingest(
          knowledgeBase,
          requireArgument(argument, 'ingest PATH'),
          values.rebuild,
          values.json,
          config.embeddings.batchSize,
          config.knowledge.chunkTokens,
          config.embeddings.concurrency,
        );
      case 'search':
        return await search(knowledgeBase, requireArgument(argument, 'search "question"'), k, values.json);
      case 'eval':
        return await evaluate(
          knowledgeBase,
          requireArgument(argument, 'eval QUERIES.jsonl'),
          k,
          values.json,
          values.baseline,
        );
      case 'info':
        return await info(knowledgeBase, values.json);
      default:
        process.stderr.write(`kb: unknown command "${command}"\n${usage}\n`);
        return 2;
    }
  } finally {
    await knowledgeBase.close();
  }
}

function requireArgument(value: string | undefined, form: string): string {
  if (!value) throw new SupportBotError('usage', `missing argument: npm run kb -- ${form}`);
  return value;
}

async function ingest(
  knowledgeBase: KnowledgeBase,
  inputPath: string,
  rebuild: boolean,
  json: boolean,
  batchSize: number,
  chunkTokens: number,
  concurrency: number,
): Promise<number> {
  // Read everything before touching the store, so bad input never leaves a half-written collection.
  const read = await readDocuments(inputPath);
  for (const problem of read.problems) process.stderr.write(`kb: ${problem.message}\n`);
  // --rebuild drops the collection before opening it, so one built by another embedder can be replaced.
  if (rebuild) await knowledgeBase.dropCollection();
  const store = await knowledgeBase.store();
  const lexical = await knowledgeBase.lexical();
  const progress = createProgress();
  const started = performance.now();
  const report = await ingestDocuments({
    store,
    embedder: knowledgeBase.embedder,
    ...(lexical ? { lexical } : {}),
    concurrency,
    documents: read.documents,
    source: path.relative(projectRoot, path.resolve(inputPath)),
    keepDocumentIds: read.unreadableIds,
    batchSize,
    chunkTokens,
    onProgress: (event) => {
      if (event.phase === 'embed') progress.update(event.done, event.total, 'chunks embedded');
    },
  });
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    ...report,
    collection: store.name,
    embedder: knowledgeBase.embedder.id,
    problems: read.problems.length,
    seconds: Number(seconds.toFixed(2)),
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `Ingested ${report.documents} documents into "${store.name}" (${knowledgeBase.embedder.id}): ` +
        `${report.chunks} chunks, ${report.added} embedded, ${report.unchanged} unchanged, ${report.deleted} deleted ` +
        `in ${seconds.toFixed(1)} s. Version ${report.previousVersion || '(none)'} -> ${report.version}.` +
        (lexical ? ` Lexical index (${lexical.kind}): ${report.lexical}.` : '') +
        (read.problems.length > 0 ? ` ${read.problems.length} input problem(s) above.` : '') +
        '\n',
    );
  }
  return read.problems.length > 0 && read.documents.length === 0 ? 1 : 0;
}

async function search(
  knowledgeBase: KnowledgeBase,
  question: string,
  k: number,
  json: boolean,
): Promise<number> {
  const retriever = await knowledgeBase.retriever();
  const chunks = await retriever.search(question, k);
  if (json) {
    process.stdout.write(
      `${JSON.stringify(chunks.map(({ id, documentId, title, headingPath, url, score, text }) => ({ id, documentId, title, headingPath, url, score, text })))}\n`,
    );
    return 0;
  }
  if (chunks.length === 0)
    process.stdout.write(
      'No passages found. Is the knowledge base ingested? npm run kb -- ingest config/knowledge\n',
    );
  chunks.forEach((chunk, index) => {
    const where = chunk.headingPath ? ` > ${chunk.headingPath}` : '';
    const excerpt = chunk.text.replace(/\s+/g, ' ').slice(0, 160);
    process.stdout.write(
      `${index + 1}. ${chunk.documentId} — ${chunk.title}${where} (score ${chunk.score.toFixed(4)})\n   ${excerpt}${chunk.text.length > 160 ? '…' : ''}\n`,
    );
  });
  return 0;
}

async function evaluate(
  knowledgeBase: KnowledgeBase,
  file: string,
  k: number,
  json: boolean,
  withBaseline: boolean,
): Promise<number> {
  const { queries, problems } = await readEvaluationFile(file);
  for (const problem of problems) process.stderr.write(`kb: ${problem.message}\n`);
  const retriever = await knowledgeBase.retriever();
  const report = await evaluateRetrieval(queries, k, (query, limit) => retriever.search(query, limit));
  // The baseline ranks the documents the collection holds, as ingested, so both see the same passages.
  const baseline = withBaseline
    ? await evaluateRetrieval(queries, k, baselineSearch(await (await knowledgeBase.store()).getAllChunks()))
    : undefined;
  if (json) {
    const { missed: _missed, ...baselineFigures } = baseline ?? { missed: [] };
    process.stdout.write(
      `${JSON.stringify(baseline ? { ...report, baseline: { method: baselineDescription, ...baselineFigures, missed: baseline.missed.length } } : report)}\n`,
    );
    return 0;
  }
  const row = (label: string, figure: (of: EvaluationReport) => number) =>
    `${label.padEnd(10)} ${figure(report).toFixed(4)}${baseline ? `   ${figure(baseline).toFixed(4)}` : ''}\n`;
  process.stdout.write(
    `queries: ${report.queries}\n` +
      (baseline ? `${''.padEnd(10)} bot      baseline\n` : '') +
      row(`recall@${k}`, (of) => of.recallAtK) +
      row(`hit@${k}`, (of) => of.hitRateAtK) +
      row(`MRR@${Math.max(k, mrrDepth)}`, (of) => of.mrr) +
      row('missed', (of) => of.missed.length).replace(/\.0000/g, '') +
      (baseline ? `baseline: ${baselineDescription}\n` : ''),
  );
  for (const missed of report.missed) {
    process.stdout.write(
      `  - ${JSON.stringify(missed.query)} wanted ${missed.relevant_ids.join(', ')}, got ${missed.retrieved_ids.join(', ') || 'nothing'}\n`,
    );
  }
  return 0;
}

async function info(knowledgeBase: KnowledgeBase, json: boolean): Promise<number> {
  const store = await knowledgeBase.store();
  const details = { collection: store.name, ...(await store.info()) };
  process.stdout.write(
    json
      ? `${JSON.stringify(details)}\n`
      : `${Object.entries(details)
          .map(([key, value]) => `${key}: ${value}`)
          .join('\n')}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const wrapped = toSupportBotError(error);
    process.stderr.write(`kb: ${wrapped.message}\n`);
    process.exitCode = wrapped.code === 'usage' ? 2 : 1;
  },
);
