import { readFile } from 'node:fs/promises';
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
  examples: string[];
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
  intents: z.record(
    z.string(),
    z.strictObject({
      description: z.string().min(1),
      examples: z.array(z.string().min(1)).min(5, { message: 'expected at least 5 examples' }),
    }),
  ),
});

/** Reads config/intents.yaml. Errors name the file and the key. */
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
  return intentNames.map((name) => {
    const definition = parsed.data.intents[name] as { description: string; examples: string[] };
    return { name, description: definition.description, examples: definition.examples };
  });
}
