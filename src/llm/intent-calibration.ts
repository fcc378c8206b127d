/**
 * Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", 2017): one number T
 * divides every logit, chosen to minimise the negative log-likelihood of examples the model was not
 * trained on, so that a confidence of 0.9 is right about 9 times in 10. Class-balanced: each
 * intent's examples weigh as much in total as any other's, so the many `other` rows do not set
 * the temperature alone. Scaling does not change which intent wins, only how sure it sounds.
 */

/** One held-out example: the model's logits and the index of the true intent. */
export interface CalibrationExample {
  logits: ArrayLike<number>;
  label: number;
  /** Relative weight within its class. @defaultValue 1 */
  weight?: number;
}

/** Options of {@link fitTemperature}. */
export interface FitTemperatureOptions {
  /** Search range of T. @defaultValue [0.05, 20] */
  range?: readonly [number, number];
}

/** Softmax of `logits / temperature`. */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const result = new Float64Array(logits.length);
  let max = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < logits.length; index++) max = Math.max(max, logits[index] as number);
  let total = 0;
  for (let index = 0; index < logits.length; index++) {
    const value = Math.exp(((logits[index] as number) - max) / temperature);
    result[index] = value;
    total += value;
  }
  for (let index = 0; index < result.length; index++) result[index] = (result[index] as number) / total;
  return result;
}

/** Class-balanced mean negative log-likelihood at a temperature. */
export function balancedNegativeLogLikelihood(
  examples: readonly CalibrationExample[],
  temperature: number,
): number {
  const perClass = new Map<number, number>();
  for (const example of examples)
    perClass.set(example.label, (perClass.get(example.label) ?? 0) + (example.weight ?? 1));
  let loss = 0;
  for (const example of examples) {
    const probability = softmax(example.logits, temperature)[example.label] as number;
    loss -=
      ((example.weight ?? 1) * Math.log(Math.max(probability, 1e-12))) /
      (perClass.get(example.label) as number);
  }
  return loss / perClass.size;
}

/**
 * The temperature minimising {@link balancedNegativeLogLikelihood}, by golden-section search on
 * log T (the loss is unimodal in T). 1 when there are no examples.
 */
export function fitTemperature(
  examples: readonly CalibrationExample[],
  options: FitTemperatureOptions = {},
): number {
  if (examples.length === 0) return 1;
  const [low, high] = options.range ?? [0.05, 20];
  const ratio = (Math.sqrt(5) - 1) / 2;
  let left = Math.log(low);
  let right = Math.log(high);
  let inner1 = right - ratio * (right - left);
  let inner2 = left + ratio * (right - left);
  let loss1 = balancedNegativeLogLikelihood(examples, Math.exp(inner1));
  let loss2 = balancedNegativeLogLikelihood(examples, Math.exp(inner2));
  for (let step = 0; step < 40; step++) {
    if (loss1 <= loss2) {
      right = inner2;
      inner2 = inner1;
      loss2 = loss1;
      inner1 = right - ratio * (right - left);
      loss1 = balancedNegativeLogLikelihood(examples, Math.exp(inner1));
    } else {
      left = inner1;
      inner1 = inner2;
      loss1 = loss2;
      inner2 = left + ratio * (right - left);
      loss2 = balancedNegativeLogLikelihood(examples, Math.exp(inner2));
    }
  }
  return Math.exp((left + right) / 2);
}
