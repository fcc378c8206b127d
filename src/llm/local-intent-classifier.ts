import { type CalibrationExample, fitTemperature, softmax } from './intent-calibration.ts';
import { extractIntentFeatures, type SparseFeatures } from './intent-features.ts';
import { type Intent, type IntentDefinition, intentNames } from './intents.ts';

/** A local classification with every intent's probability. */
export interface LocalClassification {
  intent: Intent;
  /** The calibrated probability of `intent`. */
  confidence: number;
  /** Calibrated probabilities; they sum to 1. */
  scores: Record<Intent, number>;
}

/** Options of {@link LocalIntentClassifier}. */
export interface LocalIntentClassifierOptions {
  /** Hashed feature space (a power of two). @defaultValue 2 ** 18 */
  dimension?: number;
  /** Passes over the examples. @defaultValue 8 */
  epochs?: number;
  /** @defaultValue 0.4 */
  learningRate?: number;
  /** L2 regularisation, per example seen. @defaultValue 1e-5 */
  l2?: number;
  /**
   * How much more one hand-written example weighs than one public row of the same intent (the
   * examples are in the customers' register and follow INTENTS.md's borderline rules). @defaultValue 4
   */
  exampleWeight?: number;
  /**
   * Size of a calibration fold: the examples are dealt into 1 / calibrationShare folds, and for
   * each of the first `calibrationFolds` a model trained without it scores it; the temperature is
   * fitted on those held-out scores, then the model is trained on everything. Calibration is
   * skipped when fewer than `minCalibrationExamples` would be held out. @defaultValue 0.2
   */
  calibrationShare?: number;
  /** @defaultValue 2 */
  calibrationFolds?: number;
  /** @defaultValue 200 */
  minCalibrationExamples?: number;
  /** Used instead of fitting one (skips the calibration pass). */
  temperature?: number;
}

/** What training did, for reports. */
export interface LocalIntentTrainingReport {
  examples: number;
  calibrationExamples: number;
  temperature: number;
  trainingMs: number;
}

interface Example {
  features: SparseFeatures;
  label: number;
  weight: number;
  /** Which of the 1 / calibrationShare folds it is in. */
  fold: number;
}

const defaults = {
  dimension: 2 ** 18,
  epochs: 8,
  learningRate: 0.4,
  l2: 1e-5,
  exampleWeight: 4,
  calibrationShare: 0.2,
  calibrationFolds: 2,
  minCalibrationExamples: 200,
} as const satisfies Required<Omit<LocalIntentClassifierOptions, 'temperature'>>;

/**
 * The offline intent classifier: multinomial logistic regression over hashed features (words,
 * stems, word pairs, character n-grams and spelling skeletons that survive typos; see
 * intent-features.ts), trained at construction on the catalog's hand-written examples and the
 * public rows mapped to each intent, every intent weighing the same in total. Its confidences are
 * temperature-scaled, the temperature fitted (class-balanced) on two fifths of the examples scored
 * by models that did not train on them, so the fast path's threshold means what it says. No
 * download; about a second to train on the shipped data (2 cores), tens of microseconds to classify.
 */
export class LocalIntentClassifier {
  readonly #options: typeof defaults;
  readonly #weights: Float32Array;
  readonly #bias: Float64Array;
  readonly #temperature: number;
  readonly #report: LocalIntentTrainingReport;

  constructor(definitions: readonly IntentDefinition[], options: LocalIntentClassifierOptions = {}) {
    const started = performance.now();
    this.#options = { ...defaults, ...withoutUndefined(options) } as typeof defaults;
    const { dimension } = this.#options;
    this.#weights = new Float32Array(dimension * intentNames.length);
    this.#bias = new Float64Array(intentNames.length);
    const examples = this.#examples(definitions);

    let temperature = options.temperature ?? 1;
    let calibrationExamples = 0;
    const { calibrationFolds, minCalibrationExamples } = this.#options;
    const heldOut = examples.filter((example) => example.fold < calibrationFolds);
    if (options.temperature === undefined && heldOut.length >= minCalibrationExamples) {
      // Cross-fitting: each fold's logits come from a model that did not see it; one temperature
      // for all of them is steadier than one fold's.
      const outOfFold: CalibrationExample[] = [];
      for (let fold = 0; fold < calibrationFolds; fold++) {
        this.#train(examples.filter((example) => example.fold !== fold));
        for (const example of examples) {
          if (example.fold === fold)
            outOfFold.push({ logits: this.#logits(example.features), label: example.label });
        }
        this.#weights.fill(0);
        this.#bias.fill(0);
      }
      temperature = fitTemperature(outOfFold);
      calibrationExamples = outOfFold.length;
    }
    this.#train(examples);
    this.#temperature = temperature;
    this.#report = {
      examples: examples.length,
      calibrationExamples,
      temperature,
      trainingMs: performance.now() - started,
    };
  }

  /** Classifies a message; empty or meaningless text is `other` with low confidence. */
  classify(text: string): LocalClassification {
    const features = extractIntentFeatures(text, { dimension: this.#options.dimension });
    const probabilities = softmax(this.#logits(features), this.#temperature);
    let best = 0;
    for (let index = 1; index < probabilities.length; index++) {
      if ((probabilities[index] as number) > (probabilities[best] as number)) best = index;
    }
    const scores = Object.fromEntries(
      intentNames.map((name, index) => [name, probabilities[index] as number]),
    ) as Record<Intent, number>;
    if (features.wordCount === 0) return { intent: 'other', confidence: 0.2, scores };
    return { intent: intentNames[best] as Intent, confidence: probabilities[best] as number, scores };
  }

  /** How many examples it trained on, the fitted temperature and how long training took. */
  trainingReport(): LocalIntentTrainingReport {
    return { ...this.#report };
  }

  /**
   * Hand-written and public examples, weighted so that every intent weighs the same in total and,
   * within an intent, a hand-written example weighs `exampleWeight` public rows. Interleaved in a
   * fixed order so every held-out share has all intents.
   */
  #examples(definitions: readonly IntentDefinition[]): Example[] {
    const { dimension, exampleWeight, calibrationShare } = this.#options;
    const folds = Math.round(1 / calibrationShare);
    const perIntent = definitions.map((definition) => {
      const label = intentNames.indexOf(definition.name);
      // Every intent's hand-written examples and public rows are spread over the folds alike.
      const written = definition.examples.map((text, index) => ({
        text,
        weight: exampleWeight,
        fold: index % folds,
      }));
      const mapped = (definition.trainingExamples ?? []).map((text, index) => ({
        text,
        weight: 1,
        fold: index % folds,
      }));
      const rows = interleave(written, mapped);
      const total = rows.reduce((sum, row) => sum + row.weight, 0);
      return rows.map((row) => ({ ...row, label, weight: row.weight / total }));
    });
    const rows = interleave(...perIntent);
    // Mean weight 1, so the learning rate does not depend on how much data there is.
    const scale = rows.length / perIntent.filter((intentRows) => intentRows.length > 0).length;
    return rows.map((row) => ({
      features: extractIntentFeatures(row.text, { dimension }),
      label: row.label,
      weight: row.weight * scale,
      fold: row.fold,
    }));
  }

  /** Stochastic gradient descent on the weighted cross-entropy, in a reproducible order. */
  #train(examples: readonly Example[]): void {
    const { epochs, learningRate, l2 } = this.#options;
    const classes = intentNames.length;
    const weights = this.#weights;
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const order = examples.map((_, index) => index);
    const gradient = new Float64Array(classes);
    for (let epoch = 0; epoch < epochs; epoch++) {
      const rate = learningRate / (1 + epoch * 0.25);
      for (let index = order.length - 1; index > 0; index--) {
        const other = Math.floor(random() * (index + 1));
        [order[index], order[other]] = [order[other] as number, order[index] as number];
      }
      for (const position of order) {
        const { features, label, weight } = examples[position] as Example;
        const probabilities = softmax(this.#logits(features));
        for (let intent = 0; intent < classes; intent++) {
          gradient[intent] = ((probabilities[intent] as number) - (intent === label ? 1 : 0)) * weight;
          this.#bias[intent] = (this.#bias[intent] as number) - rate * (gradient[intent] as number);
        }
        const decay = 1 - rate * l2;
        for (let feature = 0; feature < features.indices.length; feature++) {
          const base = (features.indices[feature] as number) * classes;
          const value = features.values[feature] as number;
          for (let intent = 0; intent < classes; intent++) {
            weights[base + intent] =
              (weights[base + intent] as number) * decay - rate * (gradient[intent] as number) * value;
          }
        }
      }
    }
  }

  #logits(features: SparseFeatures): Float64Array {
    const classes = intentNames.length;
    const logits = Float64Array.from(this.#bias);
    for (let feature = 0; feature < features.indices.length; feature++) {
      const base = (features.indices[feature] as number) * classes;
      const value = features.values[feature] as number;
      for (let intent = 0; intent < classes; intent++)
        logits[intent] = (logits[intent] as number) + (this.#weights[base + intent] as number) * value;
    }
    return logits;
  }
}

/** Round-robin merge: a, b, c, a, b, c... then whatever is left of the longer lists, spread out. */
function interleave<T>(...lists: readonly (readonly T[])[]): T[] {
  const result: T[] = [];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let step = 0; step < longest; step++) {
    for (const list of lists) {
      // Spread each list over the whole length, so a short list is not only at the start.
      const index = Math.floor((step * list.length) / longest);
      if (list.length > 0 && Math.floor(((step + 1) * list.length) / longest) > index) {
        result.push(list[index] as T);
      }
    }
  }
  return result;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
