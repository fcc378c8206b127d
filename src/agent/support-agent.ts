import { randomUUID } from 'node:crypto';
import {
  type AnswerCache,
  type AnswerSource,
  answerCacheKey,
  answerCacheScope,
  type CachedAnswer,
} from '../cache/answer-cache.ts';
import type { QuestionSignature } from '../cache/near-duplicate.ts';
import { SharedStream } from '../cache/shared-stream.ts';
import type { HandoffReason, ThreadRef, ThreadStore } from '../conversation/thread-store.ts';
import { toSupportBotError } from '../errors.ts';
import type { RetrievedChunk } from '../knowledge/types.ts';
import {
  describeRefusal,
  describeWait,
  type LimitDecision,
  type UsageLimits,
} from '../limits/usage-limits.ts';
import type { AnswerModel, ConversationTurn, FinishReason, TokenUsage } from '../llm/answer-model.ts';
import { cacheableIntents, type Intent, type IntentClassifier, type IntentDecision } from '../llm/intents.ts';
import { OfflineAnswerModel } from '../llm/offline-answer-model.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { Metrics } from '../observability/metrics.ts';
import { balanceMarkdown } from '../reply/markdown.ts';
import { analyzeTerms } from '../text/analysis.ts';
import { promptGuardFor } from './prompt-guard.ts';
import type { Prompts } from './prompts.ts';
import { checkAnswer } from './validation.ts';

/** A customer's (or staff member's) message, normalised by an adapter. */
export interface IncomingMessage {
  platform: string;
  channelId: string;
  /** The thread the reply goes to; a new conversation uses its own message id. */
  threadId: string;
  messageId: string;
  userId: string;
  /** Staff writing in a thread take it over. */
  userIsStaff?: boolean;
  text: string;
}

/**
 * How the cache served a reply: `hit` the same question (after normalisation), `near` a reworded
 * one (near-duplicate), `shared` a generation already in progress for it, `miss` generated and
 * stored, `bypass` not cacheable.
 */
export type CacheStatus = 'hit' | 'near' | 'shared' | 'miss' | 'bypass';

/** A hand-off to staff, for the adapter to announce in the staff channel. */
export interface Handoff {
  reason: HandoffReason;
  summary: string;
}

/** Timings of one reply, in ms from the message's arrival. */
export interface ReplyTimings {
  classifyMs?: number;
  retrieveMs?: number;
  firstTextMs?: number;
  totalMs: number;
}

/** What the agent emits for one message, in order: start, deltas, end — or `silent`. */
export type AgentEvent =
  | {
      type: 'answer-start';
      turnId: string;
      intent: Intent;
      intentSource: IntentDecision['source'] | 'rule';
      cache: CacheStatus;
      provider: AnswerModel['kind'];
    }
  | { type: 'answer-delta'; text: string }
  | {
      type: 'answer-end';
      turnId: string;
      text: string;
      intent: Intent;
      cache: CacheStatus;
      provider: AnswerModel['kind'];
      sources: AnswerSource[];
      handoff?: Handoff;
      /** A note for the staff channel that does not hand the thread over (a customer over a limit). */
      notice?: string;
      /** For `hit`, `near` and `shared`: the question whose answer was served. */
      servedQuestion?: string;
      /** Set when the reply was given in a degraded mode (model or knowledge base down, cut stream…). */
      degraded?: string;
      timings: ReplyTimings;
      usage: TokenUsage[];
      costUsd: number;
    }
  | { type: 'silent'; reason: 'staff-owned' | 'staff-message' };

/** Where passages come from. */
export interface PassageSource {
  search(
    query: string,
    k: number,
    options?: { signal?: AbortSignal; maxChunksPerDocument?: number },
  ): Promise<RetrievedChunk[]>;
  version(): Promise<string>;
  /**
   * Whether the knowledge base uses a term (tells typos from real words for the cache); `terms`
   * (analysed as src/text's `analyzeTerms` does) are the ones about to be asked.
   */
  vocabulary?(terms?: readonly string[]): Promise<(term: string) => boolean>;
  /** Whether it answers now (a short probe); used to release threads handed off during an outage. */
  healthy?(): Promise<boolean>;
}

/** Options of {@link SupportAgent}. */
export interface SupportAgentOptions {
  tenant: string;
  /** Resolves the retriever; rejects while the knowledge base is unreachable. */
  passages: () => Promise<PassageSource>;
  classifier: IntentClassifier;
  answerModel: AnswerModel;
  prompts: Prompts;
  threads: ThreadStore;
  /** Absent: no answer cache. */
  cache?: AnswerCache;
  metrics?: Metrics;
  logger?: LoggerLike;
  /** Message limits and the model budget; absent: none. */
  limits?: UsageLimits;
  /** USD per million tokens by model. */
  prices?: Record<string, { input: number; output: number }>;
  /** @defaultValue 3 */
  topK?: number;
  /** @defaultValue 4_000 */
  maxQuestionCharacters?: number;
  /** @defaultValue 3_000 */
  maxAnswerCharacters?: number;
  now?: () => number;
  /**
   * How long a question's embedding for the near-duplicate lookup may take (a remote embedder
   * that stalls must not hold the reply): past it the lookup is skipped. @defaultValue 1_000
   */
  lookupTimeoutMs?: number;
  /** Classify, then retrieve (the replaced system's order), instead of both at once. */
  sequential?: boolean;
}

const humanRequest =
  /^\s*(?:(?:can|could|may) i\s+)?(?:please\s+)?(?:(?:talk|speak|chat)\s+(?:to|with)\s+|get\s+me\s+|connect\s+me\s+(?:to|with)\s+)?(?:a|an|the|some)?\s*(?:real\s+|live\s+)?(?:human|person|agent|operator|representative|someone)(?:\s+please)?\s*[.!?]*\s*$|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|some)?\s*(?:real\s+|live\s+)?(?:human|person|agent|operator|representative|manager|supervisor)\b/i;
const injection =
  /\b(?:ignore|disregard|forget)\b[^.?!]{0,40}\b(?:instructions|rules|prompt)\b|\b(?:system|initial|hidden)\s+prompt\b|\b(?:reveal|print|show|repeat)\b[^.?!]{0,30}\b(?:instructions|prompt|rules)\b|\bdeveloper mode\b|\bjailbreak\b/i;
const thanks = /^\s*(?:thanks?|thank\s*(?:you|u)|thx|ty|cheers|appreciate)/i;
/** Follow-ups that only make sense with the conversation before them. */
const dependsOnHistory =
  /\b(?:it|its|it's|that|this|those|these|they|them|one|ones|same|other|else|instead|also|too|then)\b|^\s*(?:and|but|or|what about|how about)\b/i;

const guidedReplies: Partial<Record<Intent, keyof Prompts['replies']>> = {
  order_status: 'orderStatus',
  order_placement: 'orderPlacement',
  refund_request: 'refundRequest',
  complaint: 'complaint',
};

/**
 * The platform-neutral brain: one message in, a streamed reply (or silence while staff own the
 * thread) out. Classification and retrieval run in parallel; policy and product questions get a
 * grounded answer from the answer model, cached and shared between identical concurrent questions;
 * order, refund and complaint messages go to staff with a summary. Every failure ends in a useful
 * reply: never silence, never a crash.
 */
export class SupportAgent {
  readonly #options: SupportAgentOptions;
  readonly #settings: {
    topK: number;
    maxQuestionCharacters: number;
    maxAnswerCharacters: number;
    now: () => number;
    lookupTimeoutMs: number;
  };
  readonly #extractive = new OfflineAnswerModel({ tokensPerSecond: 10_000, sleep: async () => {} });
  /** Generations in progress by cache key; `null` once the leader found the intent is not cacheable. */
  readonly #inFlight = new Map<string, Promise<SharedStream<AgentEvent> | null>>();
  /** The leading question of each generation in progress. */
  readonly #inFlightQuestions = new Map<string, string>();
  /** Generations just written to the cache (until their flight lands). */
  readonly #cachedKeys = new Set<string>();
  /** Threads this process handed to staff because the knowledge base was down (bounded, oldest dropped). */
  readonly #outageHandoffs = new Map<string, ThreadRef>();

  constructor(options: SupportAgentOptions) {
    this.#options = options;
    this.#settings = {
      topK: options.topK ?? 3,
      maxQuestionCharacters: options.maxQuestionCharacters ?? 4_000,
      maxAnswerCharacters: options.maxAnswerCharacters ?? 3_000,
      now: options.now ?? performance.now.bind(performance),
      lookupTimeoutMs: options.lookupTimeoutMs ?? 1_000,
    };
  }

  /** Who answers in a thread now: the bot, or staff (then the bot stays quiet). */
  async threadOwner(ref: Omit<ThreadRef, 'tenant'>): Promise<'bot' | 'staff'> {
    return (await this.#options.threads.get({ ...ref, tenant: this.#options.tenant })).owner;
  }

  /** Gives a thread back to the bot after staff took it over. */
  resume(ref: Omit<ThreadRef, 'tenant'>): Promise<void> {
    return this.#options.threads.resume({ ...ref, tenant: this.#options.tenant });
  }

  /** Hands a thread to staff (e.g. a staff reply noticed by an adapter). */
  handOff(ref: Omit<ThreadRef, 'tenant'>, reason: HandoffReason, summary: string): Promise<void> {
    this.#options.metrics?.handoffs.inc({ reason });
    return this.#options.threads.handOff({ ...ref, tenant: this.#options.tenant }, reason, summary);
  }

  /**
   * Gives back to the bot the threads this process handed to staff while the knowledge base was
   * down, unless a person has written in them since. Called when the knowledge base answers again;
   * a thread handed over by another process is released on its customer's next message.
   */
  async releaseOutageHandoffs(): Promise<number> {
    let released = 0;
    for (const [key, ref] of [...this.#outageHandoffs]) {
      this.#outageHandoffs.delete(key);
      const thread = await this.#options.threads.get(ref).catch(() => undefined);
      if (thread?.owner !== 'staff' || thread.handoff?.reason !== 'knowledge_unavailable') continue;
      if (await this.#release(ref)) released++;
    }
    if (released > 0)
      this.#options.logger?.info({ released }, 'threads handed over during the outage released');
    return released;
  }

  async #release(ref: ThreadRef): Promise<boolean> {
    this.#outageHandoffs.delete(threadKey(ref));
    this.#options.metrics?.handoffsReleased.inc({ reason: 'knowledge_unavailable' });
    return this.#options.threads.resume(ref).then(
      () => true,
      (error: unknown) => {
        this.#options.logger?.warn(
          { err: toSupportBotError(error) },
          'outage hand-off could not be released',
        );
        return false;
      },
    );
  }

  async #knowledgeAnswers(): Promise<boolean> {
    try {
      const source = await this.#options.passages();
      return source.healthy ? await source.healthy() : true;
    } catch {
      return false;
    }
  }

  /** Answers one message. Always ends with `answer-end` or a single `silent`. */
  async *handle(
    message: IncomingMessage,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<AgentEvent> {
    const started = this.#settings.now();
    const turn = new Turn(randomUUID(), started, this.#settings.now, this.#options.answerModel.kind);
    const ref: ThreadRef = {
      tenant: this.#options.tenant,
      platform: message.platform,
      threadId: message.threadId,
    };
    const logger = this.#options.logger;
    try {
      const thread = await this.#options.threads.get(ref);
      const outage = thread.owner === 'staff' && thread.handoff?.reason === 'knowledge_unavailable';
      if (message.userIsStaff) {
        // A person writing in a thread the outage handed over takes it: it is no longer released.
        if (thread.owner !== 'staff' || outage) {
          await this.handOff(ref, 'staff_replied', `Staff member ${message.userId} replied.`);
          this.#outageHandoffs.delete(threadKey(ref));
        }
        yield { type: 'silent', reason: 'staff-message' };
        return;
      }
      if (outage && (await this.#knowledgeAnswers())) {
        // Handed over only because the knowledge base was down, and nobody took it: it is back.
        await this.#release(ref);
      } else if (thread.owner === 'staff') {
        yield { type: 'silent', reason: 'staff-owned' };
        return;
      }
      const limit = await this.#options.limits?.admit(message);
      if (limit && !limit.allowed) {
        yield* this.#limitedReply(message, limit, turn);
        return;
      }
      yield* this.#reply(message, ref, thread.history, turn, options.signal);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      // Last line of defence: whatever broke, the customer hears from us and staff are told.
      const wrapped = toSupportBotError(error);
      logger?.error({ turnId: turn.id, err: wrapped }, 'reply failed');
      yield* turn.fixed(this.#options.prompts.replies.failure, 'other', 'rule', {
        handoff: await this.#handOffSafely(ref, 'failure', summarize(message, 'other', wrapped.message)),
        degraded: 'failure',
      });
    }
  }

  async *#reply(
    message: IncomingMessage,
    ref: ThreadRef,
    history: ConversationTurn[],
    turn: Turn,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<AgentEvent> {
    const { prompts, metrics } = this.#options;
    const { replies } = prompts;
    let question = message.text.trim();
    if (question.replace(/[\p{M}\p{Cf}\s]/gu, '') === '') {
      metrics?.messages.inc({ intent: 'other', route: 'empty' });
      yield* turn.fixed(replies.empty, 'other', 'rule');
      return;
    }
    let note = '';
    if (question.length > this.#settings.maxQuestionCharacters) {
      question = question.slice(0, this.#settings.maxQuestionCharacters);
      note = `\n\n${replies.truncated.replace('{limit}', String(this.#settings.maxQuestionCharacters))}`;
    }

    if (humanRequest.test(question)) {
      const handoff = await this.#handOffSafely(
        ref,
        'requested',
        summarize(message, 'complaint', 'Customer asked for a person.'),
      );
      metrics?.messages.inc({ intent: 'complaint', route: 'handoff' });
      yield* turn.fixed(replies.humanRequested + note, 'complaint', 'rule', { handoff });
      await this.#remember(ref, question, replies.humanRequested);
      return;
    }
    if (injection.test(question)) {
      metrics?.messages.inc({ intent: 'other', route: 'refused' });
      yield* turn.fixed(replies.refusal + note, 'other', 'rule');
      return;
    }

    const standalone = history.length === 0 || !dependsOnHistory.test(question);
    const cache = this.#options.cache;
    const slot = cache && standalone && note === '' ? await this.#cacheSlot(question) : undefined;
    let cacheKey = slot?.key;
    let lead: ((stream: SharedStream<AgentEvent> | null) => void) | undefined;
    if (cache && slot && cacheKey) {
      let servingKey = cacheKey;
      let status: CacheStatus = 'hit';
      let cached = await cache.get(cacheKey).catch(() => undefined);
      const near = cache.nearDuplicates;
      let signature: QuestionSignature | undefined;
      if (!cached && !this.#inFlight.has(cacheKey) && near) {
        // A reworded question already answered (or being answered) serves this one.
        signature = await within(near.signature(question), this.#settings.lookupTimeoutMs);
        const found = signature ? near.find(slot.scope, signature, slot.knows) : undefined;
        if (found) {
          cached = await cache.get(found.key).catch(() => undefined);
          if (cached || this.#inFlight.has(found.key)) {
            servingKey = found.key;
            status = 'near';
          } else near.remove(slot.scope, found.key);
        }
      }
      if (cached) {
        metrics?.cache.inc({ result: status });
        metrics?.messages.inc({ intent: cached.intent, route: 'answer' });
        yield* turn.cached(cached, status);
        await this.#remember(ref, question, cached.text);
        return;
      }
      // Single-flight: the first of several identical (or reworded) questions leads; the others
      // follow its generation, or go their own way once it turns out not to be cacheable.
      const pending = this.#inFlight.get(servingKey);
      if (pending) {
        const shared = await pending;
        if (shared) {
          metrics?.cache.inc({ result: 'shared' });
          yield* turn.follow(shared, signal, this.#inFlightQuestions.get(servingKey));
          return;
        }
        cacheKey = undefined;
      } else {
        const key = cacheKey;
        this.#inFlightQuestions.set(key, question);
        if (near && signature) near.add(slot.scope, key, question, signature);
        this.#inFlight.set(
          key,
          new Promise((resolve) => {
            let cleaned = false;
            lead = (stream) => {
              // The clean-up runs once: a second call must not touch the flight of a question asked since.
              if (!stream && !cleaned) {
                cleaned = true;
                this.#inFlight.delete(key);
                this.#inFlightQuestions.delete(key);
                // Not cached after all (not cacheable, or degraded): nothing to match against.
                if (!this.#cachedKeys.delete(key)) near?.remove(slot.scope, key);
              }
              resolve(stream);
            };
          }),
        );
      }
    }
    try {
      yield* this.#route(message, ref, history, question, note, cacheKey, lead, turn, signal);
    } finally {
      lead?.(null);
    }
  }

  async *#route(
    message: IncomingMessage,
    ref: ThreadRef,
    history: ConversationTurn[],
    question: string,
    note: string,
    cacheKey: string | undefined,
    lead: ((stream: SharedStream<AgentEvent> | null) => void) | undefined,
    turn: Turn,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<AgentEvent> {
    const { prompts, metrics } = this.#options;
    const { replies } = prompts;
    // Classification and retrieval in parallel; retrieval is speculative and unused for some intents.
    const classifyStarted = this.#settings.now();
    const classification = this.#options.classifier
      .classify(question, signal ? { signal } : {})
      .then((decision) => {
        turn.timings.classifyMs = this.#settings.now() - classifyStarted;
        return decision;
      });
    // A generation others may follow is not tied to its first asker: one who leaves must not
    // fail the rest (the search is bounded by the knowledge base's own deadline).
    const retrievalSignal = cacheKey ? undefined : signal;
    const retrieve = () =>
      this.#options
        .passages()
        .then((source) => this.#search(source, question, retrievalSignal))
        .then(
          (passages) => {
            turn.timings.retrieveMs = this.#settings.now() - classifyStarted;
            return { passages, error: undefined };
          },
          (error: unknown) => ({ passages: [] as RetrievedChunk[], error: toSupportBotError(error) }),
        );
    // The baseline pipeline (load comparisons) waits for the classification first, as the old system did.
    let retrieval = this.#options.sequential ? undefined : retrieve();
    const decision = await classification;
    if (this.#options.sequential) retrieval = retrieve();
    metrics?.classification.inc({ path: decision.source });
    if (decision.fallback) metrics?.classifierFallbacks.inc({ reason: decision.fallback });
    const intent = decision.intent;

    if (intent === 'greeting' || intent === 'other') {
      const text =
        intent === 'other' ? replies.other : thanks.test(question) ? replies.thanks : replies.greeting;
      metrics?.messages.inc({ intent, route: 'reply' });
      yield* turn.fixed(text + note, intent, decision.source);
      await this.#remember(ref, question, text);
      return;
    }
    const guided = guidedReplies[intent];
    if (guided) {
      const handoff = await this.#handOffSafely(ref, intent as HandoffReason, summarize(message, intent));
      metrics?.messages.inc({ intent, route: 'handoff' });
      yield* turn.fixed(replies[guided] + note, intent, decision.source, { handoff });
      await this.#remember(ref, question, replies[guided]);
      return;
    }

    // policy_question or product_inquiry: a grounded answer, shared with identical questions.
    metrics?.messages.inc({ intent, route: 'answer' });
    const answer = async function* (
      this: SupportAgent,
      answerSignal: AbortSignal | undefined,
      share?: () => void,
    ) {
      const { passages, error } = await (retrieval ?? retrieve());
      if (error) {
        // Not shared: whoever asked the same question meanwhile gets a reply and hand-off of their own.
        lead?.(null);
        this.#options.logger?.warn({ turnId: turn.id, err: error }, 'retrieval failed; handing off');
        metrics?.degraded.inc({ reason: 'knowledge_unavailable' });
        const handoff = await this.#handOffSafely(
          ref,
          'knowledge_unavailable',
          summarize(message, intent, error.message),
        );
        this.#rememberOutage(ref);
        yield* turn.fixed(replies.knowledgeDown + note, intent, decision.source, {
          handoff,
          degraded: 'knowledge_unavailable',
        });
        return;
      }
      share?.();
      yield* this.#generate(
        question,
        passages,
        history,
        intent,
        decision.source,
        turn,
        note,
        answerSignal,
        ref,
      );
    }.bind(this);

    if (!cacheKey || !lead || !cacheableIntents.has(intent)) {
      metrics?.cache.inc({ result: 'bypass' });
      yield* answer(signal);
      return;
    }
    metrics?.cache.inc({ result: 'miss' });
    const shared = new SharedStream<AgentEvent>();
    const follow = lead;
    let end: (AgentEvent & { type: 'answer-end' }) | undefined;
    try {
      // Shared once the passages are in; not tied to this customer's signal: others may follow it.
      for await (const event of answer(undefined, () => follow(shared))) {
        shared.push(event);
        if (event.type === 'answer-end') end = event;
        if (!signal?.aborted) yield event;
      }
      shared.end();
      if (end && !end.degraded) {
        const cached: CachedAnswer = {
          question,
          text: end.text,
          intent,
          sources: end.sources,
          model: this.#options.answerModel.id,
          createdAt: Date.now(),
        };
        // Written before the flight lands, so no identical question slips between the two.
        this.#cachedKeys.add(cacheKey);
        await this.#options.cache?.set(cacheKey, cached).catch((error: unknown) => {
          this.#options.logger?.warn(
            { turnId: turn.id, err: toSupportBotError(error) },
            'answer cache write failed',
          );
        });
      }
    } catch (error) {
      shared.end(error);
      throw error;
    } finally {
      this.#inFlight.delete(cacheKey);
      this.#inFlightQuestions.delete(cacheKey);
    }
  }

  async *#generate(
    question: string,
    passages: RetrievedChunk[],
    history: ConversationTurn[],
    intent: Intent,
    intentSource: IntentDecision['source'],
    turn: Turn,
    note: string,
    signal: AbortSignal | undefined,
    ref: ThreadRef,
  ): AsyncGenerator<AgentEvent> {
    const { answerModel, prompts, metrics, logger } = this.#options;
    const { replies } = prompts;
    const sources = toSources(passages);
    if (await this.#options.limits?.overBudget()) {
      yield* this.#budgetAnswer(question, passages, intent, intentSource, turn, note, ref);
      return;
    }
    yield turn.start(intent, intentSource, 'miss');
    const guard = promptGuardFor(prompts.systemPrompt, Object.values(replies).join(' '));
    let text = '';
    // Text before `released` has passed the leak check and reached the customer; the rest waits.
    let released = 0;
    let checked = 0;
    // Model text arrived (whether shown yet or still held back).
    let shown = false;
    let degraded: string | undefined;
    // Stays undefined when the stream gave no end event at all; `null` when it ended without a reason.
    let finishReason: FinishReason | null | undefined;
    const usage: TokenUsage[] = [];
    try {
      for await (const event of answerModel.streamAnswer({
        systemPrompt: guard.prompt,
        question,
        passages,
        history,
        ...(signal ? { signal } : {}),
      })) {
        if (event.type === 'end') {
          if (event.usage) usage.push(event.usage);
          finishReason = event.finishReason;
          continue;
        }
        if (text.length + event.text.length > this.#settings.maxAnswerCharacters) {
          degraded = 'too_long';
          break;
        }
        text += event.text;
        shown ||= text.trim() !== '';
        // The last words wait: a leak is recognised a few words in, before any of it is shown.
        const ready = releasable(text, released);
        if (ready === released || text.slice(0, ready).trim() === '') continue;
        if (guard.leaks(text, checked)) {
          degraded = 'prompt_leak';
          break;
        }
        checked = text.length;
        turn.markFirstText();
        yield { type: 'answer-delta', text: text.slice(released, ready) };
        released = ready;
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      const wrapped = toSupportBotError(error);
      logger?.warn({ turnId: turn.id, err: wrapped, afterText: shown }, 'answer model failed');
      degraded = shown ? 'model_interrupted' : 'model_unavailable';
    }
    if (!degraded && finishReason !== 'stop') {
      // Only `stop` is a whole answer; anything else must not read (or be cached) as one.
      logger?.warn(
        { turnId: turn.id, finishReason: finishReason ?? null, afterText: shown },
        'answer not finished',
      );
      degraded = unfinished(finishReason ?? null, shown);
    }
    // The held-back words were never checked while streaming: nothing reaches the customer unchecked.
    if (degraded !== 'prompt_leak' && guard.leaks(text, checked)) degraded = 'prompt_leak';

    let finalText = balanceMarkdown(text);
    if (degraded === 'model_unavailable') {
      // Model down before any text: the extractive answer from the same passages, and a person on offer.
      finalText = `${replies.modelDown}\n\n${this.#extractive.compose(question, passages)}\n\n${replies.offerHuman}`;
    } else if (degraded === 'model_interrupted') {
      finalText = `${finalText}\n\n${replies.interrupted}`;
    } else if (degraded === 'prompt_leak') {
      finalText = replies.refusal;
    } else if (degraded === 'too_long') {
      finalText = `${balanceMarkdown(cutAtSentence(text))}\n\n${replies.offerHuman}`;
    } else if (degraded === 'cut_length') {
      finalText = `${balanceMarkdown(lastWholeSentences(text))}\n\n${replies.cutLength}`;
    } else if (degraded === 'content_filter') {
      // Withheld half-text is not an answer: the customer keeps only this line.
      finalText = replies.contentFiltered;
    } else {
      const verdict = checkAnswer(text, passages);
      if (!verdict.ok) {
        degraded = `invalid_${verdict.reason}`;
        finalText = `${this.#extractive.compose(question, passages)}\n\n${replies.offerHuman}`;
      } else if (verdict.admitsNotKnowing && !verdict.offersPerson) {
        // An honest "I don't know" is an answer; the customer still needs a way forward.
        finalText += `\n\n${replies.offerHuman}`;
      }
    }
    if (degraded) metrics?.degraded.inc({ reason: degraded });
    finalText += note;
    turn.markFirstText();
    // Deltas may have been held back, cut short or replaced: the end event carries the text the customer keeps.
    const streamed = text.slice(0, released);
    if (finalText.startsWith(streamed)) {
      if (finalText.length > streamed.length)
        yield { type: 'answer-delta', text: finalText.slice(streamed.length) };
    } else if (degraded === undefined && released < text.length) {
      // Balancing dropped markup already shown: a client that only appends gets the rest as written.
      yield { type: 'answer-delta', text: text.slice(released) };
    }
    for (const entry of usage) this.#recordUsage(entry, turn);
    yield turn.end(finalText, intent, 'miss', {
      sources,
      usage,
      ...(degraded ? { degraded } : {}),
    });
    await this.#remember(ref, question, finalText);
  }

  /**
   * The top-k passages, one per document, as the answer model's prompt gets them. The extractive
   * provider reads more of each of those documents: it cannot infer what a nearby chunk says.
   */
  async #search(
    source: PassageSource,
    question: string,
    signal: AbortSignal | undefined,
  ): Promise<RetrievedChunk[]> {
    const { topK } = this.#settings;
    if (this.#options.answerModel.kind !== 'offline')
      return source.search(question, topK, signal ? { signal } : {});
    // Four passages of each page: a help-center page is mostly four or five headed sections.
    const wide = await source.search(question, topK * 4, {
      ...(signal ? { signal } : {}),
      maxChunksPerDocument: 4,
    });
    const documents = [...new Set(wide.map((chunk) => chunk.documentId))].slice(0, topK);
    return wide.filter((chunk) => documents.includes(chunk.documentId));
  }

  /** The answer's cache key, its scope (everything but the question) and the KB's vocabulary. */
  async #cacheSlot(
    question: string,
  ): Promise<{ key: string; scope: string; knows?: (term: string) => boolean } | undefined> {
    try {
      const source = await this.#options.passages();
      const parts = {
        tenant: this.#options.tenant,
        question,
        knowledgeBaseVersion: await source.version(),
        promptVersion: this.#options.prompts.version,
        model: this.#options.answerModel.id,
      };
      const knows = this.#options.cache?.nearDuplicates
        ? await source.vocabulary?.(analyzeTerms(question))
        : undefined;
      return { key: answerCacheKey(parts), scope: answerCacheScope(parts), ...(knows ? { knows } : {}) };
    } catch {
      return undefined;
    }
  }

  /** A message over a limit: a polite reply and no model call; staff hear of it once per window. */
  *#limitedReply(
    message: IncomingMessage,
    limit: Extract<LimitDecision, { allowed: false }>,
    turn: Turn,
  ): Generator<AgentEvent> {
    const { prompts, metrics, logger } = this.#options;
    const reply = {
      user: 'limitedUser',
      conversation: 'limitedConversation',
      tenant: 'limitedTenant',
    } as const;
    const text = prompts.replies[reply[limit.scope]].replace('{wait}', describeWait(limit.retryAfterMs));
    metrics?.messages.inc({ intent: 'other', route: 'limited' });
    logger?.info(
      { turnId: turn.id, scope: limit.scope, retryAfterMs: limit.retryAfterMs },
      'message over a limit',
    );
    yield* turn.fixed(text, 'other', 'rule', {
      degraded: `limited_${limit.scope}`,
      ...(limit.notifyStaff ? { notice: describeRefusal(limit, message) } : {}),
    });
  }

  /** Over the hourly model budget: the extractive answer from the same passages, no strong model. */
  async *#budgetAnswer(
    question: string,
    passages: RetrievedChunk[],
    intent: Intent,
    intentSource: IntentDecision['source'],
    turn: Turn,
    note: string,
    ref: ThreadRef,
  ): AsyncGenerator<AgentEvent> {
    const { replies } = this.#options.prompts;
    const text = `${replies.overBudget}\n\n${this.#extractive.compose(question, passages)}\n\n${replies.offerHuman}${note}`;
    this.#options.metrics?.degraded.inc({ reason: 'budget' });
    yield turn.start(intent, intentSource, 'miss');
    turn.markFirstText();
    yield { type: 'answer-delta', text };
    yield turn.end(text, intent, 'miss', { sources: toSources(passages), degraded: 'budget' });
    await this.#remember(ref, question, text);
  }

  #recordUsage(usage: TokenUsage, turn: Turn): void {
    const price = this.#options.prices?.[usage.model];
    const cost = price ? (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1e6 : 0;
    turn.costUsd += cost;
    void this.#options.limits?.recordSpend(cost);
    const metrics = this.#options.metrics;
    metrics?.tokens.inc({ model: usage.model, kind: 'prompt' }, usage.promptTokens);
    metrics?.tokens.inc({ model: usage.model, kind: 'completion' }, usage.completionTokens);
    if (cost > 0) metrics?.costUsd.inc({ model: usage.model }, cost);
  }

  async #remember(ref: ThreadRef, question: string, answer: string): Promise<void> {
    await this.#options.threads.appendTurn(ref, { question, answer }).catch((error: unknown) => {
      this.#options.logger?.warn({ err: toSupportBotError(error) }, 'thread history write failed');
    });
  }

  #rememberOutage(ref: ThreadRef): void {
    const key = threadKey(ref);
    this.#outageHandoffs.delete(key);
    this.#outageHandoffs.set(key, ref);
    if (this.#outageHandoffs.size > 10_000) {
      const oldest = this.#outageHandoffs.keys().next().value;
      if (oldest !== undefined) this.#outageHandoffs.delete(oldest);
    }
  }

  async #handOffSafely(ref: ThreadRef, reason: HandoffReason, summary: string): Promise<Handoff> {
    this.#options.metrics?.handoffs.inc({ reason });
    await this.#options.threads.handOff(ref, reason, summary).catch((error: unknown) => {
      this.#options.logger?.error({ err: toSupportBotError(error) }, 'hand-off could not be recorded');
    });
    return { reason, summary };
  }
}

/** One reply in the making: its id, timings and cost, and the events that frame it. */
class Turn {
  readonly timings: Omit<ReplyTimings, 'totalMs'> = {};
  costUsd = 0;

  constructor(
    readonly id: string,
    readonly started: number,
    readonly now: () => number,
    readonly provider: AnswerModel['kind'],
  ) {}

  start(intent: Intent, intentSource: IntentDecision['source'] | 'rule', cache: CacheStatus): AgentEvent {
    return { type: 'answer-start', turnId: this.id, intent, intentSource, cache, provider: this.provider };
  }

  markFirstText(): void {
    this.timings.firstTextMs ??= this.now() - this.started;
  }

  end(
    text: string,
    intent: Intent,
    cache: CacheStatus,
    extra: {
      sources?: AnswerSource[];
      usage?: TokenUsage[];
      handoff?: Handoff;
      notice?: string;
      degraded?: string;
    } = {},
  ): AgentEvent {
    return {
      type: 'answer-end',
      turnId: this.id,
      text,
      intent,
      cache,
      provider: this.provider,
      sources: extra.sources ?? [],
      ...(extra.handoff ? { handoff: extra.handoff } : {}),
      ...(extra.notice ? { notice: extra.notice } : {}),
      ...(extra.degraded ? { degraded: extra.degraded } : {}),
      timings: { ...this.timings, totalMs: this.now() - this.started },
      usage: extra.usage ?? [],
      costUsd: this.costUsd,
    };
  }

  *fixed(
    text: string,
    intent: Intent,
    source: IntentDecision['source'] | 'rule',
    extra: { handoff?: Handoff; notice?: string; degraded?: string } = {},
  ): Generator<AgentEvent> {
    yield this.start(intent, source, 'bypass');
    this.markFirstText();
    yield { type: 'answer-delta', text };
    yield this.end(text, intent, 'bypass', extra);
  }

  *cached(answer: CachedAnswer, cache: CacheStatus): Generator<AgentEvent> {
    yield this.start(answer.intent, 'rule', cache);
    this.markFirstText();
    yield { type: 'answer-delta', text: answer.text };
    yield {
      ...this.end(answer.text, answer.intent, cache, { sources: answer.sources }),
      ...(answer.question ? { servedQuestion: answer.question } : {}),
    } as AgentEvent;
  }

  /** Replays a generation in progress (single-flight), as this turn's own reply. */
  async *follow(
    shared: SharedStream<AgentEvent>,
    signal: AbortSignal | undefined,
    servedQuestion?: string,
  ): AsyncGenerator<AgentEvent> {
    for await (const event of shared.read(signal)) {
      if (event.type === 'answer-start') yield { ...event, turnId: this.id, cache: 'shared' };
      else if (event.type === 'answer-delta') {
        this.markFirstText();
        yield event;
      } else if (event.type === 'answer-end') {
        yield {
          ...event,
          turnId: this.id,
          cache: 'shared',
          ...(servedQuestion ? { servedQuestion } : {}),
          // The tokens were paid once, by the generating turn.
          usage: [],
          costUsd: 0,
          timings: { ...this.timings, totalMs: this.now() - this.started },
        };
      }
    }
  }
}

/** The promise's value, or `undefined` when it fails or takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function threadKey(ref: ThreadRef): string {
  return `${ref.tenant}\u0000${ref.platform}\u0000${ref.threadId}`;
}

function toSources(passages: readonly RetrievedChunk[]): AnswerSource[] {
  const seen = new Map<string, AnswerSource>();
  for (const passage of passages) {
    if (!seen.has(passage.documentId)) {
      seen.set(passage.documentId, {
        documentId: passage.documentId,
        title: passage.title,
        ...(passage.url ? { url: passage.url } : {}),
      });
    }
  }
  return [...seen.values()];
}

function summarize(message: IncomingMessage, intent: Intent, detail?: string): string {
  const text = message.text.trim().replace(/\s+/g, ' ');
  const excerpt = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return [`${intent.replace('_', ' ')} from ${message.userId} in ${message.platform}`, `"${excerpt}"`, detail]
    .filter(Boolean)
    .join(' — ');
}

/**
 * The degraded reason for an answer whose stream did not end with `stop`: `cut_length` (the token
 * limit), `content_filter`, `model_interrupted` (no reason given, or a tool call we never offered),
 * or `model_unavailable` when nothing usable arrived before it ended.
 */
function unfinished(finishReason: Exclude<FinishReason, 'stop'> | null, shown: boolean): string {
  if (finishReason === 'content_filter') return 'content_filter';
  if (!shown) return 'model_unavailable';
  return finishReason === 'length' ? 'cut_length' : 'model_interrupted';
}

/**
 * The text up to its last complete sentence (with any citation or closing mark after the stop),
 * else up to its last complete line, else all of it with an ellipsis.
 */
function lastWholeSentences(text: string): string {
  const sentenceEnd = /[.!?](?:\*\*|["')\]]|\s*\[\d+\])*(?=\s|$)/g;
  let cut = -1;
  for (const match of text.matchAll(sentenceEnd)) cut = match.index + match[0].length;
  const lineEnd = text.trimEnd().lastIndexOf('\n');
  const end = Math.max(cut, lineEnd);
  return end > 0 ? text.slice(0, end).trimEnd() : `${text.trimEnd()}…`;
}

function cutAtSentence(text: string): string {
  const cut = text.search(/[.!?][^.!?]*$/);
  return cut > text.length / 2 ? text.slice(0, cut + 1) : `${text.trimEnd()}…`;
}

/** Words of a streamed answer held back until more follows: a leak is recognised within them. */
const heldWords = 8;
/** After the first text, it is released a few words at a time, so the leak check runs every few words. */
const releaseStep = 3;

/**
 * How far a growing answer may be shown: up to the last {@link heldWords} words (a word here has
 * two letters or digits at least, so text spelled out letter by letter is held whole), in steps of
 * {@link releaseStep} words once the first text is out; `released` when that is no further.
 */
function releasable(text: string, released: number): number {
  const starts: number[] = [];
  for (const word of text.slice(released).matchAll(/\s*\S+/g))
    if (/[\p{L}\p{N}]\S*[\p{L}\p{N}]/u.test(word[0])) starts.push(released + word.index);
  const free = starts.length - heldWords;
  if (free < (released === 0 ? 1 : releaseStep)) return released;
  return starts[free] as number;
}
