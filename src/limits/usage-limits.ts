import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from 'rate-limiter-flexible';
import { toSupportBotError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { Metrics } from '../observability/metrics.ts';

/** What a message limit counts: one customer, one thread, or every customer of the tenant. */
export type LimitScope = 'user' | 'conversation' | 'tenant';

/** At most `messages` per fixed window of `perSeconds`; `messages: 0` turns the limit off. */
export interface MessageLimit {
  messages: number;
  perSeconds: number;
}

/** The limits, as config `limits` holds them. */
export interface UsageLimitsSettings {
  /** Plus `burst` more messages per `burstPerSeconds` once the per-window allowance is spent. */
  user: MessageLimit & { burst: number; burstPerSeconds: number };
  conversation: MessageLimit;
  tenant: MessageLimit;
  /** Model spend allowed per hour, in USD; 0 turns the budget off. */
  budgetUsdPerHour: number;
}

/** Who sent a message, for the limits. */
export interface MessageSender {
  platform: string;
  userId: string;
  threadId: string;
}

/**
 * Whether a message may be answered. Over a limit, `retryAfterMs` is when its window ends (never
 * more than the window) and `notifyStaff` is true for the first refusal of that customer (or
 * conversation, or tenant, by scope) in the window.
 */
export type LimitDecision =
  | { allowed: true }
  | { allowed: false; scope: LimitScope; limit: MessageLimit; retryAfterMs: number; notifyStaff: boolean };

/**
 * A node-redis client (`createClient` from `@keyv/redis`), connected or connecting; rate-limiter-flexible
 * sends it its Lua script and reads `isReady`.
 */
export interface RedisClient {
  readonly isReady: boolean;
}

/** Options of {@link UsageLimits}. */
export interface UsageLimitsOptions {
  tenant: string;
  settings: UsageLimitsSettings;
  /**
   * Counts shared by every instance (windows timed by Redis, not by this process's clock). Absent,
   * or while it is not ready or slower than `redisTimeoutMs`: counted in this process's memory.
   */
  redis?: RedisClient;
  /** Prefix of every key, in Redis too. @defaultValue `'limits'` */
  keyPrefix?: string;
  /** @defaultValue 200 */
  redisTimeoutMs?: number;
  metrics?: Metrics;
  logger?: LoggerLike;
}

type Limiter = RateLimiterMemory | RLWrapperTimeouts;

/** Budget points are micro-dollars: the limiter's counters are integers. */
const microUsd = 1_000_000;
const hourSeconds = 3_600;

/**
 * Per-customer, per-conversation and per-tenant message limits and the tenant's hourly model
 * budget, on rate-limiter-flexible: in Redis when the bot has one (with memory as the insurance
 * limiter for an outage or a slow command), else in memory. Memory counters are fixed windows
 * removed by a timer when their window ends, so 10,000 customers at once cost a few MB that go
 * away with the window, and a jump of the wall clock ends a window early at most (the removal
 * timer runs on the monotonic clock): nobody is locked out longer than a window.
 *
 * @see https://github.com/animir/node-rate-limiter-flexible/wiki/Insurance-Strategy
 */
export class UsageLimits {
  readonly #options: UsageLimitsOptions;
  readonly #scopes: {
    scope: LimitScope;
    limit: MessageLimit;
    counter: Limiter | BurstyRateLimiter;
    noticed: Limiter;
  }[] = [];
  readonly #budget: Limiter | undefined;
  readonly #budgetPoints: number;

  constructor(options: UsageLimitsOptions) {
    this.#options = options;
    const { user, conversation, tenant, budgetUsdPerHour } = options.settings;
    const limits: [LimitScope, MessageLimit][] = [
      ['user', user],
      ['conversation', conversation],
      ['tenant', tenant],
    ];
    for (const [scope, limit] of limits) {
      if (limit.messages <= 0) continue;
      const steady = this.#limiter(scope, limit.messages, limit.perSeconds);
      const counter =
        scope === 'user' && user.burst > 0
          ? new BurstyRateLimiter(steady, this.#limiter('user-burst', user.burst, user.burstPerSeconds))
          : steady;
      // One point per customer, conversation or tenant and window: the first refusal tells staff.
      const noticed = this.#limiter(`${scope}-noticed`, 1, limit.perSeconds);
      this.#scopes.push({ scope, limit, counter, noticed });
    }
    this.#budgetPoints = Math.round(budgetUsdPerHour * microUsd);
    this.#budget =
      this.#budgetPoints > 0 ? this.#limiter('budget', this.#budgetPoints, hourSeconds) : undefined;
  }

  /** Counts a message against the sender's, its conversation's and the tenant's limits, in that order. */
  async admit(sender: MessageSender): Promise<LimitDecision> {
    const keys: Record<LimitScope, string> = {
      user: `${sender.platform}:${sender.userId}`,
      conversation: `${sender.platform}:${sender.threadId}`,
      tenant: this.#options.tenant,
    };
    // Sequential, so a customer over their own limit does not spend the tenant's allowance.
    for (const { scope, limit, counter, noticed } of this.#scopes) {
      const refused = await counter.consume(keys[scope]).then(
        () => undefined,
        (rejection: unknown) => this.#refusal(rejection),
      );
      if (!refused) continue;
      this.#options.metrics?.limited.inc({ scope });
      const windowMs = limit.perSeconds * 1000;
      // A wall clock set back makes a window look longer than it is: its timer still ends it on time.
      const retryAfterMs = Math.min(Math.max(refused.msBeforeNext, 1000), windowMs);
      const notifyStaff = await noticed.consume(keys[scope]).then(
        () => true,
        () => false,
      );
      return { allowed: false, scope, limit, retryAfterMs, notifyStaff };
    }
    return { allowed: true };
  }

  /** Whether this hour's model spend has reached the budget. */
  async overBudget(): Promise<boolean> {
    if (!this.#budget) return false;
    const spent = await this.#budget.get(this.#options.tenant).then(
      (result) => (result && result.msBeforeNext > 0 ? result.consumedPoints : 0),
      (error: unknown) => {
        this.#warn(error, 'budget could not be read; answering with the model');
        return 0;
      },
    );
    this.#options.metrics?.budgetSpentUsd.set({ tenant: this.#options.tenant }, spent / microUsd);
    const over = spent >= this.#budgetPoints;
    if (over) this.#options.metrics?.limited.inc({ scope: 'budget' });
    return over;
  }

  /** Adds model spend to this hour's budget. */
  async recordSpend(usd: number): Promise<void> {
    const points = Math.round(usd * microUsd);
    if (!this.#budget || !(points > 0)) return;
    await this.#budget.penalty(this.#options.tenant, points).then(
      (result) =>
        this.#options.metrics?.budgetSpentUsd.set(
          { tenant: this.#options.tenant },
          result.consumedPoints / microUsd,
        ),
      (error: unknown) => this.#warn(error, 'model spend could not be counted'),
    );
  }

  #limiter(name: string, points: number, duration: number): Limiter {
    const keyPrefix = `${this.#options.keyPrefix ?? 'limits'}:${name}`;
    const memory = new RateLimiterMemory({ keyPrefix, points, duration });
    const { redis } = this.#options;
    if (!redis) return memory;
    const shared = new RateLimiterRedis({
      storeClient: redis,
      useRedisPackage: true,
      // A Redis that is down answers from memory at once instead of queueing the command.
      rejectIfRedisNotReady: true,
      keyPrefix,
      points,
      duration,
      insuranceLimiter: memory,
    });
    return new RLWrapperTimeouts({
      limiter: shared,
      timeoutMs: this.#options.redisTimeoutMs ?? 200,
      insuranceLimiter: memory,
    });
  }

  /** The limiter's answer for a message over the limit; anything else is a fault, and the message passes. */
  #refusal(rejection: unknown): RateLimiterRes | undefined {
    if (rejection instanceof RateLimiterRes) return rejection;
    this.#warn(rejection, 'limit could not be checked; message allowed');
    return undefined;
  }

  #warn(error: unknown, message: string): void {
    this.#options.logger?.warn({ err: toSupportBotError(error) }, message);
  }
}

/** The staff channel's note about a refusal: who went over which limit, and for how long. */
export function describeRefusal(
  decision: Extract<LimitDecision, { allowed: false }>,
  sender: MessageSender,
): string {
  const limit = `${decision.limit.messages} messages in ${describeWait(decision.limit.perSeconds * 1000)}`;
  const pause = `replies paused for ${describeWait(decision.retryAfterMs)}; the thread stays with the bot`;
  if (decision.scope === 'user')
    return `Message limit: ${sender.userId} on ${sender.platform} sent more than ${limit} (${pause}).`;
  if (decision.scope === 'conversation')
    return `Message limit: a conversation on ${sender.platform} had more than ${limit}, the latest from ${sender.userId} (${pause}).`;
  return `Message limit: all customers together sent more than ${limit}, the latest refused from ${sender.userId} on ${sender.platform} (${pause}).`;
}

/** "30 seconds", "a minute", "8 minutes", "an hour": how long a customer is asked to wait. */
export function describeWait(milliseconds: number): string {
  const seconds = Math.max(1, Math.ceil(milliseconds / 1000));
  if (seconds < 60) return seconds === 1 ? 'a second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'a minute' : `${minutes} minutes`;
  const hours = Math.ceil(minutes / 60);
  return hours === 1 ? 'an hour' : `${hours} hours`;
}
