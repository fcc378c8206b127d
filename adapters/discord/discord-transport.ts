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

/** Turns a REST failure into the reply engine's errors, keeping Discord's code. */
export function toTransportError(error: unknown): Error {
  if (error instanceof RateLimitError) return new RateLimitedError(Math.max(1, error.retryAfter));
  if (error instanceof DiscordAPIError) {
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
  readonly #rest: REST;
  readonly #channelLimit: { limit: number; windowMs: number };

  constructor(options: { rest: REST; channelLimit?: { limit: number; windowMs: number } }) {
    this.#rest = options.rest;
    this.#channelLimit = options.channelLimit ?? { limit: 5, windowMs: 5_000 };
  }

  render(markdown: string): string {
    return toDiscordMarkdown(markdown);
  }

  scopes(target: DiscordTarget, operation: ReplyOperation): BudgetScope[] {
    // Interaction webhooks are limited per interaction and are exempt from the global limit.
    if (target.kind === 'interaction')
      return [{ key: `discord:interaction:${target.token.slice(-16)}`, ...this.#channelLimit }];
    const global = { key: 'discord:global', limit: 50, windowMs: 1_000 };
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
      throw toTransportError(error);
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
      throw toTransportError(error);
    }
  }

  async showStatus(target: DiscordTarget): Promise<void> {
    // A deferred interaction already shows "thinking…".
    if (target.kind === 'interaction') return;
    try {
      await this.#rest.post(Routes.channelTyping(target.channelId));
    } catch (error) {
      throw toTransportError(error);
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
      throw toTransportError(error);
    }
  }
}
