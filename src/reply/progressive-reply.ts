import { SupportBotError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { BudgetScheduler, priority } from './budget-scheduler.ts';
import type { Clock } from './clock.ts';
import { stabilizeForStreaming } from './markdown.ts';
import { splitMessage } from './split.ts';
import {
  RateLimitedError,
  ReplyDeliveryError,
  type ReplyOperation,
  type ReplyTransport,
} from './transport.ts';

/** Options of {@link ReplyEngine}. */
export interface ReplyEngineOptions<Target> {
  transport: ReplyTransport<Target>;
  clock: Clock;
  logger?: LoggerLike;
  /** Shown at once, before any answer text. @defaultValue '…' */
  placeholder?: string;
  /** Least time between two intermediate edits of one reply. @defaultValue 1_000 */
  editIntervalMs?: number;
  /** Failed attempts of one operation before the last resort. @defaultValue 4 */
  maxAttempts?: number;
  /** Backoff after a non-429 failure, doubled per attempt. @defaultValue 500 */
  retryBaseMs?: number;
  /** A reply with no new text for this long is finished with what it has. @defaultValue 120_000 */
  idleTimeoutMs?: number;
  /** Shown when the final text is empty. */
  emptyText?: string;
  /** Posted once when a reply cannot be delivered at all. */
  failureText?: string;
  /**
   * How long a status (typing indicator) stays visible: replies in the same status scope within
   * this time share one instead of each spending budget on it. @defaultValue 8_000
   * @see https://discord.com/developers/docs/resources/channel#trigger-typing-indicator (lasts ~10 s)
   */
  statusTtlMs?: number;
}

const defaults = {
  placeholder: '…',
  editIntervalMs: 1_000,
  maxAttempts: 4,
  retryBaseMs: 500,
  idleTimeoutMs: 120_000,
  emptyText: "Sorry, I don't have an answer for that.",
  failureText: 'Sorry, I could not finish this answer. Please ask again, or ask for a person.',
  statusTtlMs: 8_000,
} as const;

/** What a finished reply left on the platform. */
export interface ReplyOutcome {
  /** Message ids, in order. */
  messageIds: string[];
  /** The rendered final text (all messages together). */
  text: string;
  /** Set when the reply was cancelled or finished by the idle timer. */
  interrupted?: 'cancelled' | 'idle';
}

/**
 * One engine per platform connection: it owns the budget scheduler that every reply shares.
 */
export class ReplyEngine<Target> {
  readonly scheduler: BudgetScheduler;
  readonly #options: ReplyEngineOptions<Target> & typeof defaults;
  /** When a status was last shown per status scope, shared by every reply in it. */
  readonly #statusShown = new Map<string, Promise<number>>();

  constructor(options: ReplyEngineOptions<Target>) {
    this.#options = { ...defaults, ...options } as ReplyEngineOptions<Target> & typeof defaults;
    this.scheduler = new BudgetScheduler({ clock: options.clock });
  }

  /** Starts a reply: a status (where the platform has one) and the placeholder go out at once. */
  open(target: Target): ProgressiveReply<Target> {
    const reply = new ProgressiveReply(target, this.#options, this.scheduler);
    void this.#showStatus(target).then(
      (at) => reply.markVisible(at),
      () => undefined,
    );
    return reply;
  }

  /** Shows the status once per scope and TTL; resolves with the time it became visible. */
  #showStatus(target: Target): Promise<number> {
    const { transport, clock, statusTtlMs } = this.#options;
    if (!transport.showStatus) return Promise.reject(new Error('no status'));
    const scopes = transport.scopes(target, 'status');
    const key = scopes.map((scope) => scope.key).join('|');
    const shown = this.#statusShown.get(key);
    if (shown) return shown;
    const showing = new Promise<number>((resolve, reject) => {
      this.scheduler
        .schedule({
          priority: priority.first,
          scopes,
          owner: this,
          run: async () => {
            await transport.showStatus?.(target);
            resolve(clock.now());
          },
        })
        .catch(reject);
    });
    this.#statusShown.set(key, showing);
    void showing.then(
      (at) =>
        clock.sleep(Math.max(0, at + statusTtlMs - clock.now())).then(() => {
          if (this.#statusShown.get(key) === showing) this.#statusShown.delete(key);
        }),
      () => this.#statusShown.delete(key),
    );
    return showing;
  }
}

interface ShownMessage {
  id: string;
  text: string;
}

/**
 * An answer that grows in place: deltas are appended, and the platform is brought up to date as
 * the budgets allow — one operation at a time per reply, always with the newest text (queued stale
 * edits simply never happen), split into continuation messages at the platform's limit. The final
 * text lands exactly once; nothing is edited after it.
 */
export class ProgressiveReply<Target> {
  readonly #target: Target;
  readonly #options: ReplyEngineOptions<Target> & typeof defaults;
  readonly #scheduler: BudgetScheduler;
  readonly #clock: Clock;
  readonly #shown: ShownMessage[] = [];
  #raw = '';
  #final: string | undefined;
  #interrupted: ReplyOutcome['interrupted'];
  #busy = false;
  #lastOperationAt = Number.NEGATIVE_INFINITY;
  #attempts = 0;
  #idle: AbortController | undefined;
  #settled = false;
  #failed = false;
  /** A refusal that will not pass, seen while the answer was still streaming: the last resort waits for the end. */
  #heldFailure: { error: unknown } | undefined;
  readonly #done: Promise<ReplyOutcome>;
  #resolve!: (outcome: ReplyOutcome) => void;
  #reject!: (error: unknown) => void;
  /** When the first visible thing (placeholder or status) reached the platform. */
  firstVisibleAt: number | undefined;
  /** When each message operation completed, for pacing reports. */
  readonly updateTimes: number[] = [];

  constructor(
    target: Target,
    options: ReplyEngineOptions<Target> & typeof defaults,
    scheduler: BudgetScheduler,
  ) {
    this.#target = target;
    this.#options = options;
    this.#scheduler = scheduler;
    this.#clock = options.clock;
    this.#done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#done.catch(() => undefined);
    this.#armIdleTimer();
    this.#kick();
  }

  /** Adds text to the answer. Ignored after {@link finish} or {@link cancel}. */
  append(delta: string): void {
    if (this.#final !== undefined || delta === '') return;
    this.#raw += delta;
    this.#armIdleTimer();
    this.#kick();
  }

  /** The answer is complete; `text` (default: what was appended) is what must land. */
  finish(text?: string): Promise<ReplyOutcome> {
    if (this.#final === undefined) {
      this.#final = text ?? this.#raw;
      this.#idle?.abort();
      const held = this.#heldFailure;
      if (held) {
        this.#heldFailure = undefined;
        void this.#lastResort(held.error);
      } else this.#kick();
    }
    return this.#done;
  }

  /** Stops the reply now (staff took over, the question was deleted): the text so far and `note` land. */
  cancel(note = ''): Promise<ReplyOutcome> {
    if (this.#final === undefined) {
      this.#interrupted = 'cancelled';
      return this.finish(`${this.#raw}${this.#raw && note ? '\n\n' : ''}${note}`);
    }
    return this.#done;
  }

  /** Records that something of this reply (a shared status) became visible at `at`. */
  markVisible(at: number): void {
    if (this.firstVisibleAt === undefined || at < this.firstVisibleAt) this.firstVisibleAt = at;
  }

  /** Settles once the final text has landed (or could not be delivered). */
  get done(): Promise<ReplyOutcome> {
    return this.#done;
  }

  /** The rendered parts the platform should show now. */
  #desired(): string[] {
    const { transport } = this.#options;
    if (this.#final !== undefined) {
      let rendered = transport.render(this.#final);
      if (rendered.replace(/```|~~~|\s/g, '') === '') rendered = transport.render(this.#options.emptyText);
      return splitMessage(rendered, transport.maxMessageLength);
    }
    const preview = stabilizeForStreaming(this.#raw);
    if (preview.trim() === '') return [this.#options.placeholder];
    return splitMessage(transport.render(preview), transport.maxMessageLength);
  }

  /** The next operation that brings the platform closer to the desired text, if any. */
  #nextStep(): { operation: Exclude<ReplyOperation, 'status'>; index: number; text: string } | undefined {
    const desired = this.#desired();
    for (let index = 0; index < desired.length; index++) {
      const text = desired[index] as string;
      const shown = this.#shown[index];
      if (!shown) return { operation: 'post', index, text };
      if (shown.text !== text) return { operation: 'edit', index, text };
    }
    return undefined;
  }

  #kick(): void {
    if (this.#busy || this.#settled) return;
    const step = this.#nextStep();
    if (!step) {
      if (this.#final !== undefined) this.#settle();
      return;
    }
    const final = this.#final !== undefined;
    // The first answer text over the placeholder matters as much as the placeholder itself.
    const firstText = this.#shown.length === 1 && this.#shown[0]?.text === this.#options.placeholder;
    const taskPriority = final
      ? priority.final
      : this.#shown.length === 0 || firstText
        ? priority.first
        : step.operation === 'post'
          ? priority.continuation
          : priority.progress;
    const notBefore =
      final || step.operation === 'post' ? undefined : this.#lastOperationAt + this.#options.editIntervalMs;
    this.#busy = true;
    void this.#scheduler
      .schedule({
        priority: taskPriority,
        scopes: this.#options.transport.scopes(this.#target, step.operation),
        ...(notBefore !== undefined ? { notBefore } : {}),
        owner: this,
        run: () => this.#perform(step.operation, step.index),
      })
      .then(
        () => {
          this.#busy = false;
          this.#kick();
        },
        (error: unknown) => this.#onFailure(error, step.operation),
      );
  }

  /** Runs the operation with the newest text for that message, computed at the last moment. */
  async #perform(operation: 'post' | 'edit', index: number): Promise<void> {
    const text = this.#desired()[index];
    if (text === undefined) return;
    const { transport } = this.#options;
    if (operation === 'post' && !this.#shown[index]) {
      const id = await transport.postMessage(this.#target, text);
      this.#shown[index] = { id, text };
      this.markVisible(this.#clock.now());
    } else {
      const shown = this.#shown[index] as ShownMessage;
      if (shown.text === text) return;
      await transport.editMessage(this.#target, shown.id, text);
      shown.text = text;
    }
    this.#attempts = 0;
    this.#lastOperationAt = this.#clock.now();
    this.updateTimes.push(this.#lastOperationAt);
  }

  async #onFailure(error: unknown, operation: 'post' | 'edit'): Promise<void> {
    this.#attempts++;
    const { logger, maxAttempts, retryBaseMs, transport } = this.#options;
    if (error instanceof RateLimitedError) {
      // Everyone in the limited scope waits, not just this reply; the retry then carries the newest
      // text. Only the scope the limit names: one channel's 429 must not hold the others.
      this.#scheduler.block(
        error.blockedScopes(transport.scopes(this.#target, operation)),
        this.#clock.now() + error.retryAfterMs,
      );
    }
    // A refusal that will not change (revoked token, not in channel) skips the retries.
    const retryable = !(error instanceof SupportBotError) || error.retryable;
    if (retryable && this.#attempts < maxAttempts * (error instanceof RateLimitedError ? 3 : 1)) {
      logger?.debug({ err: error, attempt: this.#attempts }, 'reply operation failed; retrying');
      if (!(error instanceof RateLimitedError))
        await this.#clock.sleep(retryBaseMs * 2 ** (this.#attempts - 1));
      this.#busy = false;
      this.#kick();
      return;
    }
    if (this.#final === undefined) {
      // Mid-answer: the platform will not take this edit, but the answer is not complete yet.
      // Nothing more is sent until it is; then the whole final text lands in fresh messages.
      logger?.warn(
        { err: error, attempts: this.#attempts },
        'reply operation refused mid-answer; the final text will be posted afresh',
      );
      this.#heldFailure = { error };
      return;
    }
    logger?.warn({ err: error, attempts: this.#attempts }, 'reply operation keeps failing; last resort');
    await this.#lastResort(error);
  }

  /**
   * Bounded retries are spent: post everything from the first stale message on as fresh messages,
   * once, and remove the stale ones where the platform allows. If even that fails, one short error
   * message is attempted and the reply settles as failed.
   */
  async #lastResort(cause: unknown): Promise<void> {
    const { transport } = this.#options;
    if (!this.#failed) {
      this.#failed = true;
      this.#final ??= this.#raw;
      const desired = this.#desired();
      const firstStale = desired.findIndex((text, index) => this.#shown[index]?.text !== text);
      if (firstStale === -1 && desired.length === this.#shown.length) {
        // What failed is already on screen after all.
        this.#settle();
        return;
      }
      try {
        const fresh: ShownMessage[] = [];
        for (const text of desired.slice(firstStale)) fresh.push({ id: await this.#pacedPost(text), text });
        const stale = this.#shown.splice(firstStale, this.#shown.length - firstStale, ...fresh);
        for (const message of stale)
          await transport.deleteMessage?.(this.#target, message.id).catch(() => undefined);
        this.updateTimes.push(this.#clock.now());
        this.#settle();
        return;
      } catch {
        // The original failure is the one worth reporting.
      }
    }
    await this.#pacedPost(transport.render(this.#options.failureText)).catch(() => undefined);
    this.#settled = true;
    this.#reject(new ReplyDeliveryError('The reply could not be delivered to the platform.', { cause }));
  }

  /** A post that still spends the channel's budget, as every operation does. */
  async #pacedPost(text: string): Promise<string> {
    const { transport } = this.#options;
    let id = '';
    await this.#scheduler.schedule({
      priority: priority.final,
      scopes: transport.scopes(this.#target, 'post'),
      owner: this,
      run: async () => {
        id = await transport.postMessage(this.#target, text);
      },
    });
    return id;
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#idle?.abort();
    this.#resolve({
      messageIds: this.#shown.map((message) => message.id),
      text: this.#shown.map((message) => message.text).join(''),
      ...(this.#interrupted ? { interrupted: this.#interrupted } : {}),
    });
  }

  #armIdleTimer(): void {
    this.#idle?.abort();
    const idle = new AbortController();
    this.#idle = idle;
    this.#clock.sleep(this.#options.idleTimeoutMs, idle.signal).then(
      () => {
        // The answer stream went quiet without an end: finish with what arrived.
        if (this.#final === undefined) {
          this.#interrupted = 'idle';
          void this.finish();
        }
      },
      () => undefined,
    );
  }
}
