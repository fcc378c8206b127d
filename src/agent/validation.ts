import type { RetrievedChunk } from '../knowledge/types.ts';
import { analyzeTerms, splitWords } from '../text/analysis.ts';

const shingleSize = 8;
const promptShingles = new Map<string, Set<string>>();

function shingles(words: readonly string[]): string[] {
  const result: string[] = [];
  for (let start = 0; start + shingleSize <= words.length; start++) {
    result.push(words.slice(start, start + shingleSize).join(' '));
  }
  return result;
}

/**
 * Whether an answer repeats the system prompt: any run of eight words of the prompt in the answer's
 * last 200 words (checked as the answer grows, so a leak is stopped before it is shown).
 */
export function leaksPrompt(answer: string, systemPrompt: string): boolean {
  let known = promptShingles.get(systemPrompt);
  if (!known) {
    known = new Set(shingles(splitWords(systemPrompt)));
    promptShingles.set(systemPrompt, known);
  }
  const tail = splitWords(answer.slice(-1_600)).slice(-200);
  return shingles(tail).some((shingle) => known.has(shingle));
}

const admitsNotKnowing =
  /\b(?:don'?t|do not) (?:know|have (?:that|this|any) information)|\bnot sure\b|\bcouldn'?t find\b|\bno information\b|\bconnect you\b|\bsupport team\b/i;

/** The verdict on a finished answer. */
export type AnswerCheck = { ok: true } | { ok: false; reason: 'empty' | 'ungrounded' };

/**
 * A finished answer must say something, and either stay within what the passages say (most of its
 * meaningful words appear in them) or admit it does not know.
 */
export function checkAnswer(
  answer: string,
  passages: readonly RetrievedChunk[],
  minimumOverlap = 0.5,
): AnswerCheck {
  const terms = analyzeTerms(answer).filter((term) => !/^\d+$/.test(term) || term.length > 1);
  if (answer.trim() === '' || terms.length === 0) return { ok: false, reason: 'empty' };
  if (admitsNotKnowing.test(answer)) return { ok: true };
  const known = new Set(
    passages.flatMap((passage) => analyzeTerms(`${passage.title} ${passage.headingPath} ${passage.text}`)),
  );
  const grounded = terms.filter((term) => known.has(term)).length / terms.length;
  return grounded >= minimumOverlap ? { ok: true } : { ok: false, reason: 'ungrounded' };
}
