/**
 * Intent classification from the command line:
 *   npm run classify -- eval FILE.jsonl [--json] [--threshold 0.7]
 *   npm run classify -- "where is my order?"
 * Uses the configured provider: offline, the local classifier alone; with OPENAI_API_KEY, the local
 * fast path and the cheap model for the rest. `--json` prints accuracy, per-intent precision and
 * recall, the confusion matrix, the fast path's coverage and accuracy, and the local classifier's
 * reliability by confidence bucket.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { createChatModels } from '../src/llm/create-models.ts';
import { evaluateIntents, type IntentEvaluation, type LabelledMessage } from '../src/llm/evaluate-intents.ts';
import { type Intent, intentNames, loadIntentCatalog } from '../src/llm/intents.ts';

function fail(message: string): never {
  process.stderr.write(`classify: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, threshold: { type: 'string' } },
  });
  const config = loadConfig();
  const threshold =
    values.threshold === undefined ? config.intents.fastPathThreshold : Number(values.threshold);
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1.01)
    fail('--threshold must be a number from 0 to 1');
  config.intents.fastPathThreshold = threshold;
  const definitions = await loadIntentCatalog(path.resolve(projectRoot, config.intents.file));
  const started = performance.now();
  const { classifier, provider } = createChatModels({ config, definitions });
  const trainingMs = performance.now() - started;

  if (positionals[0] !== 'eval') {
    const text = positionals.join(' ');
    if (!text.trim()) fail('usage: classify eval FILE.jsonl [--json] [--threshold X] | classify "a message"');
    const decision = await classifier.classify(text);
    process.stdout.write(
      `${JSON.stringify({ intent: decision.intent, confidence: round(decision.confidence), source: decision.source })}\n`,
    );
    return;
  }
  const file = positionals[1];
  if (!file) fail('usage: classify eval FILE.jsonl [--json] [--threshold X]');
  const messages = await readLabelled(file);
  const evaluation = await evaluateIntents(messages, (text) => classifier.classify(text), threshold);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ file, messages: messages.length, provider, threshold, trainingMs: Math.round(trainingMs), ...evaluation })}\n`,
    );
    return;
  }
  process.stdout.write(
    report(evaluation, {
      provider,
      threshold,
      trainingMs,
      messages: messages.length,
      stats: classifier.stats(),
    }),
  );
}

async function readLabelled(file: string): Promise<LabelledMessage[]> {
  const text = await readFile(file, 'utf8').catch(() => fail(`${file} cannot be read`));
  const messages: LabelledMessage[] = [];
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    let record: { text?: unknown; label?: unknown };
    try {
      record = JSON.parse(line);
    } catch {
      process.stderr.write(`classify: ${file}:${index + 1}: not valid JSON; line skipped\n`);
      return;
    }
    if (typeof record.text !== 'string' || typeof record.label !== 'string') {
      process.stderr.write(
        `classify: ${file}:${index + 1}: expected {"text": string, "label": string}; line skipped\n`,
      );
      return;
    }
    if (!intentNames.includes(record.label as Intent)) {
      fail(
        `${file}:${index + 1}: unknown label "${record.label}"; expected one of ${intentNames.join(', ')}`,
      );
    }
    messages.push({ text: record.text, label: record.label as Intent });
  });
  if (messages.length === 0) fail(`${file} has no labelled messages`);
  return messages;
}

function report(
  evaluation: IntentEvaluation,
  context: {
    provider: string;
    threshold: number;
    trainingMs: number;
    messages: number;
    stats: { local: number; model: number; fallbackErrors: number };
  },
): string {
  const lines = [
    `messages: ${context.messages} (provider ${context.provider}, local classifier trained in ${Math.round(context.trainingMs)} ms)`,
    `accuracy: ${evaluation.accuracy.toFixed(3)}`,
    `fast path (local confidence >= ${context.threshold}): coverage ${evaluation.fastPath.coverage.toFixed(3)}, accuracy ${evaluation.fastPath.accuracy.toFixed(3)}`,
    `answered by: local ${context.stats.local}, model ${context.stats.model}, model errors ${context.stats.fallbackErrors}`,
    '',
    '| intent | precision | recall | f1 | support |',
    '| --- | --- | --- | --- | --- |',
    ...intentNames.map((intent) => {
      const score = evaluation.perIntent[intent];
      return `| ${intent} | ${score.precision.toFixed(3)} | ${score.recall.toFixed(3)} | ${score.f1.toFixed(3)} | ${score.support} |`;
    }),
    '',
    `reliability of the local classifier (expected calibration error ${evaluation.expectedCalibrationError.toFixed(3)})`,
    '| confidence | messages | accuracy | mean confidence |',
    '| --- | --- | --- | --- |',
    ...evaluation.reliability.map(
      (bucket) =>
        `| ${bucket.from.toFixed(2)}-${bucket.to.toFixed(2)} | ${bucket.count} | ${bucket.accuracy.toFixed(3)} | ${bucket.meanConfidence.toFixed(3)} |`,
    ),
    '',
    `confusion (rows: true, columns: predicted)`,
    `| | ${intentNames.map((name) => name.slice(0, 8)).join(' | ')} |`,
    `| --- |${' --- |'.repeat(intentNames.length)}`,
    ...intentNames.map(
      (truth) =>
        `| ${truth} | ${intentNames.map((predicted) => evaluation.confusion[truth][predicted]).join(' | ')} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

await main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
