/**
 * How long the local intent classifier takes to train at start-up and to classify, on the shipped
 * catalog and training file; exits 1 when the median training time is over the bound.
 *   npx tsx scripts/intents-bench.ts [--runs 3] [--max-training-ms 3000] [--json]
 * Training runs in the constructor, so this is the delay it adds to the bot's start.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { loadIntentCatalog } from '../src/llm/intents.ts';
import { LocalIntentClassifier, type LocalIntentTrainingReport } from '../src/llm/local-intent-classifier.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      'max-training-ms': { type: 'string', default: '3000' },
      json: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const bound = Number(values['max-training-ms']);
  const config = loadConfig();
  const loadStarted = performance.now();
  const definitions = await loadIntentCatalog(path.resolve(projectRoot, config.intents.file));
  const loadMs = performance.now() - loadStarted;

  const reports: LocalIntentTrainingReport[] = [];
  let classifier: LocalIntentClassifier | undefined;
  for (let run = 0; run < runs; run++) {
    classifier = new LocalIntentClassifier(definitions);
    reports.push(classifier.trainingReport());
  }
  const trainingMs = median(reports.map((report) => report.trainingMs));

  const messages = (await readFile(path.join(projectRoot, 'test', 'fixtures', 'intent-eval.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { text: string }).text);
  const classifyStarted = performance.now();
  for (const message of messages) classifier?.classify(message);
  const classifyMicroseconds = ((performance.now() - classifyStarted) * 1000) / messages.length;

  const last = reports.at(-1) as LocalIntentTrainingReport;
  const result = {
    loadMs: Math.round(loadMs),
    trainingMs: Math.round(trainingMs),
    trainingMsPerRun: reports.map((report) => Math.round(report.trainingMs)),
    examples: last.examples,
    calibrationExamples: last.calibrationExamples,
    temperature: Math.round(last.temperature * 1000) / 1000,
    classifyMicroseconds: Math.round(classifyMicroseconds),
    boundMs: bound,
  };
  process.stdout.write(
    values.json
      ? `${JSON.stringify(result)}\n`
      : [
          `catalog + training file loaded in ${result.loadMs} ms`,
          `trained on ${result.examples} examples (temperature ${result.temperature} fitted on ${result.calibrationExamples} held out) in ${result.trainingMs} ms (median of ${runs}: ${result.trainingMsPerRun.join(', ')})`,
          `classifies in ${result.classifyMicroseconds} µs per message`,
          '',
        ].join('\n'),
  );
  if (trainingMs > bound) {
    process.stderr.write(
      `intents-bench: training took ${Math.round(trainingMs)} ms, over the ${bound} ms bound\n`,
    );
    process.exitCode = 1;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

await main();
