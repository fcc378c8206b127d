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

/** Errors that will not go away by retrying. */
const permanentErrors = new Set([
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'missing_scope',
  'no_permission',
  'restricted_action',
  'msg_too_long',
  'message_not_found',
  'cant_update_message',
]);

/** Turns a Web API failure into the reply engine's errors, keeping Slack's error code. */
export function toTransportError(error: unknown): Error {
  const code = (error as { code?: string }).code;
  if (code === ErrorCode.RateLimitedError) {
    return new RateLimitedError(((error as { retryAfter?: number }).retryAfter ?? 1) * 1000);
  }
  const slackError = slackErrorCode(error);
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
      throw toTransportError(error);
    }
  }

  async editMessage(target: SlackTarget, messageId: string, text: string): Promise<void> {
    try {
      await this.#client.chat.update({ channel: target.channel, ts: messageId, text });
    } catch (error) {
      throw toTransportError(error);
    }
  }

  async deleteMessage(target: SlackTarget, messageId: string): Promise<void> {
    try {
      await this.#client.chat.delete({ channel: target.channel, ts: messageId });
    } catch (error) {
      throw toTransportError(error);
    }
  }
}
