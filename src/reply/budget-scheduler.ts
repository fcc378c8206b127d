import type { Clock } from './clock.ts';
import { type BudgetScope, RateLimitedError } from './transport.ts';

/** How urgent an operation is; lower goes first. */
export const priority = {
  /** The final text: it must land. */
  final: 0,
  /** The first visible sign of a reply (placeholder, status). */
  first: 1,
  /** A continuation message past the length limit. */
  continuation: 2,
  /** An intermediate edit: nice to have, coalesced, dropped when stale. */
  progress: 3,
} as const;

/** One operation waiting for budget. */
export interface BudgetTask {
  priority: number;
  scopes: readonly BudgetScope[];
  /** Not before this time (e.g. a reply's minimum edit interval). */
  notBefore?: number;
  /** Who asked: tasks of the owner served longest ago go first among equals (fairness). */
  owner: object;
  /** Runs when budget allows; its rejection is the caller's. */
  run(): Promise<void>;
}

interface Queued extends BudgetTask {
  sequence: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Shares rate budgets among every reply in the same scope (a Slack workspace, a Discord channel):
 * an operation runs only when each of its scopes has room in its sliding window, the most urgent
 * first, and among equals the reply served longest ago, so fifty answers share one budget fairly.
 * Usage is recorded when an operation starts, so no window ever holds more than its limit.
 */
export class BudgetScheduler {
  readonly #clock: Clock;
  readonly #windows = new Map<string, number[]>();
  readonly #blockedUntil = new Map<string, number>();
  readonly #lastServed = new WeakMap<object, number>();
  #queue: Queued[] = [];
  #sequence = 0;
  #timer: { at: number; abort: AbortController } | undefined;

  constructor(options: { clock: Clock }) {
    this.#clock = options.clock;
  }

  /** Runs the task when budget allows; settles with the task's own outcome. */
  schedule(task: BudgetTask): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ...task, sequence: this.#sequence++, resolve, reject });
      this.#pump();
    });
  }

  /**
   * {@link schedule} for an operation outside a streamed reply (a sources message, a thread, an
   * announcement): when it fails with a {@link RateLimitedError} (after `toError` maps the
   * failure), its scopes are blocked for the Retry-After and it waits its turn again, up to
   * `maxRetries` times. Other failures are thrown at once.
   */
  async schedulePaced(
    task: BudgetTask,
    options: { maxRetries?: number; toError?: (error: unknown) => unknown } = {},
  ): Promise<void> {
    const { maxRetries = 8, toError = (error: unknown) => error } = options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.schedule(task);
      } catch (error) {
        const mapped = toError(error);
        if (!(mapped instanceof RateLimitedError) || attempt >= maxRetries) throw mapped;
        this.block(mapped.blockedScopes(task.scopes), this.#clock.now() + mapped.retryAfterMs);
      }
    }
  }

  /** Blocks scopes until `until` (after a 429), on top of the windows. */
  block(scopes: readonly Pick<BudgetScope, 'key'>[], until: number): void {
    for (const scope of scopes) {
      this.#blockedUntil.set(scope.key, Math.max(this.#blockedUntil.get(scope.key) ?? 0, until));
    }
    this.#pump();
  }

  /** Operations waiting. */
  get pending(): number {
    return this.#queue.length;
  }

  #pump(): void {
    for (;;) {
      const now = this.#clock.now();
      let best: Queued | undefined;
      let earliest = Number.POSITIVE_INFINITY;
      for (const task of this.#queue) {
        const readyAt = this.#readyAt(task, now);
        if (readyAt > now) {
          earliest = Math.min(earliest, readyAt);
          continue;
        }
        if (!best || this.#before(task, best)) best = task;
      }
      if (!best) {
        this.#wakeAt(earliest);
        return;
      }
      const task = best;
      this.#queue = this.#queue.filter((queued) => queued !== task);
      for (const scope of task.scopes) {
        const window = this.#windows.get(scope.key) ?? [];
        window.push(now);
        this.#windows.set(scope.key, window);
      }
      this.#lastServed.set(task.owner, now);
      task.run().then(task.resolve, task.reject);
    }
  }

  #before(left: Queued, right: Queued): boolean {
    if (left.priority !== right.priority) return left.priority < right.priority;
    const leftServed = this.#lastServed.get(left.owner) ?? Number.NEGATIVE_INFINITY;
    const rightServed = this.#lastServed.get(right.owner) ?? Number.NEGATIVE_INFINITY;
    if (leftServed !== rightServed) return leftServed < rightServed;
    return left.sequence < right.sequence;
  }

  /** When every scope of the task has room (now or later). */
  #readyAt(task: Queued, now: number): number {
    let readyAt = task.notBefore ?? now;
    for (const scope of task.scopes) {
      readyAt = Math.max(readyAt, this.#blockedUntil.get(scope.key) ?? now);
      const window = this.#windows.get(scope.key);
      if (!window) continue;
      while (window.length > 0 && (window[0] as number) <= now - scope.windowMs) window.shift();
      if (window.length >= scope.limit) {
        // Room again once the oldest operation that fills the window leaves it.
        readyAt = Math.max(readyAt, (window[window.length - scope.limit] as number) + scope.windowMs);
      }
    }
    return readyAt;
  }

  #wakeAt(at: number): void {
    if (!Number.isFinite(at)) return;
    if (this.#timer && this.#timer.at <= at) return;
    this.#timer?.abort.abort();
    const abort = new AbortController();
    this.#timer = { at, abort };
    this.#clock.sleep(Math.max(0, at - this.#clock.now()), abort.signal).then(
      () => {
        if (this.#timer?.abort === abort) this.#timer = undefined;
        this.#pump();
      },
      () => undefined,
    );
  }
}
