import { createHash } from 'node:crypto';
import type Keyv from 'keyv';
import type { Intent } from '../llm/intents.ts';
import { normalizeText } from '../text/analysis.ts';
import type { NearDuplicateIndex } from './near-duplicate.ts';

/** A source cited by an answer. */
export interface AnswerSource {
  documentId: string;
  title: string;
  url?: string;
}

/** A reusable answer. */
export interface CachedAnswer {
  /** The question it was written for. */
  question?: string;
  text: string;
  intent: Intent;
  sources: AnswerSource[];
  model: string;
  createdAt: number;
}

/** What an answer cache key covers: a change to any part makes a new key. */
export interface AnswerKeyParts {
  tenant: string;
  question: string;
  knowledgeBaseVersion: string;
  promptVersion: string;
  model: string;
}

/**
 * Questions that differ only in case, punctuation, spacing, accents or a trailing courtesy share one
 * cache entry.
 */
export function normalizeQuestion(question: string): string {
  return normalizeText(question)
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .replace(/\b(please|pls|plz|thanks|thank you|thx)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The cache key of an answer. */
export function answerCacheKey(parts: AnswerKeyParts): string {
  const digest = createHash('sha256')
    .update(
      [
        parts.tenant,
        normalizeQuestion(parts.question),
        parts.knowledgeBaseVersion,
        parts.promptVersion,
        parts.model,
      ].join('\u0000'),
    )
    .digest('hex')
    .slice(0, 32);
  return `answer:${parts.tenant}:${digest}`;
}

/** Everything a key covers but the question: answers in one scope may serve each other's rewordings. */
export function answerCacheScope(parts: Omit<AnswerKeyParts, 'question'>): string {
  return createHash('sha256')
    .update([parts.tenant, parts.knowledgeBaseVersion, parts.promptVersion, parts.model].join('\u0000'))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Answers on Keyv (memory, or Redis shared by every instance), with a TTL; optionally with a
 * near-duplicate index so reworded questions find them too.
 */
export class AnswerCache {
  readonly #store: Keyv;
  readonly #ttlMs: number;
  readonly nearDuplicates: NearDuplicateIndex | undefined;

  constructor(options: { store: Keyv; ttlMs: number; nearDuplicates?: NearDuplicateIndex }) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs;
    this.nearDuplicates = options.nearDuplicates;
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    return (await this.#store.get<CachedAnswer>(key)) ?? undefined;
  }

  async set(key: string, answer: CachedAnswer): Promise<void> {
    await this.#store.set(key, answer, this.#ttlMs);
  }
}
