/**
 * `npm run cache-eval`: how the answer cache's near-duplicate matching does on questions whose
 * answers are known to be the same (paraphrases of one topic, and customer-style rewordings of
 * them) and on pairs that must not match (other topics' questions, and look-alike pairs).
 *
 *   npm run cache-eval -- [--similarity 0.8] [--topics FILE] [--pairs FILE] [--json]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NearDuplicateIndex, type QuestionSignature, sameQuestion } from '../src/cache/near-duplicate.ts';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { chunkDocument } from '../src/knowledge/chunker.ts';
import { readDocuments } from '../src/knowledge/document-reader.ts';
import { OfflineEmbedder } from '../src/llm/offline-embedder.ts';
import { analyzeTerms } from '../src/text/analysis.ts';
import { readTopics, reword, seededRandom } from './load/workload.ts';

const { values: args } = parseArgs({
  options: {
    similarity: { type: 'string' },
    topics: { type: 'string', default: 'test/fixtures/load/topics.jsonl' },
    pairs: { type: 'string', default: 'test/fixtures/load/distinct-pairs.jsonl' },
    json: { type: 'boolean', default: false },
  },
});

const config = loadConfig({ env: {}, loadDotEnv: false });
const threshold = args.similarity ? Number(args.similarity) : config.cache.similarity;
const index = new NearDuplicateIndex({ embedder: new OfflineEmbedder(), threshold });
const { documents } = await readDocuments(path.resolve(projectRoot, config.knowledge.source));
// The knowledge base's vocabulary as the lexical index holds it (the bot asks the index itself).
const vocabulary = new Set(
  documents
    .flatMap((document) => chunkDocument(document))
    .flatMap((chunk) => analyzeTerms(`${chunk.title} ${chunk.headingPath} ${chunk.text}`)),
);
const knows = (term: string) => vocabulary.has(term);

const signatures = new Map<string, QuestionSignature>();
const signature = async (text: string) => {
  let found = signatures.get(text);
  if (!found) {
    found = await index.signature(text);
    signatures.set(text, found);
  }
  return found;
};
const cosine = (a: QuestionSignature, b: QuestionSignature) => {
  let dot = 0;
  for (let i = 0; i < a.vector.length; i++) dot += (a.vector[i] as number) * (b.vector[i] as number);
  return dot;
};
const matches = async (left: string, right: string) => {
  const [a, b] = [await signature(left), await signature(right)];
  return cosine(a, b) >= threshold && sameQuestion(a, b, knows);
};

// Only answers that are cached matter: policy and product questions.
const topics = readTopics(path.resolve(projectRoot, args.topics)).filter((topic) =>
  /policy|product/.test(topic.intent),
);
const random = seededRandom(11);

let samePairs = 0;
let sameMatched = 0;
let rewordPairs = 0;
let rewordMatched = 0;
const missedExamples: string[] = [];
for (const topic of topics) {
  for (let i = 0; i < topic.paraphrases.length; i++) {
    for (let j = i + 1; j < topic.paraphrases.length; j++) {
      samePairs++;
      if (await matches(topic.paraphrases[i] as string, topic.paraphrases[j] as string)) sameMatched++;
      else if (missedExamples.length < 8)
        missedExamples.push(`${topic.paraphrases[i]}  ~  ${topic.paraphrases[j]}`);
    }
    for (let k = 0; k < 5; k++) {
      const original = topic.paraphrases[i] as string;
      const variant = reword(original, random).text;
      if (variant === original) continue;
      rewordPairs++;
      if (await matches(original, variant)) rewordMatched++;
    }
  }
}

let crossPairs = 0;
let crossFalse = 0;
const falseExamples: string[] = [];
for (let a = 0; a < topics.length; a++) {
  for (let b = a + 1; b < topics.length; b++) {
    for (const left of (topics[a] as { paraphrases: string[] }).paraphrases) {
      for (const right of (topics[b] as { paraphrases: string[] }).paraphrases) {
        crossPairs++;
        if (await matches(left, right)) {
          crossFalse++;
          if (falseExamples.length < 8) falseExamples.push(`${left}  ~  ${right}`);
        }
      }
    }
  }
}

const pairs = readFileSync(path.resolve(projectRoot, args.pairs), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as { a: string; b: string; why?: string });
let distinctFalse = 0;
for (const pair of pairs) {
  if (await matches(pair.a, pair.b)) {
    distinctFalse++;
    if (falseExamples.length < 16) falseExamples.push(`${pair.a}  ~  ${pair.b}  (${pair.why ?? ''})`);
  }
}

const result = {
  similarity: threshold,
  embedder: 'offline:hash-v3',
  mustMatch: {
    paraphrasePairs: samePairs,
    paraphraseRecall: sameMatched / samePairs,
    rewordingPairs: rewordPairs,
    rewordingRecall: rewordMatched / rewordPairs,
  },
  mustNotMatch: {
    crossTopicPairs: crossPairs,
    crossTopicFalseHits: crossFalse,
    lookAlikePairs: pairs.length,
    lookAlikeFalseHits: distinctFalse,
    falseHitRate: (crossFalse + distinctFalse) / (crossPairs + pairs.length),
    lookAlikeFalseHitRate: distinctFalse / Math.max(1, pairs.length),
  },
  missedExamples,
  falseExamples,
};
if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  const pct = (value: number) => `${(value * 100).toFixed(1)} %`;
  process.stdout.write(
    [
      `near-duplicate matching at similarity ${threshold} (offline embedder + word check)`,
      `  must match:     paraphrases of one question ${pct(result.mustMatch.paraphraseRecall)} of ${samePairs} pairs; customer rewordings (case, punctuation, typos, greetings) ${pct(result.mustMatch.rewordingRecall)} of ${rewordPairs}`,
      `  must not match: other questions ${crossFalse} false hits in ${crossPairs} pairs; look-alike pairs ${distinctFalse} in ${pairs.length}; false-hit rate ${pct(result.mustNotMatch.falseHitRate)} overall, ${pct(result.mustNotMatch.lookAlikeFalseHitRate)} on look-alikes`,
      ...(falseExamples.length ? ['  false hits:', ...falseExamples.map((line) => `    ${line}`)] : []),
      ...(missedExamples.length
        ? [
            '  paraphrases not matched (served by their own cache entry instead), e.g.:',
            ...missedExamples.map((line) => `    ${line}`),
          ]
        : []),
    ].join('\n'),
  );
  process.stdout.write('\n');
}
