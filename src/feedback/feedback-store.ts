import type Keyv from 'keyv';

/** A customer's verdict on one answer. */
export interface Feedback {
  platform: string;
  /** The reply's turn id. */
  turnId: string;
  userId: string;
  helpful: boolean;
  at: number;
}

/** Totals for operators and the load report. */
export interface FeedbackSummary {
  helpful: number;
  notHelpful: number;
  recent: Feedback[];
}

/**
 * Feedback on answers (the helpful / not helpful buttons), on Keyv so every instance and the
 * operators' tools read the same record. One vote per user per answer; a second click changes it.
 */
export class FeedbackStore {
  readonly #store: Keyv;
  readonly #recentLimit: number;

  constructor(options: { store: Keyv; recentLimit?: number }) {
    this.#store = options.store;
    this.#recentLimit = options.recentLimit ?? 200;
  }

  async record(feedback: Feedback): Promise<void> {
    const voteKey = `feedback:vote:${feedback.platform}:${feedback.turnId}:${feedback.userId}`;
    const previous = await this.#store.get<boolean>(voteKey);
    const summary = await this.summary();
    if (previous === true) summary.helpful--;
    if (previous === false) summary.notHelpful--;
    if (feedback.helpful) summary.helpful++;
    else summary.notHelpful++;
    summary.recent = [feedback, ...summary.recent].slice(0, this.#recentLimit);
    await this.#store.set(voteKey, feedback.helpful);
    await this.#store.set('feedback:summary', summary);
  }

  async summary(): Promise<FeedbackSummary> {
    return (
      (await this.#store.get<FeedbackSummary>('feedback:summary')) ?? {
        helpful: 0,
        notHelpful: 0,
        recent: [],
      }
    );
  }
}
