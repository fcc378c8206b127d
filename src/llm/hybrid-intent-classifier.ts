import type { ClassifierFallbackReason, IntentClassifier, IntentDecision } from './intents.ts';
import type { LocalClassification, LocalIntentClassifier } from './local-intent-classifier.ts';

/** Options of {@link HybridIntentClassifier}. */
export interface HybridIntentClassifierOptions {
  local: LocalIntentClassifier;
  /** The cheap model; without one the local answer always stands. */
  fallback?: IntentClassifier;
  /** The local classifier answers alone at or above this confidence. */
  threshold: number;
  /**
   * How long the cheap model may take, retries and format step-downs included; then its request is
   * aborted and the local answer stands. @defaultValue 2_000
   */
  deadlineMs?: number;
  /** Called when the fallback fails (the local answer is used instead). */
  onFallbackError?: (error: unknown) => void;
  /** Resolves after `ms`, or rejects when the signal aborts first. @defaultValue a `setTimeout` sleep */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A decision with the local classifier's view, for evaluation. */
export interface HybridDecision extends IntentDecision {
  local: LocalClassification;
}

/** How many classifications each path answered, and why the model's were not used. */
export interface HybridStats {
  local: number;
  model: number;
  fallbackErrors: number;
  fallbackDeadlines: number;
}

const defaults = {
  deadlineMs: 2_000,
  sleep: (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }),
} as const satisfies Required<Pick<HybridIntentClassifierOptions, 'deadlineMs' | 'sleep'>>;

/**
 * The local classifier answers alone when it is sure (no model call, no cost, microseconds);
 * otherwise the cheap model decides. If the model fails or misses the deadline, its request is
 * abandoned and the local answer stands: classification never holds a reply for longer than the
 * deadline. Counts every path.
 */
export class HybridIntentClassifier implements IntentClassifier {
  readonly #options: HybridIntentClassifierOptions;
  readonly #deadlineMs: number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #counts: HybridStats = { local: 0, model: 0, fallbackErrors: 0, fallbackDeadlines: 0 };

  constructor(options: HybridIntentClassifierOptions) {
    this.#options = options;
    this.#deadlineMs = options.deadlineMs ?? defaults.deadlineMs;
    this.#sleep = options.sleep ?? defaults.sleep;
  }

  async classify(text: string, options: { signal?: AbortSignal } = {}): Promise<HybridDecision> {
    const { local, fallback, threshold } = this.#options;
    const localResult = local.classify(text);
    const localDecision = (fallbackReason?: ClassifierFallbackReason): HybridDecision => {
      this.#counts.local++;
      return {
        intent: localResult.intent,
        confidence: localResult.confidence,
        source: 'local',
        ...(fallbackReason ? { fallback: fallbackReason } : {}),
        local: localResult,
      };
    };
    if (!fallback || localResult.confidence >= threshold) return localDecision();

    options.signal?.throwIfAborted();
    // Ends the model's request (and any SDK retry after it) and the deadline timer, whichever is left.
    const settled = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, settled.signal]) : settled.signal;
    const outcome = await Promise.race([
      fallback.classify(text, { signal }).then(
        (decision) => ({ kind: 'decided' as const, decision }),
        (error: unknown) => ({ kind: 'failed' as const, error }),
      ),
      this.#sleep(this.#deadlineMs, signal).then(
        () => ({ kind: 'deadline' as const }),
        // Settled or aborted by the caller: the other branch (or the check below) decides.
        () => new Promise<never>(() => {}),
      ),
      // The SDK sleeps through a Retry-After without watching its signal: do not wait for it.
      ...(options.signal ? [rejectOnAbort(options.signal)] : []),
    ]).finally(() => settled.abort());

    if (outcome.kind === 'decided') {
      this.#counts.model++;
      return { ...outcome.decision, source: 'model', local: localResult };
    }
    if (options.signal?.aborted) throw options.signal.reason;
    if (outcome.kind === 'deadline') {
      this.#counts.fallbackDeadlines++;
      return localDecision('deadline');
    }
    this.#counts.fallbackErrors++;
    this.#options.onFallbackError?.(outcome.error);
    return localDecision('error');
  }

  /** How many classifications each path answered. */
  stats(): HybridStats {
    return { ...this.#counts };
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
