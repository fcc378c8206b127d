import { ErrorCode, type WebClient } from '@slack/web-api';
import { toSlackMrkdwn } from '../../src/reply/markdown.ts';
import {
  type BudgetScope,
  RateLimitedError,
  type ReplyOperation,
  type ReplyTransport,
  TransportError,
} from '../../src/reply/transport.ts';

/** Where a Slack reply goes. */
export interface SlackTarget {
  teamId: string;
  channel: string;
  threadTs: string;
}

/**
 * Errors that will not go away by retrying the same call. For chat.update these send the reply
 * engine straight to its last resort (the final text as a fresh message) instead of four retries.
 * @see https://docs.slack.dev/reference/methods/chat.update#errors
 */
const permanentErrors = new Set([
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'is_inactive',
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'missing_scope',
  'no_permission',
  'not_allowed_token_type',
  'team_access_not_granted',
  'restricted_action',
  'ekm_access_denied',
  'msg_too_long',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'streaming_state_conflict',
  'invalid_arguments',
  'invalid_blocks',
  'no_text',
]);

/**
 * Turns a Web API failure into the reply engine's errors, keeping Slack's error code. Both ways Slack
 * says "slow down" — HTTP 429 with Retry-After, and a 200 `{ok: false, error: "ratelimited"}` body
 * (Retry-After when present, else 1 s) — become a {@link RateLimitedError} that blocks only
 * `scopeKeys`: the budget scope of the call that was refused (one channel's posts, one workspace's
 * updates), never every reply.
 * @see https://docs.slack.dev/apis/web-api/rate-limits
 */
export function toTransportError(error: unknown, scopeKeys?: readonly string[]): Error {
  const code = (error as { code?: string }).code;
  const scope = scopeKeys ? { scopeKeys } : {};
  if (code === ErrorCode.RateLimitedError) {
    return new RateLimitedError(((error as { retryAfter?: number }).retryAfter ?? 1) * 1000, undefined, {
      ...scope,
      cause: error,
    });
  }
  const slackError = slackErrorCode(error);
  if (slackError === 'ratelimited' || slackError === 'rate_limited') {
    const retryAfter = (error as { data?: { response_metadata?: { retryAfter?: number } } }).data
      ?.response_metadata?.retryAfter;
    return new RateLimitedError((retryAfter ?? 1) * 1000, undefined, { ...scope, cause: error });
  }
  // A 429 without a usable Retry-After reaches us as a plain Error from the client.
  if (!slackError && /rate limit|Retry header/i.test((error as Error).message ?? '')) {
    return new RateLimitedError(1_000, undefined, { ...scope, cause: error });
  }
  return new TransportError(`Slack: ${slackError ?? (error as Error).message}`, {
    retryable: !slackError || !permanentErrors.has(slackError),
    cause: error,
  });
}

/** Slack's `error` string of a platform error (`not_in_channel`, `token_revoked`…), through wrapped causes. */
export function slackErrorCode(error: unknown): string | undefined {
  for (
    let current = error, depth = 0;
    current && depth < 5;
    current = (current as { cause?: unknown }).cause, depth++
  ) {
    const data = (current as { data?: { error?: unknown } }).data;
    if (typeof data?.error === 'string') return data.error;
  }
  return undefined;
}

/**
 * Post-then-update replies on Slack for the progressive reply engine.
 * @see https://docs.slack.dev/reference/methods/chat.update (Tier 3, ~50 a minute per workspace)
 * @see https://docs.slack.dev/reference/methods/chat.postMessage (about 1 a second per channel)
 */
export class SlackReplyTransport implements ReplyTransport<SlackTarget> {
  /** Slack truncates past 40,000 characters and advises staying under 4,000. */
  readonly maxMessageLength = 3_900;
  readonly #client: WebClient;
  readonly #updatesPerMinute: number;

  constructor(options: { client: WebClient; updatesPerMinute?: number }) {
    this.#client = options.client;
    this.#updatesPerMinute = options.updatesPerMinute ?? 50;
  }

  render(markdown: string): string {
    return toSlackMrkdwn(markdown);
  }

  scopes(target: SlackTarget, operation: ReplyOperation): BudgetScope[] {
    if (operation === 'post')
      return [{ key: `slack:${target.teamId}:${target.channel}:post`, limit: 1, windowMs: 1_000 }];
    return [{ key: `slack:${target.teamId}:update`, limit: this.#updatesPerMinute, windowMs: 60_000 }];
  }

  async postMessage(target: SlackTarget, text: string): Promise<string> {
    try {
      const result = await this.#client.chat.postMessage({
        channel: target.channel,
        thread_ts: target.threadTs,
        text,
        unfurl_links: false,
        unfurl_media: false,
      });
      return String(result.ts);
    } catch (error) {
      throw toTransportError(error, this.#keys(target, 'post'));
    }
  }

  async editMessage(target: SlackTarget, messageId: string, text: string): Promise<void> {
    try {
      await this.#client.chat.update({ channel: target.channel, ts: messageId, text });
    } catch (error) {
      throw toTransportError(error, this.#keys(target, 'edit'));
    }
  }

  async deleteMessage(target: SlackTarget, messageId: string): Promise<void> {
    try {
      await this.#client.chat.delete({ channel: target.channel, ts: messageId });
    } catch (error) {
      throw toTransportError(error, this.#keys(target, 'edit'));
    }
  }

  #keys(target: SlackTarget, operation: ReplyOperation): string[] {
    return this.scopes(target, operation).map((scope) => scope.key);
  }
}
