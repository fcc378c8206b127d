import { SupportBotError, toSupportBotError } from '../errors.ts';
import type { HealthRegistry } from '../observability/health.ts';
import { type LoggerLike, silentLogger } from '../observability/logger-like.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type Clock, systemClock } from '../reply/clock.ts';

/** A platform connection the supervisor can start, and stop to start again. */
export interface SupervisedPlatform {
  /** `slack`, `discord`: the component's name in /healthz and in log lines. */
  readonly name: string;
  /**
   * Connects; resolves once the platform delivers messages. Rejects with a
   * {@link SupportBotError} whose `retryable` says whether another attempt can help; anything
   * else thrown is taken as retryable (a network failure).
   */
  start(): Promise<void>;
  /** Disconnects and frees what a failed or finished attempt left; must be safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link PlatformSupervisor}. */
export interface PlatformSupervisorOptions {
  platform: SupervisedPlatform;
  health: HealthRegistry;
  logger?: LoggerLike;
  metrics?: Metrics;
  clock?: Clock;
  /** First wait after a retryable failure, doubled per attempt. @defaultValue 1_000 */
  initialBackoffMs?: number;
  /** Longest wait between attempts. @defaultValue 300_000 */
  maxBackoffMs?: number;
  /** 0..1, spread of each wait. @defaultValue 0.2 */
  jitter?: number;
  random?: () => number;
}

const defaults = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 300_000,
  jitter: 0.2,
} as const satisfies Partial<PlatformSupervisorOptions>;

/**
 * Keeps one platform connection alive without letting it take anything else down: a start that
 * fails is reported in one warn line and in /healthz, retried with exponential backoff when
 * retrying can help (network, 5xx, rate limits), and left `down` with the operator's fix when it
 * cannot (a bad token, an intent not enabled, an uninstalled app). Never throws.
 */
export class PlatformSupervisor {
  readonly #options: PlatformSupervisorOptions &
    Required<Pick<PlatformSupervisorOptions, keyof typeof defaults>>;
  readonly #logger: LoggerLike;
  readonly #clock: Clock;
  #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #firstAttempt: Promise<void> | undefined;

  constructor(options: PlatformSupervisorOptions) {
    this.#options = { ...defaults, ...options };
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
  }

  get name(): string {
    return this.#options.platform.name;
  }

  /**
   * Starts the connection in the background and resolves when the first attempt has settled
   * (connected, failed for good, or waiting to retry): it never rejects.
   */
  start(): Promise<void> {
    if (!this.#running) {
      let settleFirst!: () => void;
      this.#firstAttempt = new Promise((resolve) => {
        settleFirst = resolve;
      });
      this.#running = this.#run(settleFirst);
    }
    return this.#firstAttempt as Promise<void>;
  }

  /** Stops retrying and disconnects. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#running?.catch(() => undefined);
    await this.#options.platform.stop().catch(() => undefined);
    this.#options.health.report(this.name, 'stopped');
  }

  /** Resolves when the supervisor has given up or been stopped (tests, shutdown). */
  get settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #run(settleFirst: () => void): Promise<void> {
    const { platform, health, metrics } = this.#options;
    for (let attempt = 1; !this.#stopping.signal.aborted; attempt++) {
      const current = health.get(this.name);
      if (attempt === 1 || current?.state !== 'retrying') health.report(this.name, 'starting');
      try {
        await platform.start();
        if (this.#stopping.signal.aborted) return;
        // An adapter that came up with less (e.g. without a privileged intent) has said so itself.
        const state = health.get(this.name)?.state;
        if (state === 'starting' || state === 'retrying') health.report(this.name, 'up');
        if (attempt > 1) this.#logger.info({ platform: this.name, attempt }, `${this.name} connected`);
        settleFirst();
        return;
      } catch (error) {
        if (this.#stopping.signal.aborted) return;
        const wrapped = toSupportBotError(error, 'platform_unavailable');
        // Anything unexpected is most likely the network: worth another try.
        const retryable = error instanceof SupportBotError ? error.retryable : true;
        metrics?.platformErrors.inc({ platform: this.name, error: wrapped.code });
        await platform.stop().catch(() => undefined);
        if (!retryable) {
          health.report(this.name, 'down', { code: wrapped.code, reason: wrapped.message });
          this.#logger.warn(
            { platform: this.name, code: wrapped.code, err: wrapped },
            `${this.name} is off: ${wrapped.message} (the rest of the bot keeps running)`,
          );
          settleFirst();
          return;
        }
        const waitMs = this.#backoff(attempt);
        health.report(this.name, 'retrying', {
          code: wrapped.code,
          reason: wrapped.message,
          attempts: attempt,
          nextAttemptAt: new Date(Date.now() + waitMs).toISOString(),
        });
        // One warn line for the failure; repeats of it go to debug so a long outage does not flood.
        const log = attempt === 1 ? this.#logger.warn : this.#logger.debug;
        log.call(
          this.#logger,
          { platform: this.name, code: wrapped.code, attempt, retryInMs: waitMs, err: wrapped },
          `${this.name} could not connect: ${wrapped.message}; retrying in ${Math.round(waitMs / 1000)} s (the rest of the bot keeps running)`,
        );
        settleFirst();
        try {
          await this.#clock.sleep(waitMs, this.#stopping.signal);
        } catch {
          return;
        }
      }
    }
  }

  #backoff(attempt: number): number {
    const { initialBackoffMs, maxBackoffMs, jitter } = this.#options;
    const random = this.#options.random ?? Math.random;
    const base = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
    return Math.round(base * (1 - jitter + 2 * jitter * random()));
  }
}
