import { SupportBotError } from '../errors.ts';

/** A rate limit shared by every reply whose operations fall in the same scope. */
export interface BudgetScope {
  /** e.g. `slack:T123:chat.update` (per workspace) or `discord:channel:42`. */
  key: string;
  /** Operations allowed per window. */
  limit: number;
  windowMs: number;
}

/** What a reply does on the platform. */
export type ReplyOperation = 'post' | 'edit' | 'status';

/**
 * What a platform adapter implements for the progressive reply engine: a handful of methods and the
 * limits that pace them. `Target` is the adapter's own idea of where a reply goes (channel, thread…).
 */
export interface ReplyTransport<Target> {
  /** Longest message the platform shows, in characters (after rendering). */
  readonly maxMessageLength: number;
  /** Turns the model's CommonMark into the platform's markup. */
  render(markdown: string): string;
  /** The budgets an operation on `target` spends. */
  scopes(target: Target, operation: ReplyOperation): BudgetScope[];
  /** Posts a message and returns its id. */
  postMessage(target: Target, text: string): Promise<string>;
  editMessage(target: Target, messageId: string, text: string): Promise<void>;
  /** Shows that the bot is working (typing indicator, status line). Optional. */
  showStatus?(target: Target): Promise<void>;
  /** Removes a message; used only to clean up after the last-resort fresh message. Optional. */
  deleteMessage?(target: Target, messageId: string): Promise<void>;
}

/**
 * The platform refused an operation for now; try again after `retryAfterMs`. A limit concerns one
 * scope (a route's bucket, a channel, a workspace's method, or the whole bot): `scopeKeys` names the
 * budget scopes it blocks, so a 429 in one channel never holds replies in another. Without it the
 * limit blocks every scope of the refused operation.
 */
export class RateLimitedError extends SupportBotError {
  readonly retryAfterMs: number;
  /** Keys of the {@link BudgetScope}s this limit blocks; absent: every scope of the operation. */
  readonly scopeKeys: readonly string[] | undefined;
  constructor(
    retryAfterMs: number,
    message = `rate limited; retry after ${retryAfterMs} ms`,
    options: { scopeKeys?: readonly string[]; cause?: unknown } = {},
  ) {
    super('rate_limited', message, { retryable: true, cause: options.cause });
    this.retryAfterMs = retryAfterMs;
    this.scopeKeys = options.scopeKeys;
  }

  /** The scopes to block: those named by the limit, else all of the operation's. */
  blockedScopes(operationScopes: readonly BudgetScope[]): readonly Pick<BudgetScope, 'key'>[] {
    if (!this.scopeKeys) return operationScopes;
    return this.scopeKeys.map((key) => ({ key }));
  }
}

/** A platform operation failed. `retryable` says whether the same call may succeed later. */
export class TransportError extends SupportBotError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('transport_failed', message, { retryable: options.retryable ?? true, cause: options.cause });
  }
}

/** The reply could not be delivered, even as a fresh message. */
export class ReplyDeliveryError extends SupportBotError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('reply_undelivered', message, options);
  }
}
