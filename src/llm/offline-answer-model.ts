import type { RetrievedChunk } from '../knowledge/types.ts';
import { analyzeTerms, editDistance } from '../text/analysis.ts';
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
 * The offline provider's answers: no model, no network, no word list. The passage that best
 * answers the question (its sentences sharing the most question words, each word weighed by how
 * rare it is among the retrieved passages) gives whole sentences in their original order: its lead
 * sentence too when that names the subject, a list whole with the sentence that introduces it.
 * A second page joins when it matches nearly as well. Attributed to their pages and streamed at a
 * natural pace.
 */
export class OfflineAnswerModel implements AnswerModel {
  readonly id = 'offline:extractive-v2';
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
    const asked = new Set(analyzeTerms(question));
    if (asked.size === 0 || passages.length === 0) return offlineNoAnswer;
    const asksForFigure = figureQuestion.test(question);
    const split = passages.map((passage) => ({ passage, units: splitUnits(passage.text) }));
    const wanted = correctedAgainst(
      asked,
      split.flatMap(({ passage, units }) => [
        ...analyzeTerms(`${passage.title} ${passage.headingPath}`),
        ...units.flatMap((unit) => [...unit.terms]),
      ]),
    );
    const parsed = split.map(({ passage, units }) => ({
      passage,
      units: units.map((unit) => ({ ...unit, matched: matching(unit.terms, wanted) })),
    }));

    // A question word found in few of the passages' units tells them apart; one found everywhere does not.
    const unitFrequency = new Map<string, number>();
    let unitCount = 0;
    for (const { units } of parsed)
      for (const unit of units) {
        unitCount++;
        for (const term of unit.matched) unitFrequency.set(term, (unitFrequency.get(term) ?? 0) + 1);
      }
    const weightOf = (term: string) => Math.log(1 + unitCount / (unitFrequency.get(term) ?? 1));

    // A page's rank is its best passage's: within one page, retrieval's order says little.
    const documentRanks = [...new Set(passages.map((passage) => passage.documentId))];
    const scored = parsed.map(({ passage, units }) => {
      const rank = documentRanks.indexOf(passage.documentId);
      const context = new Set(analyzeTerms(`${passage.title} ${passage.headingPath}`));
      const contextMatched = matching(context, wanted);
      const titleMatched = matching(new Set(analyzeTerms(passage.title)), wanted);
      const scores = units.map((unit) => {
        if (unit.kind === 'heading') return 0;
        let score = 0;
        for (const term of unit.matched) score += weightOf(term);
        if (score === 0) return 0;
        // The title and headings above a sentence are its context. A question word in the page's
        // title says what the page is about ("refund policy" and the page "Refunds"): it counts
        // once more for each of its sentences; a heading's words help a little.
        for (const term of contextMatched) {
          if (titleMatched.has(term)) score += weightOf(term);
          else if (!unit.matched.has(term)) score += 0.25 * weightOf(term);
        }
        if (asksForFigure && /\d/.test(unit.text)) score *= 1.5;
        // Earlier pages ranked better: a small discount keeps ties with the best page.
        return score * (1 - 0.1 * Math.min(rank, 5));
      });
      return { passage, units, scores, context, best: Math.max(0, ...scores) };
    });
    // On a tie within one page, its earlier passage: a page states its main fact first.
    const ranked = scored
      .filter((entry) => entry.best > 0)
      .sort(
        (left, right) =>
          right.best - left.best ||
          (left.passage.documentId === right.passage.documentId
            ? left.passage.index - right.passage.index
            : 0),
      );
    const best = ranked[0];
    if (!best) return offlineNoAnswer;
    // Retrieval ranked the pages with more than these sentences show (BM25 over title and headings,
    // the embedding): its first page answers — the first whose title names something asked about
    // ("refunds" in "How long do refunds take?"), if any — unless another page's sentences match
    // three times as well (twice, when no title names the subject).
    const named = passages.find((passage) => matching(new Set(analyzeTerms(passage.title)), wanted).size > 0);
    const topDocument = (named ?? passages[0])?.documentId;
    const fromTop = ranked.find((entry) => entry.passage.documentId === topDocument);
    const first = fromTop && fromTop.best * (named ? 3 : 2) >= best.best ? fromTop : best;

    const paragraphs = [render(first, this.#maxSentences)];
    const second = ranked.find(
      (entry) => entry.passage.documentId !== first.passage.documentId && entry.best >= first.best * 0.8,
    );
    if (second && this.#maxSentences > 2) paragraphs.push(render(second, 2));
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

/**
 * The question's terms, each one the passages never use replaced by the passages' term one edit
 * from it (five letters or more, same first letter): "retrun" asks about "return". Retrieval
 * corrects typos against the whole knowledge base; this is the same rule, on what it returned.
 */
function correctedAgainst(asked: ReadonlySet<string>, passageTerms: readonly string[]): Set<string> {
  const known = new Set(passageTerms);
  const wanted = new Set<string>();
  for (const term of asked) {
    if (known.has(term) || term.length < 5 || /\d/.test(term)) {
      wanted.add(term);
      continue;
    }
    let replacement: string | undefined;
    for (const candidate of known) {
      if (candidate[0] === term[0] && editDistance(term, candidate, 1) <= 1) {
        replacement = candidate;
        break;
      }
    }
    wanted.add(replacement ?? term);
  }
  return wanted;
}

/**
 * The question's terms a text's terms match: the same stem, or one stem of four letters or more
 * that the other extends by a letter or two ("weigh" and "weight", "deliver" and "delivery").
 */
function matching(terms: ReadonlySet<string>, wanted: ReadonlySet<string>): Set<string> {
  const matched = new Set<string>();
  for (const term of terms) {
    if (wanted.has(term)) {
      matched.add(term);
      continue;
    }
    for (const question of wanted) {
      const [shorter, longer] = question.length < term.length ? [question, term] : [term, question];
      if (shorter.length >= 4 && longer.length - shorter.length <= 2 && longer.startsWith(shorter))
        matched.add(question);
    }
  }
  return matched;
}

/** Questions whose answer is a figure: an amount, a duration, a date, a size. */
const figureQuestion =
  /\bhow\s+(?:much|many|long|soon|far|big|large|heavy|often|old)\b|\bwhen\b|\bwhat\s+time\b/i;

/** Words that refer back to something named before: a sentence opening with one needs the one before it. */
const referringOpening =
  /^(?:it|its|they|their|them|this|these|those|that|he|she|his|her|such|both|there|here)\b/i;

/** A piece of a passage an answer is made of: a sentence, a whole list, or a heading (context only). */
interface Unit {
  kind: 'sentence' | 'list' | 'heading';
  /** The sentence, or the list's items joined by spaces. */
  text: string;
  items: string[];
  terms: Set<string>;
}

interface ScoredPassage {
  passage: RetrievedChunk;
  units: Unit[];
  scores: number[];
  context: Set<string>;
  best: number;
}

/**
 * The best units of a passage, at most `maxUnits`, in document order: with the lead sentence when
 * it names the subject (it shares a word with the title or headings, or a chosen sentence refers
 * back), and the sentence introducing a chosen list (or the list a chosen sentence introduces).
 */
function render(entry: ScoredPassage, maxUnits: number): string {
  const { units, scores, context, best } = entry;
  const chosen = new Set(
    scores
      .map((score, index) => ({ score, index }))
      .filter(({ score }) => score > 0 && score >= best * 0.5)
      .sort((left, right) => right.score - left.score || left.index - right.index)
      .slice(0, maxUnits)
      .map(({ index }) => index),
  );
  for (const index of [...chosen]) {
    const unit = units[index] as Unit;
    const before = units[index - 1];
    const after = units[index + 1];
    if (unit.kind === 'list' && before?.kind === 'sentence' && before.text.endsWith(':'))
      chosen.add(index - 1);
    if (unit.kind === 'sentence' && unit.text.endsWith(':') && after?.kind === 'list') chosen.add(index + 1);
  }
  const lead = units.findIndex((unit) => unit.kind === 'sentence');
  const firstChosen = Math.min(...chosen);
  if (lead !== -1 && !chosen.has(lead) && lead < firstChosen) {
    const leadUnit = units[lead] as Unit;
    const namesSubject = [...leadUnit.terms].some((term) => context.has(term));
    const refersBack = referringOpening.test((units[firstChosen] as Unit).text);
    if (namesSubject || refersBack) chosen.add(lead);
  }
  let text = '';
  for (const index of [...chosen].sort((left, right) => left - right)) {
    const unit = units[index] as Unit;
    if (unit.kind === 'list') text += `\n${unit.items.map((item) => `- ${item}`).join('\n')}\n`;
    else
      text += `${text === '' || text.endsWith('\n') ? '' : ' '}${/[.!?:)]$/.test(unit.text) ? unit.text : `${unit.text}.`}`;
  }
  // A list right after the title starts on its own line, so it renders as a list.
  const body = text.trim();
  return `**${entry.passage.title}**:${body.startsWith('- ') ? '\n' : ' '}${body}`;
}

const listItem = /^(?:[-*+]\s|\d+[.)]\s)/;

/**
 * A passage's sentences, lists and headings, in order: wrapped lines joined, consecutive list items
 * (and table rows) kept together as one list, table rules and header rows dropped.
 */
function splitUnits(text: string): Unit[] {
  const blocks: { kind: 'paragraph' | 'list' | 'heading'; lines: string[] }[] = [];
  let current: (typeof blocks)[number] | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (/^\|?\s*:?-{3,}/.test(trimmed)) {
      // A table's rule: the row above it is the header, not content.
      if (current?.kind === 'list' && current.lines.at(-1)?.startsWith('|')) current.lines.pop();
      continue;
    }
    if (trimmed === '') {
      current = undefined;
      continue;
    }
    if (trimmed.startsWith('#')) {
      blocks.push({ kind: 'heading', lines: [trimmed.replace(/^#+\s*/, '')] });
      current = undefined;
    } else if (listItem.test(trimmed) || trimmed.startsWith('|')) {
      const item = trimmed.startsWith('|')
        ? trimmed
            .split('|')
            .map((cell) => cell.trim())
            .filter(Boolean)
            .join(' — ')
        : trimmed.replace(listItem, '');
      if (current?.kind !== 'list') {
        current = { kind: 'list', lines: [] };
        blocks.push(current);
      }
      current.lines.push(item);
    } else if (current) {
      // A wrapped line continues the paragraph, or the last list item.
      current.lines[current.lines.length - 1] = `${current.lines.at(-1)} ${trimmed}`;
    } else {
      current = { kind: 'paragraph', lines: [trimmed] };
      blocks.push(current);
    }
  }
  const units: Unit[] = [];
  const unit = (kind: Unit['kind'], text: string, items: string[] = []): Unit => ({
    kind,
    text,
    items,
    terms: new Set(analyzeTerms(text)),
  });
  for (const block of blocks) {
    const items = block.lines.filter((line) => line.length > 0);
    if (items.length === 0) continue;
    if (block.kind === 'heading') units.push(unit('heading', items[0] as string));
    else if (block.kind === 'list') units.push(unit('list', items.join(' '), items));
    else
      for (const sentence of (items[0] as string).split(/(?<=[.!?])\s+(?=[A-Z*"([])/))
        if (sentence.trim().length > 2) units.push(unit('sentence', sentence.trim()));
  }
  return units;
}

/** Sentences, list items and headings of a passage, in order (wrapped lines joined, bullets dropped). */
export function splitSentences(text: string): string[] {
  return splitUnits(text).flatMap((unit) => (unit.kind === 'list' ? unit.items : [unit.text]));
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
