import type Keyv from 'keyv';
import type { ConversationTurn } from '../llm/answer-model.ts';

/** Identifies a conversation thread across platforms. */
export interface ThreadRef {
  tenant: string;
  platform: string;
  threadId: string;
}

/** Why a thread went to staff. */
export type HandoffReason =
  | 'complaint'
  | 'order_status'
  | 'order_placement'
  | 'refund_request'
  | 'requested'
  | 'staff_replied'
  | 'knowledge_unavailable'
  | 'failure';

/** The state of a thread. */
export interface ThreadState {
  /** `staff`: a person handles the thread and the bot stays quiet. */
  owner: 'bot' | 'staff';
  history: ConversationTurn[];
  handoff?: { reason: HandoffReason; summary: string; at: number };
}

/** Options of {@link ThreadStore}. */
export interface ThreadStoreOptions {
  store: Keyv;
  /** Turns kept per thread. @defaultValue 3 */
  historyTurns?: number;
  /** How long an idle thread is remembered. @defaultValue 7 days */
  ttlMs?: number;
  now?: () => number;
}

/**
 * History (the last few turns) and ownership of each thread, on Keyv so several instances share them.
 */
export class ThreadStore {
  readonly #store: Keyv;
  readonly #historyTurns: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: ThreadStoreOptions) {
    this.#store = options.store;
    this.#historyTurns = options.historyTurns ?? 3;
    this.#ttlMs = options.ttlMs ?? 7 * 24 * 3_600_000;
    this.#now = options.now ?? Date.now;
  }

  async get(ref: ThreadRef): Promise<ThreadState> {
    return (await this.#store.get<ThreadState>(key(ref))) ?? { owner: 'bot', history: [] };
  }

  /** Adds a turn, keeping only the most recent ones. */
  async appendTurn(ref: ThreadRef, turn: ConversationTurn): Promise<void> {
    const state = await this.get(ref);
    state.history = [...state.history, turn].slice(-this.#historyTurns);
    await this.#store.set(key(ref), state, this.#ttlMs);
  }

  /** Gives the thread to staff: the bot stays quiet there until {@link resume}. */
  async handOff(ref: ThreadRef, reason: HandoffReason, summary: string): Promise<void> {
    const state = await this.get(ref);
    state.owner = 'staff';
    state.handoff = { reason, summary, at: this.#now() };
    await this.#store.set(key(ref), state, this.#ttlMs);
  }

  /** Gives the thread back to the bot. */
  async resume(ref: ThreadRef): Promise<void> {
    const state = await this.get(ref);
    state.owner = 'bot';
    delete state.handoff;
    await this.#store.set(key(ref), state, this.#ttlMs);
  }
}

function key(ref: ThreadRef): string {
  return `thread:${ref.tenant}:${ref.platform}:${ref.threadId}`;
}
