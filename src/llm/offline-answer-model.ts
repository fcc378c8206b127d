import { analyze } from '../knowledge/text-analysis.ts';
import type { RetrievedChunk } from '../knowledge/types.ts';
import type { AnswerEvent, AnswerModel, AnswerRequest } from './answer-model.ts';

/** Options of {@link OfflineAnswerModel}. */
export interface OfflineAnswerModelOptions {
  /** Pace of the stream, so an extractive answer reads like a generated one. @defaultValue 60 */
  tokensPerSecond?: number;
  /** @defaultValue 4 */
  maxSentences?: number;
  /** Injected for tests. @defaultValue a timer */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What the offline provider says when the passages do not answer the question. */
export const offlineNoAnswer =
  "I couldn't find that in our help center, so I don't want to guess. Would you like me to connect you with someone from our team?";

/**
 * The offline provider's answers: no model, no network. The sentences of the retrieved passages
 * that share the most meaning with the question (same analysis as retrieval: stems and concepts),
 * kept in their original order and attributed to their page, streamed at a natural pace.
 */
export class OfflineAnswerModel implements AnswerModel {
  readonly id = 'offline:extractive-v1';
  readonly kind = 'offline';
  readonly #tokensPerSecond: number;
  readonly #maxSentences: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: OfflineAnswerModelOptions = {}) {
    this.#tokensPerSecond = options.tokensPerSecond ?? 60;
    this.#maxSentences = options.maxSentences ?? 4;
    this.#sleep = options.sleep ?? sleep;
  }

  /** The whole extractive answer for a question and its passages. */
  compose(question: string, passages: readonly RetrievedChunk[]): string {
    const wanted = features(question);
    if (wanted.size === 0) return offlineNoAnswer;
    const figures = Object.entries(figurePatterns)
      .filter(([concept]) => wanted.has(concept))
      .map(([, pattern]) => pattern);
    const candidates = passages.flatMap((passage, passageRank) =>
      splitSentences(passage.text).map((sentence, position) => {
        const found = features(sentence);
        const heading = features(passage.headingPath);
        let overlap = 0;
        let words = 0;
        for (const feature of found) {
          if (!wanted.has(feature)) continue;
          if (feature.startsWith('#')) overlap += 0.75;
          else words++;
        }
        // A sentence must share a word with the question, not only a broad concept.
        if (words === 0) return { passage, passageRank, position, sentence, score: 0 };
        overlap += words;
        // The heading above a sentence is context: it helps, a little.
        for (const feature of heading) if (wanted.has(feature) && !found.has(feature)) overlap += 0.25;
        // "How long", "how much", "how heavy": a sentence with that kind of figure is likely the answer.
        if (overlap > 0 && figures.some((pattern) => pattern.test(sentence))) overlap += 1.5;
        // Earlier passages ranked better; a small bonus keeps ties with the best page.
        return { passage, passageRank, position, sentence, score: overlap - passageRank * 0.25 };
      }),
    );
    const best = Math.max(0, ...candidates.map((candidate) => candidate.score));
    const chosen = candidates
      .filter((candidate) => candidate.score >= Math.max(1, best * 0.6))
      .sort((left, right) => right.score - left.score)
      .slice(0, this.#maxSentences);
    if (chosen.length === 0) return offlineNoAnswer;

    // The page with the best sentence first; sentences keep their order within a page.
    const byDocument = new Map<string, typeof chosen>();
    for (const candidate of chosen) {
      const key = candidate.passage.documentId;
      byDocument.set(key, [...(byDocument.get(key) ?? []), candidate]);
    }
    const paragraphs = [...byDocument.values()].map((sentences) => {
      const ordered = [...sentences].sort(
        (left, right) => left.passage.index - right.passage.index || left.position - right.position,
      );
      const text = ordered
        .map((candidate) =>
          /[.!?:)]$/.test(candidate.sentence) ? candidate.sentence : `${candidate.sentence}.`,
        )
        .join(' ');
      return `**${sentences[0]?.passage.title}**: ${text}`;
    });
    return `Here's what our help center says:\n\n${paragraphs.join('\n\n')}`;
  }

  async *streamAnswer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    const text = this.compose(request.question, request.passages);
    const tokens = text.match(/\s*\S+/g) ?? [];
    const perBatch = 3;
    for (let start = 0; start < tokens.length; start += perBatch) {
      request.signal?.throwIfAborted();
      if (start > 0) await this.#sleep((perBatch / this.#tokensPerSecond) * 1000, request.signal);
      yield { type: 'delta', text: tokens.slice(start, start + perBatch).join('') };
    }
    yield {
      type: 'end',
      finishReason: 'stop',
      usage: { model: this.id, promptTokens: 0, completionTokens: tokens.length },
    };
  }
}

/** Figures that answer "how long", "how much", "how heavy", "how big". */
const figurePatterns: Record<string, RegExp> = {
  '#time': /\d\s*(?:-|to|–)?\s*\d*\s*(?:business\s+)?(?:minutes?|hours?|days?|weeks?|months?|years?)\b/i,
  '#price': /\$\s?\d|\d\s?(?:usd|dollars?)\b/i,
  '#weight': /\d\s?(?:lbs?|oz|kg|g|grams?|pounds?|ounces?)\b/i,
  '#size': /\d\s?(?:in|inch(?:es)?|cm|mm|ft|feet|l|litres?|liters?|quarts?|qt)\b|\d\s?[×x]\s?\d/i,
};

function features(text: string): Set<string> {
  const { terms, concepts } = analyze(text);
  return new Set([...terms, ...concepts]);
}

/** Sentences and list items of a passage: wrapped lines joined, bullets and table rules dropped. */
export function splitSentences(text: string): string[] {
  const blocks: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (/^\|?\s*:?-{3,}/.test(trimmed)) {
      // A table's rule: the row above it is the header, not content.
      if (blocks.at(-1)?.startsWith('|')) blocks.pop();
      blocks.push('');
    } else if (trimmed === '') blocks.push('');
    else if (
      /^(?:[-*+]\s|\d+\.\s|\||#)/.test(trimmed) ||
      blocks.length === 0 ||
      blocks.at(-1) === '' ||
      blocks.at(-1)?.startsWith('|')
    )
      blocks.push(trimmed);
    else blocks[blocks.length - 1] = `${blocks.at(-1)} ${trimmed}`;
  }
  return blocks
    .map((block) =>
      block.startsWith('|')
        ? block
            .split('|')
            .map((cell) => cell.trim())
            .filter(Boolean)
            .join(' — ')
        : block.replace(/^(?:[-*+]|\d+\.)\s+/, '').replace(/^#+\s*/, ''),
    )
    .flatMap((block) => block.split(/(?<=[.!?])\s+(?=[A-Z*"([])/))
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 2);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
