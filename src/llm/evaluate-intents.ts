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
  /**
   * The local classifier's accuracy by confidence bucket (a reliability diagram): calibrated, a
   * bucket's accuracy is close to its mean confidence.
   */
  reliability: ReliabilityBucket[];
  /** Mean |accuracy − confidence| over the buckets, weighted by their counts (0 is perfect). */
  expectedCalibrationError: number;
}

/** Messages whose local confidence is in [from, to) (the last bucket includes 1). */
export interface ReliabilityBucket {
  from: number;
  to: number;
  count: number;
  /** Of the local classifier's own answers; 0 when the bucket is empty. */
  accuracy: number;
  meanConfidence: number;
}

/** Bucket edges: finer near the top, where the fast-path threshold lives. */
const reliabilityEdges = [0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1] as const;

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
  const buckets = reliabilityEdges.slice(1).map(() => ({ count: 0, correct: 0, confidence: 0 }));
  for (const message of messages) {
    const prediction = await predict(message.text);
    confusion[message.label][prediction.intent]++;
    if (prediction.intent === message.label) correct++;
    const { confidence } = prediction.local;
    const localCorrect = prediction.local.intent === message.label;
    if (confidence >= threshold) {
      fast++;
      if (localCorrect) fastCorrect++;
    }
    const bucketIndex = reliabilityEdges.findIndex((edge, index) => index > 0 && confidence < edge);
    const bucket = buckets[bucketIndex === -1 ? buckets.length - 1 : bucketIndex - 1];
    if (bucket) {
      bucket.count++;
      bucket.confidence += confidence;
      if (localCorrect) bucket.correct++;
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
  const reliability = buckets.map((bucket, index) => ({
    from: reliabilityEdges[index] as number,
    to: reliabilityEdges[index + 1] as number,
    count: bucket.count,
    accuracy: bucket.count === 0 ? 0 : round(bucket.correct / bucket.count),
    meanConfidence: bucket.count === 0 ? 0 : round(bucket.confidence / bucket.count),
  }));
  const calibrationError =
    count === 0
      ? 0
      : buckets.reduce((sum, bucket) => sum + Math.abs(bucket.correct - bucket.confidence), 0) / count;
  return {
    accuracy: count === 0 ? 0 : round(correct / count),
    perIntent,
    confusion,
    fastPath: {
      coverage: count === 0 ? 0 : round(fast / count),
      accuracy: fast === 0 ? 0 : round(fastCorrect / fast),
    },
    reliability,
    expectedCalibrationError: round(calibrationError),
  };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
