import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

/** The eight intents; routing depends on these names. */
export const intentNames = [
  'greeting',
  'policy_question',
  'product_inquiry',
  'order_status',
  'order_placement',
  'refund_request',
  'complaint',
  'other',
] as const;

export type Intent = (typeof intentNames)[number];

/** Intents whose answers are general and may be cached and shared between customers. */
export const cacheableIntents: ReadonlySet<Intent> = new Set(['policy_question', 'product_inquiry']);

/** An intent's description (for the model's prompt) and its example utterances (to train on). */
export interface IntentDefinition {
  name: Intent;
  description: string;
  /** Hand-written examples (config/intents.yaml). */
  examples: string[];
  /**
   * Public dataset rows mapped to this intent (the catalog's `training` file); they train the local
   * classifier alongside the examples and are weighted below them. Never sent to a model.
   */
  trainingExamples?: string[];
}

/** A classification and where it came from. */
export interface IntentDecision {
  intent: Intent;
  /** In [0, 1]. */
  confidence: number;
  /** `local`: the local classifier was sure enough; `model`: the cheap model decided. */
  source: 'local' | 'model';
  /**
   * Set when the cheap model was asked but the local answer stands: it missed the deadline, or
   * failed.
   */
  fallback?: ClassifierFallbackReason;
}

/** Why a classification fell back to the local answer. */
export type ClassifierFallbackReason = 'deadline' | 'error';

/** Anything that classifies a message. */
export interface IntentClassifier {
  classify(text: string, options?: { signal?: AbortSignal }): Promise<IntentDecision>;
}

const catalogSchema = z.strictObject({
  /** A JSON Lines file of more training rows, relative to the catalog. */
  training: z.string().min(1).optional(),
  intents: z.record(
    z.string(),
    z.strictObject({
      description: z.string().min(1),
      examples: z.array(z.string().min(1)).min(5, { message: 'expected at least 5 examples' }),
    }),
  ),
});

/**
 * Reads config/intents.yaml, and the training file it names. Errors name the file and the key.
 */
export async function loadIntentCatalog(file: string): Promise<IntentDefinition[]> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new ConfigError('intents.file', `${file} cannot be read (${String(error)}): set intents.file.`);
  });
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigError('intents.file', `${file} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError('intents.file', `${file}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const unknown = Object.keys(parsed.data.intents).find((name) => !intentNames.includes(name as Intent));
  if (unknown) {
    throw new ConfigError(
      'intents.file',
      `${file}: intents.${unknown} is not an intent; expected one of ${intentNames.join(', ')}`,
    );
  }
  const missing = intentNames.filter((name) => !parsed.data.intents[name]);
  if (missing.length > 0) {
    throw new ConfigError(
      'intents.file',
      `${file}: intents.${missing[0]} is missing; all eight intents need examples`,
    );
  }
  const training = parsed.data.training
    ? await readIntentTrainingFile(path.resolve(path.dirname(file), parsed.data.training))
    : undefined;
  return intentNames.map((name) => {
    const definition = parsed.data.intents[name] as { description: string; examples: string[] };
    return {
      name,
      description: definition.description,
      examples: definition.examples,
      ...(training
        ? { trainingExamples: training.filter((row) => row.label === name).map((row) => row.text) }
        : {}),
    };
  });
}

/**
 * Reads a training file such as config/intents-training.jsonl: JSON Lines of
 * `{"text", "label", "source"?}`; a first line `{"meta": ...}` (where the rows come from, their
 * licence) is skipped. Errors name the file and the line.
 */
async function readIntentTrainingFile(file: string): Promise<{ text: string; label: Intent }[]> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new ConfigError(
      'intents.file',
      `${file} cannot be read (${String(error)}): fix "training" in the intents catalog or regenerate it with npx tsx scripts/intents-build-training.ts`,
    );
  });
  const rows: { text: string; label: Intent }[] = [];
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    let record: { text?: unknown; label?: unknown; meta?: unknown };
    try {
      record = JSON.parse(line);
    } catch {
      throw new ConfigError('intents.file', `${file}:${index + 1}: not valid JSON`);
    }
    if (record.meta !== undefined) return;
    if (typeof record.text !== 'string' || !intentNames.includes(record.label as Intent)) {
      throw new ConfigError(
        'intents.file',
        `${file}:${index + 1}: expected {"text": string, "label": one of ${intentNames.join(', ')}}`,
      );
    }
    rows.push({ text: record.text, label: record.label as Intent });
  });
  return rows;
}
