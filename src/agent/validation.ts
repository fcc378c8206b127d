import type { RetrievedChunk } from '../knowledge/types.ts';
import { analyzeTerms } from '../text/analysis.ts';
import { promptGuardFor } from './prompt-guard.ts';

/**
 * Whether an answer gives the system prompt away, verbatim, encoded or reworded (see
 * {@link createPromptGuard}); checked as the answer grows, before any of it is shown.
 */
export function leaksPrompt(answer: string, systemPrompt: string): boolean {
  return promptGuardFor(systemPrompt).leaks(answer);
}

/**
 * A sentence that says the bot does not know (in the many ways a model puts it): "I don't have
 * information about that", "I couldn't find anything on…", "our help center doesn't say", "I'm not
 * sure", "I'm afraid I can't answer that".
 */
const notKnowing = new RegExp(
  [
    String.raw`\b(?:i|we)\s*(?:do\s*n[o']?t|don'?t|dont|did\s*n[o']?t|didn'?t|could\s*n[o']?t|couldn'?t|can\s*n[o']?t|can'?t|cannot|am\s+not|'m\s+not|was\s*n[o']?t|wasn'?t|have\s*n[o']?t|haven'?t|am\s+unable|'m\s+unable|was\s+unable|have\s+no)\b[^.!?\n]{0,40}?\b(?:know|sure|find|found|see|locate|answer|say|tell|confirm|information|info|details?|data|record|able to (?:find|answer|help|say|confirm))`,
    String.raw`\b(?:i'?m|i am)\s+(?:afraid|sorry)\b[^.!?\n]{0,30}\b(?:no|not|n't|unable)\b`,
    String.raw`\bno (?:information|info|details?|mention|data)\b`,
    String.raw`\b(?:isn'?t|is not|aren'?t|are not|wasn'?t|not)\s+(?:covered|mentioned|listed|included|described|something i)\b`,
    String.raw`\b(?:passages?|help cent(?:er|re)|knowledge base|articles?|documentation|sources?|information)\b[^.!?\n]{0,30}\b(?:do(?:es)?\s*n[o']?t|don'?t|doesn'?t)\s+(?:say|mention|cover|contain|include|tell|address|specify)`,
    String.raw`\bnot sure\b|\bno idea\b|\bbeyond what i know\b|\boutside (?:of )?what i (?:know|can answer)\b`,
  ].join('|'),
  'i',
);

/** A sentence that offers the customer a person (any wording), or tells them how to get one. */
const personOffer =
  /\b(?:connect|contact|reach|put you in touch|get in touch|pass (?:this|it|you|your question)|hand (?:this|it|you)|transfer|talk|speak|chat|bring in|ask|escalate|forward)\b[^.!?\n]{0,60}\b(?:person|people|human|agent|staff|support team|team|colleague|someone|representative)\b|\bsay\s*["“']?human\b/i;

/** The verdict on a finished answer. */
export type AnswerCheck =
  | {
      ok: true;
      /** The answer says (in part or whole) that the bot does not know. */
      admitsNotKnowing: boolean;
      /** The answer offers the customer a person. */
      offersPerson: boolean;
    }
  | { ok: false; reason: 'empty' | 'ungrounded' };

/** Whether a text offers the customer a person. */
export function offersPerson(text: string): boolean {
  return personOffer.test(text);
}

/**
 * A finished answer must say something, and what it claims must stay within what the passages
 * say (most of its meaningful words appear in them). Sentences that admit not knowing, or offer a
 * person, claim nothing: an answer made only of those is an honest "I don't know" and passes; an
 * ungrounded claim does not pass because a sentence about the support team sits next to it.
 */
export function checkAnswer(
  answer: string,
  passages: readonly RetrievedChunk[],
  minimumOverlap = 0.5,
): AnswerCheck {
  const terms = analyzeTerms(answer).filter((term) => !/^\d+$/.test(term) || term.length > 1);
  if (answer.trim() === '' || terms.length === 0) return { ok: false, reason: 'empty' };
  const sentences = answer.match(/[^.!?\n]+(?:[.!?]+|\n|$)/g) ?? [answer];
  let admitsNotKnowing = false;
  let offers = false;
  const claims: string[] = [];
  for (const sentence of sentences) {
    const unknown = notKnowing.test(sentence);
    const offer = personOffer.test(sentence);
    admitsNotKnowing ||= unknown;
    offers ||= offer;
    if (!unknown && !offer) claims.push(sentence);
  }
  const claimed = analyzeTerms(claims.join(' ')).filter((term) => !/^\d+$/.test(term) || term.length > 1);
  if (claimed.length === 0) return { ok: true, admitsNotKnowing, offersPerson: offers };
  const known = new Set(
    passages.flatMap((passage) => analyzeTerms(`${passage.title} ${passage.headingPath} ${passage.text}`)),
  );
  const grounded = claimed.filter((term) => known.has(term)).length / claimed.length;
  // Around an admission, a short courtesy ("Sorry about that!") is not a claim to ground.
  const courtesy = admitsNotKnowing && claimed.length <= 3;
  return grounded >= minimumOverlap || courtesy
    ? { ok: true, admitsNotKnowing, offersPerson: offers }
    : { ok: false, reason: 'ungrounded' };
}
