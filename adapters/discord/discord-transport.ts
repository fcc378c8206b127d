import { type APIMessage, DiscordAPIError, HTTPError, RateLimitError, type REST, Routes } from 'discord.js';
import { toDiscordMarkdown } from '../../src/reply/markdown.ts';
import {
  type BudgetScope,
  RateLimitedError,
  type ReplyOperation,
  type ReplyTransport,
  TransportError,
} from '../../src/reply/transport.ts';

/** Where a Discord reply goes: a channel or thread, or the response to an interaction (`/ask`). */
export type DiscordTarget =
  | {
      kind: 'channel';
      channelId: string;
      /** Inline replies reference the customer's message with their first part. */
      replyTo?: string;
    }
  | {
      kind: 'interaction';
      channelId: string;
      applicationId: string;
      /** The interaction token: valid for 15 minutes after the interaction. */
      token: string;
      /** Set once the deferred original response carries the first part. */
      state: { originalUsed: boolean };
    };

/**
 * Discord error codes that retrying will not fix.
 * @see https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes
 */
export const permanentDiscordErrors: Record<number, string> = {
  10003: 'Unknown Channel',
  10008: 'Unknown Message',
  10015: 'Unknown Webhook',
  10062: 'Unknown interaction',
  40060: 'Interaction has already been acknowledged',
  50001: 'Missing Access',
  50006: 'Cannot send an empty message',
  50007: 'Cannot send messages to this user',
  50013: 'Missing Permissions',
  50024: 'Cannot execute action on this channel type',
  50035: 'Invalid Form Body',
  50083: 'Thread is archived',
  160005: 'Thread is locked',
};

/** The numeric Discord error code of a failure, through wrapped causes. */
export function discordErrorCode(error: unknown): number | undefined {
  for (
    let current = error, depth = 0;
    current && depth < 5;
    current = (current as { cause?: unknown }).cause, depth++
  ) {
    if (current instanceof DiscordAPIError && typeof current.code === 'number') return current.code;
  }
  return undefined;
}

/**
 * Turns a REST failure into the reply engine's errors, keeping Discord's code. A rate limit blocks
 * exactly the scope it names: a global one (`global: true`, scope `global`) every reply of the bot
 * (`discord:global`); a per-route (`user`) or `shared` one only `scopeKey`, the budget scope of the
 * channel or interaction the refused request was for. Without `scopeKey` the limit blocks every
 * scope of the operation.
 * @see https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit
 */
export function toTransportError(error: unknown, options: { scopeKey?: string } = {}): Error {
  if (error instanceof RateLimitError) {
    const global = error.global || error.scope === 'global';
    return rateLimited({
      retryAfterMs: error.retryAfter,
      global,
      scope: global ? 'global' : error.scope,
      where: `${error.method.toUpperCase()} ${error.route}`,
      scopeKey: options.scopeKey,
      cause: error,
    });
  }
  if (error instanceof DiscordAPIError) {
    if (error.status === 429) {
      // @discordjs/rest handles 429s itself; one can only get here from another REST setup.
      const body = error.rawError as { retry_after?: unknown; global?: unknown };
      const retryAfterSeconds = typeof body.retry_after === 'number' ? body.retry_after : 1;
      return rateLimited({
        retryAfterMs: retryAfterSeconds * 1000,
        global: body.global === true,
        scope: body.global === true ? 'global' : 'user',
        where: `${error.method.toUpperCase()} ${new URL(error.url).pathname}`,
        scopeKey: options.scopeKey,
        cause: error,
      });
    }
    const code = typeof error.code === 'number' ? error.code : undefined;
    const permanent =
      (code !== undefined && code in permanentDiscordErrors) ||
      error.status === 401 ||
      error.status === 403 ||
      error.status === 404;
    return new TransportError(`Discord ${code ?? error.status}: ${error.message}`, {
      retryable: !permanent,
      cause: error,
    });
  }
  if (error instanceof HTTPError)
    return new TransportError(`Discord HTTP ${error.status}`, { retryable: true, cause: error });
  return new TransportError(`Discord: ${(error as Error).message}`, { retryable: true, cause: error });
}

/** The budget scope key of the whole bot: what a global rate limit blocks. */
export const globalScopeKey = 'discord:global';

function rateLimited(limit: {
  retryAfterMs: number;
  global: boolean;
  scope: string;
  where: string;
  scopeKey: string | undefined;
  cause: unknown;
}): RateLimitedError {
  const retryAfterMs = Math.max(1, Math.ceil(limit.retryAfterMs));
  const scopeKeys = limit.global ? [globalScopeKey] : limit.scopeKey ? [limit.scopeKey] : undefined;
  return new RateLimitedError(
    retryAfterMs,
    `Discord rate limit (${limit.scope}) on ${limit.where}; retry after ${retryAfterMs} ms`,
    { ...(scopeKeys ? { scopeKeys } : {}), cause: limit.cause },
  );
}

/** Answers never ping anyone but the person they reply to. */
const quietMentions = { parse: [], replied_user: true } as const;

/**
 * Post-then-edit replies on Discord for the progressive reply engine, over discord.js's REST client.
 * The REST client is built with `rejectOnRateLimit`, so a route whose bucket is spent (from the
 * rate-limit headers) or answers 429 throws instead of queueing: the engine, which always sends the
 * newest text, waits instead, so no backlog of stale edits builds up.
 * @see https://discord.com/developers/docs/topics/rate-limits
 */
export class DiscordReplyTransport implements ReplyTransport<DiscordTarget> {
  readonly maxMessageLength = 2_000;
  readonly #restOf: () => REST;
  readonly #channelLimit: { limit: number; windowMs: number };

  /**
   * @param options.rest - the REST client, or a function returning the current one (the adapter
   *   builds a new discord.js Client per connection attempt).
   */
  constructor(options: { rest: REST | (() => REST); channelLimit?: { limit: number; windowMs: number } }) {
    const { rest } = options;
    this.#restOf = typeof rest === 'function' ? rest : () => rest;
    this.#channelLimit = options.channelLimit ?? { limit: 5, windowMs: 5_000 };
  }

  get #rest(): REST {
    return this.#restOf();
  }

  /** The key of the scope a per-route or shared limit on `target` blocks: its channel, thread or interaction. */
  scopeKey(target: DiscordTarget, operation: ReplyOperation): string {
    return (this.scopes(target, operation)[0] as BudgetScope).key;
  }

  render(markdown: string): string {
    return toDiscordMarkdown(markdown);
  }

  scopes(target: DiscordTarget, operation: ReplyOperation): BudgetScope[] {
    // Interaction webhooks are limited per interaction and are exempt from the global limit.
    if (target.kind === 'interaction')
      return [{ key: `discord:interaction:${target.token.slice(-16)}`, ...this.#channelLimit }];
    const global = { key: globalScopeKey, limit: 50, windowMs: 1_000 };
    if (operation === 'status')
      return [{ key: `discord:typing:${target.channelId}`, limit: 1, windowMs: 5_000 }, global];
    return [{ key: `discord:channel:${target.channelId}`, ...this.#channelLimit }, global];
  }

  async postMessage(
    target: DiscordTarget,
    text: string,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    try {
      if (target.kind === 'interaction') {
        if (!target.state.originalUsed && Object.keys(extra).length === 0) {
          // The first part replaces the deferred "thinking…" response.
          await this.#rest.patch(Routes.webhookMessage(target.applicationId, target.token, '@original'), {
            body: { content: text, allowed_mentions: quietMentions },
            auth: false,
          });
          target.state.originalUsed = true;
          return '@original';
        }
        const route = Routes.webhook(target.applicationId, target.token);
        const message = (await this.#rest.post(route, {
          body: { content: text, allowed_mentions: quietMentions, ...extra },
          auth: false,
        })) as APIMessage;
        return message.id;
      }
      const message = (await this.#rest.post(Routes.channelMessages(target.channelId), {
        body: {
          content: text,
          allowed_mentions: quietMentions,
          ...(target.replyTo
            ? { message_reference: { message_id: target.replyTo, fail_if_not_exists: false } }
            : {}),
          ...extra,
        },
      })) as APIMessage;
      return message.id;
    } catch (error) {
      throw toTransportError(error, { scopeKey: this.scopeKey(target, 'post') });
    }
  }

  async editMessage(target: DiscordTarget, messageId: string, text: string): Promise<void> {
    try {
      const route =
        target.kind === 'interaction'
          ? Routes.webhookMessage(target.applicationId, target.token, messageId)
          : Routes.channelMessage(target.channelId, messageId);
      await this.#rest.patch(route, {
        body: { content: text, allowed_mentions: quietMentions },
        auth: target.kind !== 'interaction',
      });
    } catch (error) {
      throw toTransportError(error, { scopeKey: this.scopeKey(target, 'edit') });
    }
  }

  async showStatus(target: DiscordTarget): Promise<void> {
    // A deferred interaction already shows "thinking…".
    if (target.kind === 'interaction') return;
    try {
      await this.#rest.post(Routes.channelTyping(target.channelId));
    } catch (error) {
      throw toTransportError(error, { scopeKey: this.scopeKey(target, 'status') });
    }
  }

  async deleteMessage(target: DiscordTarget, messageId: string): Promise<void> {
    try {
      const route =
        target.kind === 'interaction'
          ? Routes.webhookMessage(target.applicationId, target.token, messageId)
          : Routes.channelMessage(target.channelId, messageId);
      await this.#rest.delete(route, { auth: target.kind !== 'interaction' });
    } catch (error) {
      throw toTransportError(error, { scopeKey: this.scopeKey(target, 'post') });
    }
  }
}
