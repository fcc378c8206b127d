import { type Intent, intentNames } from './intents.ts';

/** A labelled message. */
export interface LabelledMessage {
  text: string;
  label: Intent;
}

/** Precision, recall and F1 of one intent. */
export interface IntentScore {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** What `classify eval --json` prints. */
export interface IntentEvaluation {
  accuracy: number;
  perIntent: Record<Intent, IntentScore>;
  /** true intent → predicted intent → count. */
  confusion: Record<Intent, Record<Intent, number>>;
  /** The local classifier answering alone: share of messages it was sure about, and its accuracy there. */
  fastPath: { coverage: number; accuracy: number };
}

/** A prediction, with the local classifier's own answer and confidence. */
export interface EvaluatedPrediction {
  intent: Intent;
  local: { intent: Intent; confidence: number };
}

/** Scores predictions against labels. */
export async function evaluateIntents(
  messages: readonly LabelledMessage[],
  predict: (text: string) => Promise<EvaluatedPrediction>,
  threshold: number,
): Promise<IntentEvaluation> {
  const confusion = Object.fromEntries(
    intentNames.map((truth) => [truth, Object.fromEntries(intentNames.map((predicted) => [predicted, 0]))]),
  ) as Record<Intent, Record<Intent, number>>;
  let correct = 0;
  let fast = 0;
  let fastCorrect = 0;
  for (const message of messages) {
    const prediction = await predict(message.text);
    confusion[message.label][prediction.intent]++;
    if (prediction.intent === message.label) correct++;
    if (prediction.local.confidence >= threshold) {
      fast++;
      if (prediction.local.intent === message.label) fastCorrect++;
    }
  }
  const perIntent = Object.fromEntries(
    intentNames.map((intent) => {
      const truePositives = confusion[intent][intent];
      const support = intentNames.reduce((sum, predicted) => sum + confusion[intent][predicted], 0);
      const predicted = intentNames.reduce((sum, truth) => sum + confusion[truth][intent], 0);
      const precision = predicted === 0 ? 0 : truePositives / predicted;
      const recall = support === 0 ? 0 : truePositives / support;
      const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      return [intent, { precision: round(precision), recall: round(recall), f1: round(f1), support }];
    }),
  ) as Record<Intent, IntentScore>;
  const count = messages.length;
  return {
    accuracy: count === 0 ? 0 : round(correct / count),
    perIntent,
    confusion,
    fastPath: {
      coverage: count === 0 ? 0 : round(fast / count),
      accuracy: fast === 0 ? 0 : round(fastCorrect / fast),
    },
  };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
