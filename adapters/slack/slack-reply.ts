import type { WebClient } from '@slack/web-api';
import type { LoggerLike } from '../../src/observability/logger-like.ts';
import type { Clock } from '../../src/reply/clock.ts';
import type { ReplyEngine } from '../../src/reply/progressive-reply.ts';
import { RateLimitedError } from '../../src/reply/transport.ts';
import { type SlackTarget, slackErrorCode, toTransportError } from './slack-transport.ts';

/** A reply in a Slack thread, whichever way it streams. */
export interface SlackReply {
  append(delta: string): void;
  /** Lands the final text; resolves with the ts of the (first) message that shows it. */
  finish(text: string): Promise<{ ts: string | undefined; method: 'native' | 'update' }>;
  cancel(note: string): Promise<void>;
}

/** Options of {@link openSlackReply}. */
export interface OpenSlackReplyOptions {
  client: WebClient;
  engine: ReplyEngine<SlackTarget>;
  target: SlackTarget;
  /** The customer, for native streaming outside DMs. */
  recipientUserId: string;
  /** Try chat.startStream first. */
  native: boolean;
  clock: Clock;
  logger?: LoggerLike;
  /** Least time between two appends to a native stream. @defaultValue 1_000 */
  appendIntervalMs?: number;
  /**
   * Called once when native streaming fails and the reply falls back to post-then-update, with
   * Slack's error code (`unknown_method`, `message_not_in_streaming_state`…) when Slack gave one,
   * else the error's message.
   */
  onFallback?: (reason: string) => void;
}

/**
 * Opens a reply: Slack's native streaming (chat.startStream / appendStream / stopStream) when
 * allowed, falling back to the progressive post-then-update engine on any error — an expired
 * stream included — with the full text so far, so nothing is lost or shown twice.
 * @see https://docs.slack.dev/messaging/sending-and-scheduling-messages#text-streaming
 */
export function openSlackReply(options: OpenSlackReplyOptions): SlackReply {
  if (!options.native) return engineReply(options);
  return new NativeReply(options);
}

/**
 * A post-then-update reply. When Slack refuses edits for good mid-answer (`edit_window_closed`,
 * `cant_update_message`, `message_not_found`, `msg_too_long`), the engine holds the reply until the
 * answer is complete, then posts the whole final text afresh and deletes the stale message.
 */
function engineReply(options: OpenSlackReplyOptions, initial = ''): SlackReply {
  const reply = options.engine.open(options.target);
  if (initial) reply.append(initial);
  return {
    append: (delta) => reply.append(delta),
    async finish(text) {
      const outcome = await reply.finish(text);
      return { ts: outcome.messageIds[0], method: 'update' };
    },
    async cancel(note) {
      await reply.cancel(note);
    },
  };
}

class NativeReply implements SlackReply {
  readonly #options: OpenSlackReplyOptions;
  #text = '';
  #sent = 0;
  #ts: Promise<string> | undefined;
  #fallback: SlackReply | undefined;
  #flushing: Promise<void> | undefined;
  #lastAppend = Number.NEGATIVE_INFINITY;

  constructor(options: OpenSlackReplyOptions) {
    this.#options = options;
    const { client, target, recipientUserId } = options;
    this.#ts = client.chat
      .startStream({
        channel: target.channel,
        thread_ts: target.threadTs,
        recipient_user_id: recipientUserId,
        recipient_team_id: target.teamId,
      })
      .then((result) => String(result.ts));
    this.#ts.catch((error: unknown) => this.#fallBack(error));
  }

  append(delta: string): void {
    if (this.#fallback) {
      this.#fallback.append(delta);
      return;
    }
    this.#text += delta;
    this.#flushing ??= this.#flushSoon().finally(() => {
      this.#flushing = undefined;
      if (this.#sent < this.#text.length && !this.#fallback) this.append('');
    });
  }

  async finish(text: string): Promise<{ ts: string | undefined; method: 'native' | 'update' }> {
    await this.#flushing?.catch(() => undefined);
    if (!this.#fallback && text.startsWith(this.#text.slice(0, this.#sent))) {
      try {
        const ts = await (this.#ts as Promise<string>);
        const { client, target } = this.#options;
        await this.#call(() =>
          client.chat.stopStream({
            channel: target.channel,
            ts,
            markdown_text: text.slice(this.#sent) || undefined,
          }),
        );
        this.#sent = text.length;
        return { ts, method: 'native' };
      } catch (error) {
        this.#fallBack(error);
      }
    } else if (!this.#fallback) {
      // The final text differs from what was streamed (validation replaced it): finish it as a fresh reply.
      this.#fallBack(new Error('final text differs from the streamed text'));
    }
    return (this.#fallback as SlackReply).finish(text);
  }

  async cancel(note: string): Promise<void> {
    await this.finish(`${this.#text}${this.#text ? '\n\n' : ''}${note}`);
  }

  async #flushSoon(): Promise<void> {
    const { clock, appendIntervalMs = 1_000, client, target } = this.#options;
    const ts = await (this.#ts as Promise<string>);
    const wait = this.#lastAppend + appendIntervalMs - clock.now();
    if (wait > 0) await clock.sleep(wait);
    if (this.#fallback || this.#sent >= this.#text.length) return;
    const chunk = this.#text.slice(this.#sent);
    try {
      await this.#call(() => client.chat.appendStream({ channel: target.channel, ts, markdown_text: chunk }));
      this.#sent += chunk.length;
      this.#lastAppend = clock.now();
    } catch (error) {
      this.#fallBack(error);
    }
  }

  /** A call that waits out 429s (a few times) and surfaces anything else. */
  async #call<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        const mapped = toTransportError(error);
        if (!(mapped instanceof RateLimitedError) || attempt >= 3) throw mapped;
        await this.#options.clock.sleep(mapped.retryAfterMs);
      }
    }
  }

  #fallBack(error: unknown): void {
    if (this.#fallback) return;
    const reason = slackErrorCode(error) ?? (error as Error).message ?? String(error);
    this.#options.logger?.warn(
      { err: error, channel: this.#options.target.channel, code: reason },
      'native streaming failed; falling back to updates',
    );
    this.#options.onFallback?.(reason);
    // The partial stream message goes (stopped first: Slack refuses to touch a message that is
    // still streaming); the whole text so far is re-shown by the engine.
    const { client, target } = this.#options;
    void this.#ts
      ?.then(async (ts) => {
        await client.chat.stopStream({ channel: target.channel, ts }).catch(() => undefined);
        await client.chat.delete({ channel: target.channel, ts });
      })
      .catch(() => undefined);
    this.#fallback = engineReply(this.#options, this.#text);
  }
}
