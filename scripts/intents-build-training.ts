/**
 * Builds the local intent classifier's public training set, and the held-out sets it is never
 * trained or tuned on, from the development data pack (../shared/data/intents, not shipped):
 *
 *   npx tsx scripts/intents-build-training.ts [--data ../shared/data/intents]
 *
 * Writes
 * - config/intents-training.jsonl: CLINC150 `train` (+ `oos_train`) and 4/5 of BANKING77 `train`,
 *   mapped by scripts/intents-mapping.ts; out-of-scope CLINC intents thinned to a fixed number of
 *   rows each so `other` does not drown the seven store intents (class weights do the rest);
 * - test/fixtures/intent-heldout-clinc150.jsonl: CLINC150 `val` (+ `oos_val`) mapped, out-of-scope
 *   intents thinned the same way;
 * - test/fixtures/intent-heldout-banking77.jsonl: the other 1/5 of BANKING77 `train` mapped (by a
 *   hash of the text, so the split does not move when rows are added).
 * Rows whose normalised text appears in any evaluation set are dropped from the training set, and
 * held-out rows equal to a hand-written example of config/intents.yaml from the held-out sets.
 * Deterministic: the same input gives byte-identical files.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { projectRoot } from '../src/config/load.ts';
import type { Intent } from '../src/llm/intents.ts';
import { mapLabel } from './intents-mapping.ts';

/** Rows kept per out-of-scope CLINC150 intent (of 100 train / 20 val). `oos` rows are all kept. */
const otherRowsPerLabel = { train: 24, val: 2 } as const;
/** BANKING77 rows whose text hash falls in this fifth are held out. */
const heldOutFifth = 0;

const sources = {
  clinc150: {
    repo: 'https://github.com/clinc/oos-eval',
    commit: '828f8093932c8fe6ca7936c3d2e52903b1c523de',
    path: 'data/data_full.json (train + oos_train; val + oos_val held out)',
    license: 'CC BY 3.0',
    cite: 'Larson et al., An Evaluation Dataset for Intent Classification and Out-of-Scope Prediction, EMNLP-IJCNLP 2019',
  },
  banking77: {
    repo: 'https://github.com/PolyAI-LDN/task-specific-datasets',
    commit: '57ec275d8078af65b7731c2a98be812d844a6d6b',
    path: 'banking_data/train.csv (4/5 train, 1/5 held out)',
    license: 'CC BY 4.0',
    cite: 'Casanueva et al., Efficient Intent Detection with Dual Sentence Encoders, NLP4ConvAI 2020',
  },
} as const;

interface SourceRow {
  text: string;
  label: string;
}

interface MappedRow {
  text: string;
  label: Intent;
  source: string;
}

function readRows(file: string): SourceRow[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as SourceRow);
}

function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

function fifth(text: string): number {
  return (createHash('sha256').update(normalise(text)).digest()[0] as number) % 5;
}

function mapRows(dataset: 'clinc150' | 'banking77', rows: readonly SourceRow[], perOtherLabel: number) {
  const rowsPerLabel = new Map<string, number>();
  for (const row of rows) rowsPerLabel.set(row.label, (rowsPerLabel.get(row.label) ?? 0) + 1);
  const seenPerLabel = new Map<string, number>();
  const kept: MappedRow[] = [];
  for (const row of rows) {
    const intent = mapLabel(dataset, row.label, row.text);
    if (!intent) continue;
    if (dataset === 'clinc150' && intent === 'other' && row.label !== 'oos') {
      // Spread over the label's rows rather than its first ones.
      const seen = seenPerLabel.get(row.label) ?? 0;
      seenPerLabel.set(row.label, seen + 1);
      const stride = Math.floor((rowsPerLabel.get(row.label) ?? 0) / perOtherLabel);
      if (seen % stride !== 0 || seen / stride >= perOtherLabel) continue;
    }
    kept.push({ text: row.text, label: intent, source: `${dataset}:${row.label}` });
  }
  return kept;
}

function writeJsonl(file: string, rows: readonly object[]): void {
  writeFileSync(file, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
}

function counts(rows: readonly MappedRow[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const row of rows) result[row.label] = (result[row.label] ?? 0) + 1;
  return Object.fromEntries(Object.entries(result).sort());
}

function main(): void {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: path.resolve(projectRoot, '..', 'shared', 'data', 'intents') },
    },
  });
  const data = values.data as string;
  const clincTrain = mapRows(
    'clinc150',
    readRows(path.join(data, 'clinc150', 'train.jsonl')),
    otherRowsPerLabel.train,
  );
  const clincVal = mapRows(
    'clinc150',
    readRows(path.join(data, 'clinc150', 'val.jsonl')),
    otherRowsPerLabel.val,
  );
  const banking = mapRows('banking77', readRows(path.join(data, 'banking77', 'train.jsonl')), 0);
  // A held-out row that is also a hand-written example would be trained on: not held out.
  const catalog = parse(readFileSync(path.join(projectRoot, 'config', 'intents.yaml'), 'utf8')) as {
    intents: Record<string, { examples: string[] }>;
  };
  const written = new Set(
    Object.values(catalog.intents).flatMap((intent) => intent.examples.map((text) => normalise(text))),
  );
  const notWritten = (row: MappedRow) => !written.has(normalise(row.text));
  const clincHeldOut = clincVal.filter(notWritten);
  const bankingHeldOut = banking.filter((row) => fifth(row.text) === heldOutFifth).filter(notWritten);
  const bankingTrain = banking.filter((row) => fifth(row.text) !== heldOutFifth);

  const evaluationTexts = new Set(
    [
      ...clincHeldOut,
      ...bankingHeldOut,
      ...['intent-eval.jsonl', 'intent-customers.jsonl'].flatMap((name) =>
        readRows(path.join(projectRoot, 'test', 'fixtures', name)),
      ),
    ].map((row) => normalise(row.text)),
  );
  const training = [...clincTrain, ...bankingTrain].filter(
    (row) => !evaluationTexts.has(normalise(row.text)),
  );
  const meta = {
    meta: {
      what: 'Public training rows for the local intent classifier, mapped to the eight intents of the support bot',
      generator: 'scripts/intents-build-training.ts (mapping: scripts/intents-mapping.ts)',
      sources,
      rows: training.length,
      perIntent: counts(training),
    },
  };
  writeJsonl(path.join(projectRoot, 'config', 'intents-training.jsonl'), [
    meta,
    ...training.map(({ text, label, source }) => ({ text, label, source })),
  ]);
  writeJsonl(
    path.join(projectRoot, 'test', 'fixtures', 'intent-heldout-clinc150.jsonl'),
    clincHeldOut.map(({ text, label, source }) => ({ text, label, source })),
  );
  writeJsonl(
    path.join(projectRoot, 'test', 'fixtures', 'intent-heldout-banking77.jsonl'),
    bankingHeldOut.map(({ text, label, source }) => ({ text, label, source })),
  );
  process.stdout.write(
    `${JSON.stringify({
      training: { rows: training.length, perIntent: counts(training) },
      heldOutClinc150: { rows: clincHeldOut.length, perIntent: counts(clincHeldOut) },
      heldOutBanking77: { rows: bankingHeldOut.length, perIntent: counts(bankingHeldOut) },
      droppedAsEvaluationText: clincTrain.length + bankingTrain.length - training.length,
    })}\n`,
  );
}

main();
