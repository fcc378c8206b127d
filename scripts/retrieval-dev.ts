/**
 * Retrieval tuning without Chroma: `npx tsx scripts/retrieval-dev.ts KB_PATH QUERIES.jsonl [--k 3]`.
 * Chunks and embeds the knowledge base in memory (offline embedder, brute-force cosine) and prints
 * recall@k and MRR for vector-only, BM25-only and hybrid ranking, the same way `kb eval` scores them.
 */
import { parseArgs } from 'node:util';
import { chunkDocument } from '../src/knowledge/chunker.ts';
import { readDocuments } from '../src/knowledge/document-reader.ts';
import { evaluateRetrieval, readEvaluationFile } from '../src/knowledge/evaluate.ts';
import { fuseRankings } from '../src/knowledge/fusion.ts';
import { LexicalIndex } from '../src/knowledge/lexical-index.ts';
import { embeddingText, type KnowledgeChunk, type RetrievedChunk } from '../src/knowledge/types.ts';
import { OfflineEmbedder } from '../src/llm/offline-embedder.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { k: { type: 'string', default: '3' }, misses: { type: 'boolean', default: false } },
});
const [kbPath, queriesPath] = positionals;
if (!kbPath || !queriesPath) {
  process.stderr.write('usage: retrieval-dev KB_PATH QUERIES.jsonl [--k 3] [--misses]\n');
  process.exit(1);
}
const k = Number(values.k);

const { documents } = await readDocuments(kbPath);
const chunks: KnowledgeChunk[] = documents.flatMap((document) => chunkDocument(document));
const embedder = new OfflineEmbedder();
const vectors = await embedder.embedDocuments(chunks.map(embeddingText));
const lexical = new LexicalIndex(chunks);
const byId = new Map(chunks.map((chunk) => [chunk.id, chunk]));
const { queries } = await readEvaluationFile(queriesPath);

function vectorRanking(query: string, limit: number): RetrievedChunk[] {
  const queryVector = embedder.embed(query);
  return chunks
    .map((chunk, index) => ({
      ...chunk,
      score: (vectors[index] as number[]).reduce(
        (sum, value, dim) => sum + value * (queryVector[dim] ?? 0),
        0,
      ),
    }))
    .sort((left, right) => right.score - left.score)
    .slice(0, limit);
}

const modes: Record<string, (query: string, limit: number) => Promise<RetrievedChunk[]>> = {
  vector: async (query, limit) => vectorRanking(query, limit),
  bm25: async (query, limit) =>
    lexical
      .search(query, limit)
      .map((hit) => ({ ...(byId.get(hit.id) as KnowledgeChunk), score: hit.score })),
  // Same as the Retriever: fused, then at most one chunk per document.
  hybrid: async (query, limit) => {
    const fused = fuseRankings(vectorRanking(query, 30), lexical.search(query, 30), {});
    const seen = new Map<string, number>();
    const results: RetrievedChunk[] = [];
    for (const hit of fused) {
      const chunk = byId.get(hit.id) as KnowledgeChunk;
      const count = seen.get(chunk.documentId) ?? 0;
      if (count >= 1) continue;
      seen.set(chunk.documentId, count + 1);
      results.push({ ...chunk, score: hit.score });
      if (results.length === limit) break;
    }
    return results;
  },
};

process.stdout.write(`${documents.length} documents, ${chunks.length} chunks, ${queries.length} queries\n`);
for (const [mode, search] of Object.entries(modes)) {
  const report = await evaluateRetrieval(queries, k, search);
  process.stdout.write(
    `${mode.padEnd(7)} recall@${k} ${report.recallAtK.toFixed(3)}  MRR ${report.mrr.toFixed(3)}\n`,
  );
  if (values.misses && mode === 'hybrid') {
    for (const miss of report.missed)
      process.stdout.write(`  miss: ${miss.query} → want ${miss.relevant_ids} got ${miss.retrieved_ids}\n`);
  }
}
