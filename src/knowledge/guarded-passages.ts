import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import type { PassageSource } from '../agent/support-agent.ts';
import { KnowledgeBaseTimeoutError, KnowledgeBaseUnavailableError } from '../errors.ts';
import type { HealthReporter } from '../observability/health.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { RetrievedChunk } from './types.ts';

/** Options of {@link GuardedPassages}. */
export interface GuardedPassagesOptions {
  /** Opens the real source (connects to Chroma on first use). */
  open: () => Promise<PassageSource>;
  /** Asks the store whether it answers now (Chroma's heartbeat); resolves when it does. */
  probe: (signal: AbortSignal) => Promise<unknown>;
  /** A search's whole budget: opening, embedding the query, Chroma and the lexical engine. @defaultValue 4_000 */
  searchTimeoutMs?: number;
  /** The budget of a version or vocabulary read (the answer cache's lookups). @defaultValue 500 */
  lookupTimeoutMs?: number;
  /** Failures in a row that open the circuit. @defaultValue 3 */
  failuresToOpen?: number;
  /** How long an open circuit fails fast before one probe is let through. @defaultValue 5_000 */
  probeAfterMs?: number;
  /** Told `up` / `down` as the circuit closes and opens (the `knowledge` component of /healthz). */
  health?: HealthReporter;
  logger?: LoggerLike;
  /** Called once each time the knowledge base answers again after the circuit was open. */
  onRecovered?: () => void;
  now?: () => number;
}

/**
 * The knowledge base as the agent sees it, behind a deadline and a circuit breaker (cockatiel): a
 * search that takes longer than its budget is abandoned — also when Chroma is frozen and never
 * answers the socket — and after a few failures in a row every call fails at once until a probe
 * succeeds, so a stalled store costs each customer one short wait at most, never a hung reply.
 * The caller's own abort (a customer who left) is not counted as a failure of the store.
 */
export class GuardedPassages implements PassageSource {
  readonly #options: GuardedPassagesOptions;
  readonly #settings: { searchTimeoutMs: number; lookupTimeoutMs: number };
  readonly #breaker;
  readonly #now: () => number;
  #lastSuccessAt: number | undefined;
  #probing: NodeJS.Timeout | undefined;

  constructor(options: GuardedPassagesOptions) {
    this.#options = options;
    this.#settings = {
      searchTimeoutMs: options.searchTimeoutMs ?? 4_000,
      lookupTimeoutMs: options.lookupTimeoutMs ?? 500,
    };
    this.#now = options.now ?? Date.now;
    this.#breaker = circuitBreaker(
      handleWhen((error) => !isCallerAbort(error)),
      {
        halfOpenAfter: options.probeAfterMs ?? 5_000,
        breaker: new ConsecutiveBreaker(options.failuresToOpen ?? 3),
      },
    );
    const { health, logger } = options;
    health?.report('up');
    this.#breaker.onBreak((reason) => {
      const message = 'error' in reason ? describe(reason.error) : 'isolated';
      logger?.warn(
        { reason: message },
        `knowledge base unavailable (${message}); questions are handed to staff until it answers again`,
      );
      health?.report('down', {
        code: 'knowledge_unavailable',
        reason: `Chroma is not answering: ${message}`,
      });
      // Probed while down, so recovery is noticed (and outage hand-offs released) without a question.
      clearInterval(this.#probing);
      this.#probing = setInterval(() => void this.healthy(), options.probeAfterMs ?? 5_000).unref();
    });
    this.#breaker.onReset(() => {
      clearInterval(this.#probing);
      this.#probing = undefined;
      logger?.info({}, 'knowledge base answering again');
      health?.report('up');
      options.onRecovered?.();
    });
  }

  /** Stops probing (on shutdown). */
  close(): void {
    clearInterval(this.#probing);
    this.#probing = undefined;
  }

  /** `down` while the circuit is open (failing fast), else `up`. */
  get state(): 'up' | 'down' {
    return this.#breaker.state === CircuitState.Closed ? 'up' : 'down';
  }

  /** When a search last succeeded (the process clock), if ever. */
  get lastSuccessAt(): number | undefined {
    return this.#lastSuccessAt;
  }

  search(
    query: string,
    k: number,
    options: { signal?: AbortSignal; maxChunksPerDocument?: number } = {},
  ): Promise<RetrievedChunk[]> {
    return this.#run(this.#settings.searchTimeoutMs, options.signal, { breaker: true }, async (signal) => {
      const chunks = await (await this.#options.open()).search(query, k, { ...options, signal });
      this.#lastSuccessAt = this.#now();
      return chunks;
    });
  }

  /**
   * The version and vocabulary lookups (mostly answered from the retriever's memory and the local
   * lexical index) are bounded but outside the circuit: their successes say nothing about Chroma.
   */
  version(): Promise<string> {
    return this.#run(this.#settings.lookupTimeoutMs, undefined, { breaker: false }, async () =>
      (await this.#options.open()).version(),
    );
  }

  async vocabulary(terms?: readonly string[]): Promise<(term: string) => boolean> {
    return this.#run(this.#settings.lookupTimeoutMs, undefined, { breaker: false }, async () => {
      const source = await this.#options.open();
      return source.vocabulary ? source.vocabulary(terms) : () => true;
    });
  }

  /**
   * Whether the knowledge base answers now: one bounded probe (a failure counts towards opening
   * the circuit; while it is open, `false` at once).
   */
  async healthy(): Promise<boolean> {
    return this.#run(this.#settings.lookupTimeoutMs, undefined, { breaker: true }, (signal) =>
      this.#options.probe(signal),
    ).then(
      () => true,
      () => false,
    );
  }

  async #run<T>(
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
    through: { breaker: boolean },
    task: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    callerSignal?.throwIfAborted();
    // Aggressive: the deadline rejects even when the work ignores its signal (a frozen socket).
    const deadline = timeout(timeoutMs, TimeoutStrategy.Aggressive);
    const policy = through.breaker ? wrap(this.#breaker, deadline) : deadline;
    try {
      // A signal of its own per call: without one, cockatiel hangs each call's abort listener on
      // one shared never-aborted signal (a MaxListenersExceededWarning past 10 calls in flight).
      // Not the caller's: a customer who leaves must not count as a knowledge-base failure.
      return await policy.execute(
        ({ signal }) => task(callerSignal ? AbortSignal.any([signal, callerSignal]) : signal),
        new AbortController().signal,
      );
    } catch (error) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      if (error instanceof TaskCancelledError)
        throw new KnowledgeBaseTimeoutError(`The knowledge base did not answer within ${timeoutMs} ms.`, {
          cause: error,
        });
      if (error instanceof BrokenCircuitError)
        throw new KnowledgeBaseUnavailableError(
          'The knowledge base is not answering; waiting for it to come back before trying again.',
          { cause: error },
        );
      throw error;
    }
  }
}

function isCallerAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function describe(error: unknown): string {
  if (error instanceof TaskCancelledError) return 'timed out';
  return error instanceof Error ? error.message : String(error);
}
