import type { IntentClassifier, IntentDecision } from './intents.ts';
import type { LocalClassification, LocalIntentClassifier } from './local-intent-classifier.ts';

/** Options of {@link HybridIntentClassifier}. */
export interface HybridIntentClassifierOptions {
  local: LocalIntentClassifier;
  /** The cheap model; without one the local answer always stands. */
  fallback?: IntentClassifier;
  /** The local classifier answers alone at or above this confidence. */
  threshold: number;
  /** Called when the fallback fails (the local answer is used instead). */
  onFallbackError?: (error: unknown) => void;
}

/** A decision with the local classifier's view, for evaluation. */
export interface HybridDecision extends IntentDecision {
  local: LocalClassification;
}

/**
 * The local classifier answers alone when it is sure (no model call, no cost, microseconds);
 * otherwise the cheap model decides. If the model fails, the local answer stands: classification
 * never blocks a reply. Counts both paths.
 */
export class HybridIntentClassifier implements IntentClassifier {
  readonly #options: HybridIntentClassifierOptions;
  readonly #counts = { local: 0, model: 0, fallbackErrors: 0 };

  constructor(options: HybridIntentClassifierOptions) {
    this.#options = options;
  }

  async classify(text: string, options: { signal?: AbortSignal } = {}): Promise<HybridDecision> {
    const { local, fallback, threshold } = this.#options;
    const localResult = local.classify(text);
    if (!fallback || localResult.confidence >= threshold) {
      this.#counts.local++;
      return {
        intent: localResult.intent,
        confidence: localResult.confidence,
        source: 'local',
        local: localResult,
      };
    }
    try {
      const decision = await fallback.classify(text, options);
      this.#counts.model++;
      return { ...decision, source: 'model', local: localResult };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      this.#counts.fallbackErrors++;
      this.#counts.local++;
      this.#options.onFallbackError?.(error);
      return {
        intent: localResult.intent,
        confidence: localResult.confidence,
        source: 'local',
        local: localResult,
      };
    }
  }

  /** How many classifications each path answered. */
  stats(): { local: number; model: number; fallbackErrors: number } {
    return { ...this.#counts };
  }
}
