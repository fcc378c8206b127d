import { analyze, normalizeText } from '../knowledge/text-analysis.ts';
import { type Intent, type IntentDefinition, intentNames } from './intents.ts';

/** A local classification with every intent's probability. */
export interface LocalClassification {
  intent: Intent;
  confidence: number;
  scores: Record<Intent, number>;
}

/** Options of {@link LocalIntentClassifier}. */
export interface LocalIntentClassifierOptions {
  /** Hashed feature space. @defaultValue 2 ** 16 */
  dimension?: number;
  /** Passes over the examples. @defaultValue 30 */
  epochs?: number;
  /** @defaultValue 0.5 */
  learningRate?: number;
  /** L2 regularisation. @defaultValue 1e-3 */
  l2?: number;
}

const maxCharacters = 2_000;

/**
 * The offline intent classifier: multinomial logistic regression over hashed features (stems, word
 * pairs, help-center concepts, character n-grams, and a few cues such as order numbers, anger and
 * a request for a human), trained at construction from the example utterances in config. No
 * download, well under a second to train, microseconds to classify.
 */
export class LocalIntentClassifier {
  readonly #dimension: number;
  readonly #weights: Float64Array[];
  readonly #bias: Float64Array;

  constructor(definitions: readonly IntentDefinition[], options: LocalIntentClassifierOptions = {}) {
    this.#dimension = options.dimension ?? 2 ** 16;
    this.#weights = intentNames.map(() => new Float64Array(this.#dimension));
    this.#bias = new Float64Array(intentNames.length);
    const examples = definitions.flatMap((definition) =>
      definition.examples.map((text) => ({
        features: this.#features(text),
        label: intentNames.indexOf(definition.name),
      })),
    );
    this.#train(examples, options);
  }

  /** Classifies a message; empty or meaningless text is `other` with low confidence. */
  classify(text: string): LocalClassification {
    const features = this.#features(text);
    const probabilities = this.#probabilities(features);
    let best = 0;
    for (let index = 1; index < probabilities.length; index++) {
      if ((probabilities[index] ?? 0) > (probabilities[best] ?? 0)) best = index;
    }
    const scores = Object.fromEntries(
      intentNames.map((name, index) => [name, probabilities[index] ?? 0]),
    ) as Record<Intent, number>;
    if (features.size <= 1) return { intent: 'other', confidence: 0.2, scores };
    return { intent: intentNames[best] as Intent, confidence: probabilities[best] ?? 0, scores };
  }

  #train(
    examples: readonly { features: Map<number, number>; label: number }[],
    options: LocalIntentClassifierOptions,
  ): void {
    const epochs = options.epochs ?? 30;
    const l2 = options.l2 ?? 1e-3;
    // Deterministic shuffling, so training is reproducible.
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const order = examples.map((_, index) => index);
    for (let epoch = 0; epoch < epochs; epoch++) {
      const rate = (options.learningRate ?? 0.5) / (1 + epoch * 0.1);
      for (let index = order.length - 1; index > 0; index--) {
        const other = Math.floor(random() * (index + 1));
        [order[index], order[other]] = [order[other] as number, order[index] as number];
      }
      for (const position of order) {
        const { features, label } = examples[position] as (typeof examples)[number];
        const probabilities = this.#probabilities(features);
        probabilities.forEach((probability, intent) => {
          const gradient = probability - (intent === label ? 1 : 0);
          const weights = this.#weights[intent] as Float64Array;
          for (const [feature, value] of features) {
            weights[feature] = (weights[feature] ?? 0) * (1 - rate * l2) - rate * gradient * value;
          }
          this.#bias[intent] = (this.#bias[intent] ?? 0) - rate * gradient;
        });
      }
    }
  }

  #probabilities(features: Map<number, number>): number[] {
    const logits = this.#weights.map((weights, intent) => {
      let sum = this.#bias[intent] ?? 0;
      for (const [feature, value] of features) sum += (weights[feature] ?? 0) * value;
      return sum;
    });
    const max = Math.max(...logits);
    const exponentials = logits.map((logit) => Math.exp(logit - max));
    const total = exponentials.reduce((sum, value) => sum + value, 0);
    return exponentials.map((value) => value / total);
  }

  #features(text: string): Map<number, number> {
    const clipped = text.slice(0, maxCharacters);
    const { terms, concepts, words } = analyze(clipped);
    const normalized = normalizeText(clipped);
    const raw = normalized.match(/[\p{L}\p{N}]+/gu) ?? [];
    const names: string[] = ['bias-feature'];
    for (const term of terms) names.push(`w:${term}`);
    // Function words carry intent here ("my order" vs "an order", "where is"), unlike in retrieval.
    for (let index = 0; index < raw.length; index++) {
      names.push(`r:${raw[index]}`);
      if (index > 0) names.push(`rb:${raw[index - 1]} ${raw[index]}`);
    }
    for (const concept of concepts) names.push(`c:${concept}`);
    for (const word of words) {
      const padded = `<${word}>`;
      for (let start = 0; start + 4 <= padded.length; start++)
        names.push(`g:${padded.slice(start, start + 4)}`);
    }
    if (/#?\b\d{4,}\b|\bpc-\d+/i.test(clipped)) names.push('cue:order-number');
    if (/\b(my|our)\s+(order|package|parcel|delivery|shipment|purchase|refund|stuff)\b/i.test(clipped))
      names.push('cue:my-order');
    if (/!{2,}|\b[A-Z]{4,}\b/.test(clipped)) names.push('cue:shouting');
    if (/\b(human|person|agent|manager|supervisor|someone real|real person)\b/i.test(clipped))
      names.push('cue:human');
    if (raw.length <= 3) names.push('cue:short');

    const features = new Map<number, number>();
    for (const name of names) {
      const index = hash(name) % this.#dimension;
      features.set(index, (features.get(index) ?? 0) + 1);
    }
    // Sublinear counts and unit length: a word repeated a thousand times is not a thousand votes.
    for (const [index, value] of features) features.set(index, 1 + Math.log(value));
    const norm = Math.sqrt([...features.values()].reduce((sum, value) => sum + value * value, 0));
    for (const [index, value] of features) features.set(index, (value / norm) * 3);
    if (raw.length === 0) return new Map([[hash('bias-feature') % this.#dimension, 1]]);
    return features;
  }
}

function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index++)
    value = Math.imul(value ^ text.charCodeAt(index), 0x01000193);
  return value >>> 0;
}
