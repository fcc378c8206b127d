import { createHash } from 'node:crypto';
import type Keyv from 'keyv';
import { normalizeText } from '../knowledge/text-analysis.ts';
import type { Intent } from '../llm/intents.ts';

/** A source cited by an answer. */
export interface AnswerSource {
  documentId: string;
  title: string;
  url?: string;
}

/** A reusable answer. */
export interface CachedAnswer {
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

/** Answers on Keyv (memory, or Redis shared by every instance), with a TTL. */
export class AnswerCache {
  readonly #store: Keyv;
  readonly #ttlMs: number;

  constructor(options: { store: Keyv; ttlMs: number }) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs;
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    return (await this.#store.get<CachedAnswer>(key)) ?? undefined;
  }

  async set(key: string, answer: CachedAnswer): Promise<void> {
    await this.#store.set(key, answer, this.#ttlMs);
  }
}
