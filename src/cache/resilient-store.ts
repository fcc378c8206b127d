import { EventEmitter } from 'node:events';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { StoreUnavailableError } from '../errors.ts';
import type { HealthReporter } from '../observability/health.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { Metrics } from '../observability/metrics.ts';
import { BoundedMemoryStore } from './bounded-memory-store.ts';
import type { ClaimingStore } from './claim.ts';
import { LocalClaims } from './local-claims.ts';

/**
 * The shared server behind a {@link ResilientStore} (Redis; a fake in unit tests). Every call
 * rejects when it fails; none may wait for a reconnection (see `connectRedisStore`).
 */
export interface RemoteStore {
  /** Set by Keyv; the remote prefixes its keys with it. */
  namespace?: string | undefined;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttlMs?: number): Promise<unknown>;
  delete(key: string): Promise<boolean>;
  clear(): Promise<void>;
  /** Creates `key` only when absent (Redis `SET key 1 NX PX ttl`): true when this call created it. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** One cheap round trip (Redis `PING`), for probes. */
  ping(): Promise<unknown>;
  disconnect(): Promise<void>;
}

/** Options of {@link ResilientStore}. */
export interface ResilientStoreOptions {
  remote: RemoteStore;
  /** Names the server in log lines and /healthz, without credentials. @defaultValue 'Redis' */
  label?: string;
  /** Each call's deadline. @defaultValue 250 */
  timeoutMs?: number;
  /** Failures in a row that open the circuit: calls then skip the server at once. @defaultValue 3 */
  failuresToOpen?: number;
  /** How long an open circuit skips the server before one probe is let through. @defaultValue 5_000 */
  probeAfterMs?: number;
  /**
   * Entries kept in this process for keys that must not be lost (threads, hand-offs, feedback,
   * participation): the last value seen of each, and writes waiting to be replayed. Each bound
   * separately. @defaultValue 5_000
   */
  fallbackMaxEntries?: number;
  /** Keys that are only a cache: skipped, not kept, while the server is down. @defaultValue answer-cache keys */
  disposable?: (key: string) => boolean;
  /** Told `up`, `degraded` or `down` (the `redis` component of /healthz). */
  health?: HealthReporter;
  logger?: LoggerLike;
  metrics?: Pick<Metrics, 'storeErrors' | 'storeCircuit' | 'storePendingWrites'>;
  now?: () => number;
}

const defaults = {
  label: 'Redis',
  timeoutMs: 250,
  failuresToOpen: 3,
  probeAfterMs: 5_000,
  fallbackMaxEntries: 5_000,
  disposable: (key: string) => key.startsWith('answer:'),
  now: () => Date.now(),
} as const satisfies Omit<Required<ResilientStoreOptions>, 'remote' | 'health' | 'logger' | 'metrics'>;

/** A value kept in this process: the last one seen, or a write (or delete) not yet on the server. */
interface LocalEntry {
  value: unknown;
  /** Absolute expiry (the `now()` clock); undefined: no TTL known. */
  expiresAt: number | undefined;
  deleted?: true;
}

const circuitGauge = {
  [CircuitState.Closed]: 0,
  [CircuitState.Open]: 1,
  [CircuitState.HalfOpen]: 2,
  [CircuitState.Isolated]: 1,
} as const;

/**
 * The Keyv store in front of Redis: every call has a short deadline and goes through a circuit
 * breaker (cockatiel), so a Redis that is down, frozen or slow costs a message a few hundred
 * milliseconds at most, and nothing while the circuit is open. What happens without Redis:
 *
 * - reads resolve as a miss: answers are generated without the cache;
 * - keys worth keeping (threads and hand-offs, participation, feedback: everything but the answer
 *   cache) are read from and written to a bounded memory fallback in this process, and the writes
 *   are replayed to Redis when it answers again;
 * - {@link claim} falls back to a claim in this process;
 * - one warn line when the outage starts, one info line when it ends (with the writes replayed),
 *   and the state in /healthz (`redis`: `down` or `degraded`; the bot keeps answering).
 *
 * A probe (`PING`) runs every `probeAfterMs` while the server is not answering, so recovery and the
 * replay do not wait for traffic.
 */
export class ResilientStore extends EventEmitter implements ClaimingStore {
  readonly opts: { dialect: 'redis'; timeoutMs: number; failuresToOpen: number; probeAfterMs: number };
  readonly #remote: RemoteStore;
  readonly #settings: Omit<Required<ResilientStoreOptions>, 'remote' | 'health' | 'logger' | 'metrics'>;
  readonly #health: HealthReporter | undefined;
  readonly #logger: LoggerLike | undefined;
  readonly #metrics: ResilientStoreOptions['metrics'];
  readonly #breaker;
  readonly #policy;
  /** Last values seen of keys worth keeping: read while the server is down. */
  readonly #known: BoundedMemoryStore<LocalEntry>;
  /** Writes the server has not taken yet, newest last: read first, replayed when it is back. */
  readonly #pending = new Map<string, LocalEntry>();
  /** The newest write started for each key, so a slow older write never overwrites a newer one. */
  readonly #latest = new Map<string, LocalEntry>();
  readonly #claims: LocalClaims;
  #state: 'starting' | 'up' | 'degraded' | 'down' = 'starting';
  #answered = false;
  #outage: { since: number; dropped: number } | undefined;
  #probe: NodeJS.Timeout | undefined;
  #replaying: Promise<number> | undefined;
  #closed = false;

  constructor(options: ResilientStoreOptions) {
    super();
    this.#remote = options.remote;
    this.#settings = {
      label: options.label ?? defaults.label,
      timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
      failuresToOpen: options.failuresToOpen ?? defaults.failuresToOpen,
      probeAfterMs: options.probeAfterMs ?? defaults.probeAfterMs,
      fallbackMaxEntries: options.fallbackMaxEntries ?? defaults.fallbackMaxEntries,
      disposable: options.disposable ?? defaults.disposable,
      now: options.now ?? defaults.now,
    };
    const { timeoutMs, failuresToOpen, probeAfterMs, fallbackMaxEntries, now } = this.#settings;
    this.opts = { dialect: 'redis', timeoutMs, failuresToOpen, probeAfterMs };
    this.#health = options.health;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#known = new BoundedMemoryStore(fallbackMaxEntries);
    this.#claims = new LocalClaims({ maxEntries: fallbackMaxEntries, now });
    this.#breaker = circuitBreaker(handleAll, {
      halfOpenAfter: probeAfterMs,
      breaker: new ConsecutiveBreaker(failuresToOpen),
    });
    // Aggressive: the deadline rejects even when the command never comes back (a frozen server).
    this.#policy = wrap(this.#breaker, timeout(timeoutMs, TimeoutStrategy.Aggressive));
    this.#breaker.onStateChange((state) => this.#metrics?.storeCircuit.set(circuitGauge[state]));
    this.#health?.report('starting');
    this.#scheduleProbe(0);
  }

  get namespace(): string | undefined {
    return this.#remote.namespace;
  }

  set namespace(namespace: string | undefined) {
    this.#remote.namespace = namespace;
  }

  /** `up`, `degraded` (some calls failed), `down` (not answering), or `starting`. */
  get state(): 'starting' | 'up' | 'degraded' | 'down' {
    return this.#state;
  }

  /** Writes kept in memory, waiting for the server. */
  get pendingWrites(): number {
    return this.#pending.size;
  }

  async get(key: string): Promise<unknown> {
    // A write under way, or one the server has not taken yet, is newer than anything it holds.
    const local = this.#latest.get(key) ?? this.#pending.get(key);
    if (local) return this.#live(local);
    try {
      const value = await this.#call('get', () => this.#remote.get(key));
      // A write started meanwhile is newer than what this read brought back.
      if (!this.#settings.disposable(key) && !this.#latest.has(key)) {
        if (value === undefined) this.#known.delete(key);
        else this.#known.set(key, { value, expiresAt: undefined });
      }
      return value;
    } catch {
      if (this.#settings.disposable(key)) return undefined;
      const known = this.#known.get(key);
      return known ? this.#live(known) : undefined;
    }
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const entry: LocalEntry = { value, expiresAt: ttlMs ? this.#settings.now() + ttlMs : undefined };
    return this.#write(key, entry, () => this.#remote.set(key, value, ttlMs).then(() => true));
  }

  async delete(key: string): Promise<boolean> {
    const entry: LocalEntry = { value: undefined, expiresAt: undefined, deleted: true };
    return this.#write(key, entry, () => this.#remote.delete(key));
  }

  async clear(): Promise<void> {
    this.#known.clear();
    this.#pending.clear();
    this.#metrics?.storePendingWrites.set(0);
    await this.#call('clear', () => this.#remote.clear());
  }

  /**
   * True for the first claim of `key` within `ttlMs`, across every instance sharing Redis
   * (`SET NX PX`). This process's own claim is taken first, in one synchronous step, so concurrent
   * deliveries to one instance never both win even while Redis is slow.
   *
   * When Redis is down the local claim stands alone: deliveries to this instance are still handled
   * once, but a copy delivered to another instance at the same moment may be answered there too
   * until Redis is back.
   */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (!this.#claims.claim(key, ttlMs)) return false;
    try {
      return await this.#call('claim', () => this.#remote.claim(key, ttlMs));
    } catch {
      return true;
    }
  }

  /**
   * Stops probing, replays what it can within one deadline per write, and closes the connection.
   * Writes still kept in memory are lost: said in one warn line.
   */
  async disconnect(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#probe);
    if (this.#pending.size > 0 && this.#breaker.state === CircuitState.Closed) await this.#replay();
    if (this.#pending.size > 0) {
      this.#logger?.warn(
        { pendingWrites: this.#pending.size },
        `${this.#settings.label} did not take ${this.#pending.size} writes kept in memory before shutdown; they are lost`,
      );
    }
    await this.#remote.disconnect();
  }

  async #write(key: string, entry: LocalEntry, task: () => Promise<boolean>): Promise<boolean> {
    if (this.#settings.disposable(key)) {
      // A cache entry is not worth keeping: the answer is generated again next time.
      return this.#call(entry.deleted ? 'delete' : 'set', task).catch(() => false);
    }
    this.#latest.set(key, entry);
    // Superseded whatever happens: on success the server holds the newer value, on failure it is kept
    // instead. A replay of the older one already sent reaches Redis first (one connection, in order).
    this.#pending.delete(key);
    if (entry.deleted) this.#known.delete(key);
    else this.#known.set(key, entry);
    try {
      const result = await this.#call(entry.deleted ? 'delete' : 'set', task);
      this.#metrics?.storePendingWrites.set(this.#pending.size);
      return result;
    } catch {
      if (this.#latest.get(key) === entry) this.#keep(key, entry);
      return true;
    } finally {
      if (this.#latest.get(key) === entry) this.#latest.delete(key);
    }
  }

  #keep(key: string, entry: LocalEntry): void {
    this.#pending.delete(key);
    this.#pending.set(key, entry);
    if (this.#pending.size > this.#settings.fallbackMaxEntries) {
      const oldest = this.#pending.keys().next();
      if (!oldest.done) this.#pending.delete(oldest.value);
      this.#metrics?.storeErrors.inc({ op: 'set', reason: 'fallback_full' });
      if (this.#outage && this.#outage.dropped++ === 0) {
        this.#logger?.warn(
          { fallbackMaxEntries: this.#settings.fallbackMaxEntries },
          `${this.#settings.label} is still down and the memory fallback is full: the oldest writes are dropped (raise cache.redisFallbackMaxEntries)`,
        );
      }
    }
    this.#metrics?.storePendingWrites.set(this.#pending.size);
  }

  #live(entry: LocalEntry): unknown {
    if (entry.deleted) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.#settings.now()) return undefined;
    return entry.value;
  }

  async #call<T>(operation: string, task: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      // A signal of its own per call: without one, cockatiel hangs each call's abort listener on
      // one shared never-aborted signal (a MaxListenersExceededWarning past 10 calls in flight).
      result = await this.#policy.execute(() => task(), new AbortController().signal);
    } catch (error) {
      const failure = this.#describe(operation, error);
      this.#failed(failure, error);
      throw failure;
    }
    this.#succeeded();
    return result;
  }

  #describe(operation: string, error: unknown): StoreUnavailableError {
    const { label, timeoutMs } = this.#settings;
    if (error instanceof TaskCancelledError)
      return new StoreUnavailableError(
        'store_timeout',
        operation,
        `${label} did not answer within ${timeoutMs} ms`,
        {
          cause: error,
        },
      );
    if (error instanceof BrokenCircuitError)
      return new StoreUnavailableError(
        'store_unavailable',
        operation,
        `${label} is skipped while it is down`,
        {
          cause: error,
        },
      );
    const message = error instanceof Error ? error.message : String(error);
    return new StoreUnavailableError('store_unavailable', operation, `${label} failed: ${message}`, {
      cause: error,
    });
  }

  #failed(failure: StoreUnavailableError, error: unknown): void {
    const skipped = error instanceof BrokenCircuitError;
    this.#metrics?.storeErrors.inc({
      op: failure.operation,
      reason: skipped ? 'circuit_open' : failure.code === 'store_timeout' ? 'timeout' : 'error',
    });
    if (this.#closed) return;
    if (skipped) {
      this.#scheduleProbe(this.#settings.probeAfterMs);
      return;
    }
    if (this.#breaker.state === CircuitState.Open || !this.#answered) {
      this.#beginOutage(failure);
      // The probe waits for the circuit to let one call through again.
      clearTimeout(this.#probe);
      this.#probe = undefined;
    } else if (this.#state === 'up') {
      this.#report(
        'degraded',
        failure,
        `${failure.message}; still used, and skipped after ${this.#settings.failuresToOpen} failures in a row`,
      );
    }
    this.#scheduleProbe(this.#settings.probeAfterMs);
  }

  #succeeded(): void {
    this.#answered = true;
    if (this.#state !== 'up') this.#report('up');
    const outage = this.#outage;
    this.#outage = undefined;
    if (outage) {
      const { label } = this.#settings;
      const seconds = Math.round((this.#settings.now() - outage.since) / 1000);
      void this.#replay().then((replayed) =>
        this.#logger?.info(
          { outageSeconds: seconds, replayed, pendingWrites: this.#pending.size, dropped: outage.dropped },
          `${label} answering again after ${seconds} s; ${replayed} writes kept in memory replayed`,
        ),
      );
    } else if (this.#pending.size > 0) {
      void this.#replay();
    }
  }

  #beginOutage(failure: StoreUnavailableError): void {
    if (this.#outage) return;
    this.#outage = { since: this.#settings.now(), dropped: 0 };
    const { label } = this.#settings;
    const consequence =
      'answers are generated without the cache, events are de-duplicated in this instance only, and hand-offs, ' +
      'history and feedback are kept in memory here and written back when it returns';
    this.#logger?.warn({ err: failure }, `${failure.message}: ${consequence}`);
    this.#report('down', failure, `${label} is not answering (${failure.message}): ${consequence}`);
  }

  #report(state: 'up' | 'degraded' | 'down', failure?: StoreUnavailableError, reason?: string): void {
    this.#state = state;
    if (!this.#health) return;
    if (state === 'up' || !failure) this.#health.report(state);
    else this.#health.report(state, { code: failure.code, ...(reason ? { reason } : {}) });
  }

  #scheduleProbe(delayMs: number): void {
    if (this.#probe || this.#closed) return;
    this.#probe = setTimeout(() => {
      this.#probe = undefined;
      void this.#call('probe', () => this.#remote.ping()).then(
        () => undefined,
        () => undefined,
      );
    }, delayMs);
    // A probe never keeps the process alive on its own.
    this.#probe.unref?.();
  }

  /** Writes kept in memory, oldest first, until one fails; resolves with how many the server took. */
  #replay(): Promise<number> {
    this.#replaying ??= (async () => {
      let replayed = 0;
      for (const key of [...this.#pending.keys()]) {
        const entry = this.#pending.get(key);
        if (!entry) continue;
        const ttlMs = entry.expiresAt === undefined ? undefined : entry.expiresAt - this.#settings.now();
        if (ttlMs !== undefined && ttlMs <= 0) {
          this.#pending.delete(key);
          continue;
        }
        try {
          await this.#call('replay', () =>
            entry.deleted ? this.#remote.delete(key) : this.#remote.set(key, entry.value, ttlMs),
          );
        } catch {
          break;
        }
        if (this.#pending.get(key) === entry) this.#pending.delete(key);
        replayed++;
      }
      this.#metrics?.storePendingWrites.set(this.#pending.size);
      return replayed;
    })().finally(() => {
      this.#replaying = undefined;
    });
    return this.#replaying;
  }
}
