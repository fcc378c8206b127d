import { toDiscordMarkdown, toSlackMrkdwn } from '../../src/reply/markdown.ts';
import {
  type BudgetScope,
  RateLimitedError,
  type ReplyOperation,
  type ReplyTransport,
  TransportError,
} from '../../src/reply/transport.ts';
import type { SimulatedClock } from './simulated-clock.ts';

/** Where a reply goes in the fake. */
export interface FakeTarget {
  workspace: string;
  channel: string;
}

/** One call the fake received. */
export interface FakeCall {
  operation: ReplyOperation | 'delete';
  channel: string;
  messageId?: string;
  text?: string;
  at: number;
  scopes: BudgetScope[];
  outcome: FakeFault;
}

/** A scripted failure for the next call: `refused` will not pass (e.g. Slack's edit_window_closed). */
export type FakeFault = 'ok' | '429' | 'error' | 'refused';

/** Limits like Slack's: chat.postMessage ~1/s per channel, chat.update Tier 3 ~50/min per workspace. */
export function slackScopes(target: FakeTarget, operation: ReplyOperation): BudgetScope[] {
  if (operation === 'post')
    return [{ key: `slack:${target.workspace}:${target.channel}:post`, limit: 1, windowMs: 1_000 }];
  if (operation === 'edit') return [{ key: `slack:${target.workspace}:update`, limit: 50, windowMs: 60_000 }];
  return [{ key: `slack:${target.workspace}:${target.channel}:status`, limit: 20, windowMs: 60_000 }];
}

/** Limits like Discord's: about 5 per 5 s per channel, 50 per second overall. */
export function discordScopes(target: FakeTarget, operation: ReplyOperation): BudgetScope[] {
  // Typing has its own route, and so its own bucket.
  if (operation === 'status') return [{ key: `discord:typing:${target.channel}`, limit: 5, windowMs: 5_000 }];
  return [
    { key: `discord:channel:${target.channel}`, limit: 5, windowMs: 5_000 },
    { key: 'discord:global', limit: 50, windowMs: 1_000 },
  ];
}

/**
 * A platform stand-in for the reply engine's tests: keeps messages, logs every call with the
 * simulated time, and fails calls on a script (429 with Retry-After, or an error).
 */
export class FakeReplyTransport implements ReplyTransport<FakeTarget> {
  readonly maxMessageLength: number;
  readonly calls: FakeCall[] = [];
  readonly messages = new Map<string, string>();
  readonly #clock: SimulatedClock;
  readonly #scopes: (target: FakeTarget, operation: ReplyOperation) => BudgetScope[];
  readonly #render: (markdown: string) => string;
  #faults: FakeFault[];
  #nextId = 1;
  /** Fails every call when true (after the script). */
  alwaysFail = false;
  retryAfterMs = 2_000;
  /**
   * Which scopes a scripted 429 names: `operation` (unnamed: every scope of the call, as a limit
   * of unknown scope), or `first` (the call's first scope only, as a per-channel limit does).
   */
  limitScope: 'operation' | 'first' = 'operation';

  constructor(options: {
    clock: SimulatedClock;
    platform: 'slack' | 'discord' | 'plain';
    maxMessageLength?: number;
    faults?: FakeFault[];
  }) {
    this.#clock = options.clock;
    this.#scopes = options.platform === 'discord' ? discordScopes : slackScopes;
    this.#render =
      options.platform === 'slack'
        ? toSlackMrkdwn
        : options.platform === 'discord'
          ? toDiscordMarkdown
          : (text) => text;
    this.maxMessageLength = options.maxMessageLength ?? (options.platform === 'discord' ? 2_000 : 4_000);
    this.#faults = [...(options.faults ?? [])];
  }

  /** Scripts the outcomes of the next calls. */
  script(faults: FakeFault[]): void {
    this.#faults.push(...faults);
  }

  render(markdown: string): string {
    return this.#render(markdown);
  }

  scopes(target: FakeTarget, operation: ReplyOperation): BudgetScope[] {
    return this.#scopes(target, operation);
  }

  async postMessage(target: FakeTarget, text: string): Promise<string> {
    this.#call('post', target, undefined, text);
    const id = `m${this.#nextId++}`;
    this.messages.set(id, text);
    this.calls[this.calls.length - 1] = { ...(this.calls.at(-1) as FakeCall), messageId: id };
    return id;
  }

  async editMessage(target: FakeTarget, messageId: string, text: string): Promise<void> {
    if (!this.messages.has(messageId))
      throw new TransportError(`unknown message ${messageId}`, { retryable: false });
    this.#call('edit', target, messageId, text);
    this.messages.set(messageId, text);
  }

  async showStatus(target: FakeTarget): Promise<void> {
    this.#call('status', target);
  }

  async deleteMessage(target: FakeTarget, messageId: string): Promise<void> {
    this.#call('delete', target, messageId);
    this.messages.delete(messageId);
  }

  /** Scope keys whose sliding window ever held more calls than its limit. */
  violations(): string[] {
    const byKey = new Map<string, { scope: BudgetScope; times: number[] }>();
    for (const call of this.calls) {
      for (const scope of call.scopes) {
        const entry = byKey.get(scope.key) ?? { scope, times: [] };
        entry.times.push(call.at);
        byKey.set(scope.key, entry);
      }
    }
    const violated: string[] = [];
    for (const [key, { scope, times }] of byKey) {
      for (let index = scope.limit; index < times.length; index++) {
        // limit + 1 calls within (t - window, t] is one too many.
        if ((times[index] as number) - (times[index - scope.limit] as number) < scope.windowMs) {
          violated.push(key);
          break;
        }
      }
    }
    return violated;
  }

  #call(operation: FakeCall['operation'], target: FakeTarget, messageId?: string, text?: string): void {
    const fault = this.#faults.shift() ?? (this.alwaysFail ? 'error' : 'ok');
    const scopes = operation === 'delete' ? [] : this.#scopes(target, operation);
    this.calls.push({
      operation,
      channel: target.channel,
      ...(messageId ? { messageId } : {}),
      ...(text !== undefined ? { text } : {}),
      at: this.#clock.now(),
      scopes,
      outcome: fault,
    });
    if (fault === '429')
      throw new RateLimitedError(this.retryAfterMs, undefined, {
        ...(this.limitScope === 'first' && scopes[0] ? { scopeKeys: [scopes[0].key] } : {}),
      });
    if (fault === 'error') throw new TransportError('platform error', { retryable: true });
    if (fault === 'refused') throw new TransportError('edit refused for good', { retryable: false });
  }
}
