/**
 * Retrieval tuning without Chroma: `npx tsx scripts/retrieval-dev.ts KB_PATH QUERIES.jsonl [--k 3] [--misses]`.
 * Chunks and embeds the knowledge base in memory (offline embedder, brute-force cosine) and prints
 * recall@k and MRR for vector-only, BM25-only and hybrid ranking, scored like `kb eval` and limited
 * to one chunk per document like the Retriever. `--misses` lists the queries hybrid search missed.
 */
import { parseArgs } from 'node:util';
import { chunkDocument } from '../src/knowledge/chunker.ts';
import { readDocuments } from '../src/knowledge/document-reader.ts';
import { evaluateRetrieval, readEvaluationFile } from '../src/knowledge/evaluate.ts';
import { fuseRankings } from '../src/knowledge/fusion.ts';
import { LexicalIndex } from '../src/knowledge/lexical-index.ts';
import { embeddingText, type KnowledgeChunk, type RetrievedChunk } from '../src/knowledge/types.ts';
import { OfflineEmbedder } from '../src/llm/offline-embedder.ts';

/** Candidates taken from each ranking, as the Retriever's default. */
const candidates = 30;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { k: { type: 'string', default: '3' }, misses: { type: 'boolean', default: false } },
});
const [kbPath, queriesPath] = positionals;
const k = Number(values.k);
if (!kbPath || !queriesPath || !Number.isInteger(k) || k < 1) {
  process.stderr.write('usage: retrieval-dev KB_PATH QUERIES.jsonl [--k 3] [--misses]\n');
  process.exit(1);
}

const { documents, problems } = await readDocuments(kbPath);
const evaluation = await readEvaluationFile(queriesPath);
for (const problem of [...problems, ...evaluation.problems]) process.stderr.write(`${problem.message}\n`);
const chunks: KnowledgeChunk[] = documents.flatMap((document) => chunkDocument(document));
const byId = new Map(chunks.map((chunk) => [chunk.id, chunk]));

const embedder = new OfflineEmbedder();
const vectors = await embedder.embedDocuments(chunks.map(embeddingText));
const lexical = new LexicalIndex(chunks);

function vectorRanking(query: string): { id: string; score: number }[] {
  const queryVector = embedder.embed(query);
  return chunks
    .map((chunk, index) => {
      const vector = vectors[index] as number[];
      let score = 0;
      for (let dimension = 0; dimension < vector.length; dimension++)
        score += (vector[dimension] as number) * (queryVector[dimension] as number);
      return { id: chunk.id, score };
    })
    .sort((left, right) => right.score - left.score)
    .slice(0, candidates);
}

/** The Retriever's last step: best first, at most one chunk per document, `limit` chunks. */
function onePerDocument(ranked: readonly { id: string; score: number }[], limit: number): RetrievedChunk[] {
  const seen = new Set<string>();
  const results: RetrievedChunk[] = [];
  for (const { id, score } of ranked) {
    const chunk = byId.get(id) as KnowledgeChunk;
    if (seen.has(chunk.documentId)) continue;
    seen.add(chunk.documentId);
    results.push({ ...chunk, score });
    if (results.length === limit) break;
  }
  return results;
}

const modes: Record<string, (query: string, limit: number) => Promise<RetrievedChunk[]>> = {
  vector: async (query, limit) => onePerDocument(vectorRanking(query), limit),
  bm25: async (query, limit) => onePerDocument(lexical.search(query, candidates), limit),
  hybrid: async (query, limit) =>
    onePerDocument(fuseRankings(vectorRanking(query), lexical.search(query, candidates)), limit),
};

process.stdout.write(
  `${documents.length} documents, ${chunks.length} chunks, ${evaluation.queries.length} queries\n`,
);
for (const [mode, search] of Object.entries(modes)) {
  const report = await evaluateRetrieval(evaluation.queries, k, search);
  process.stdout.write(
    `${mode.padEnd(7)} recall@${k} ${report.recallAtK.toFixed(3)}  MRR ${report.mrr.toFixed(3)}\n`,
  );
  if (values.misses && mode === 'hybrid') {
    for (const miss of report.missed)
      process.stdout.write(
        `  miss: ${miss.query} → want ${miss.relevant_ids.join(',')}, got ${miss.retrieved_ids.join(',')}\n`,
      );
  }
}
