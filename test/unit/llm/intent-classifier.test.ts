import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../src/config/load.ts';
import { evaluateIntents, type LabelledMessage } from '../../../src/llm/evaluate-intents.ts';
import { type Intent, type IntentDefinition, loadIntentCatalog } from '../../../src/llm/intents.ts';
import { LocalIntentClassifier } from '../../../src/llm/local-intent-classifier.ts';

let definitions: IntentDefinition[];
let local: LocalIntentClassifier;

beforeAll(async () => {
  definitions = await loadIntentCatalog(path.join(projectRoot, 'config', 'intents.yaml'));
  local = new LocalIntentClassifier(definitions);
});

const fixture = (name: string): LabelledMessage[] =>
  readFileSync(path.join(projectRoot, 'test', 'fixtures', name), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as LabelledMessage);

const normalise = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

describe('the catalog with its training file', () => {
  it('brings the public rows to every intent they map to, beside the hand-written examples', () => {
    const rows = Object.fromEntries(
      definitions.map((definition) => [definition.name, definition.trainingExamples?.length ?? 0]),
    );
    expect(rows.other).toBeGreaterThan(2_000);
    expect(rows.refund_request).toBeGreaterThan(250);
    expect(rows.greeting).toBeGreaterThan(200);
    expect(rows.order_placement).toBeGreaterThan(100);
    // No public set maps to product questions.
    expect(rows.product_inquiry).toBe(0);
    expect(local.trainingReport()).toMatchObject({ calibrationExamples: expect.any(Number) });
    expect(local.trainingReport().calibrationExamples).toBeGreaterThan(500);
  });
});

// Every example message of the README, plus the two the outside tester reported.
const readmeExamples: [string, Intent][] = [
  ['What is your refund policy?', 'policy_question'],
  ['whats ur retrun window??', 'policy_question'],
  ['where is my parcel?', 'order_status'],
  ['Do you ship to Canada?', 'policy_question'],
  ['how long do I have to return boots?', 'policy_question'],
];

describe('README examples', () => {
  it('are in the README (the list follows it)', () => {
    const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    for (const [text] of readmeExamples.filter(([text]) => !text.includes('retrun')))
      expect(readme).toContain(`"${text}"`);
  });

  it('are not training examples, so routing them shows generalisation', () => {
    const training = new Set(
      definitions.flatMap((definition) =>
        [...definition.examples, ...(definition.trainingExamples ?? [])].map(normalise),
      ),
    );
    for (const [text] of readmeExamples) expect(training.has(normalise(text))).toBe(false);
  });

  it.each(readmeExamples)('routes "%s" to %s', (text, intent) => {
    expect(local.classify(text).intent).toBe(intent);
  });
});

describe('INTENTS.md borderline rules', () => {
  it.each<[string, string, Intent]>([
    ['anger with money', 'this is ridiculous, just give me my money back', 'complaint'],
    ['a manager about a refund', 'I want to speak to a manager about my refund right now', 'complaint'],
    ['a human with money', 'get me a human, I want my money back for this order', 'complaint'],
    ['calm money back', "I'd like my money back for order 4471 please", 'refund_request'],
    ['calm refund for a purchase', 'could I get a refund on the boots I bought last week?', 'refund_request'],
    ['how refunds work', 'how does the refund process work?', 'policy_question'],
    ['refund times in general', 'how long do refunds usually take?', 'policy_question'],
    ['own order arrival', 'when is my order going to get here?', 'order_status'],
    ['shipping times in general', 'how long does standard delivery take?', 'policy_question'],
    ['closing thanks', 'thanks for sorting out the refund, all good now', 'greeting'],
    ['closing thanks about an order', 'great, thanks for your help with my order', 'greeting'],
    ['"order" that is not an order', 'what order should I watch the films in', 'other'],
    ['a refund without the word', 'please undo the payment for my last purchase', 'refund_request'],
  ])('%s: "%s" → %s', (_rule, text, intent) => {
    expect(local.classify(text).intent).toBe(intent);
  });
});

describe('typos and chat shorthand', () => {
  it.each<[string, string, Intent]>([
    ['where is my package', 'wheres my pakage', 'order_status'],
    ['I want a refund for my order', 'i wnat a refnud for my ordr', 'refund_request'],
    ['please cancel my order', 'pls cancle my ordr', 'order_placement'],
    ['how do I reset my password', 'how do i rest my pasword', 'policy_question'],
    ['what is your return policy', 'wat is ur retrun polcy', 'policy_question'],
    ['is the tent waterproof', 'is teh tent waterprof', 'product_inquiry'],
    ['I want to speak to a manager', 'i wanna speek to a manger', 'complaint'],
    ['thank you so much', 'thank u sooo much', 'greeting'],
    ['do you ship to canada', 'do u ship 2 canada', 'policy_question'],
    ['can I pay with paypal', 'can i pay w paypall', 'policy_question'],
    ['this is unacceptable', 'this is unaceptable', 'complaint'],
    ['how long does shipping take', 'how lng does shiping take', 'policy_question'],
  ])('"%s" and "%s" are both %s', (clean, misspelled, intent) => {
    expect(local.classify(clean).intent).toBe(intent);
    expect(local.classify(misspelled).intent).toBe(intent);
  });
});

describe('long and odd text', () => {
  it('keeps the intent of a question padded with a repeated word', () => {
    const padded = `How long is the warranty on your gear? ${'really '.repeat(3_000)}`;
    expect(local.classify(padded).intent).toBe('policy_question');
  });
});

describe('calibration', () => {
  // Public rows the classifier never trains on (scripts/intents-build-training.ts holds them out).
  const heldOut = [...fixture('intent-heldout-clinc150.jsonl'), ...fixture('intent-heldout-banking77.jsonl')];

  it('keeps the held-out rows out of training', () => {
    const training = new Set(
      definitions.flatMap((definition) =>
        [...definition.examples, ...(definition.trainingExamples ?? [])].map(normalise),
      ),
    );
    expect(heldOut.filter((message) => training.has(normalise(message.text)))).toEqual([]);
  });

  it('makes the fast path precise on held-out rows: ≥ 0.95 accurate at 0.8, covering most', async () => {
    const evaluation = await evaluateIntents(
      heldOut,
      async (text) => {
        const result = local.classify(text);
        return { intent: result.intent, local: result };
      },
      0.8,
    );
    expect(evaluation.fastPath.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(evaluation.fastPath.coverage).toBeGreaterThanOrEqual(0.6);
    expect(evaluation.expectedCalibrationError).toBeLessThan(0.08);
    // Confidence means something: the top bucket is more accurate than the bottom one.
    const [lowest] = evaluation.reliability;
    const highest = evaluation.reliability.at(-1);
    expect(highest?.accuracy).toBeGreaterThan((lowest?.accuracy ?? 1) + 0.2);
  });

  it('does not change which intent wins, only how sure it sounds', () => {
    const uncalibrated = new LocalIntentClassifier(definitions, { temperature: 1 });
    const hot = new LocalIntentClassifier(definitions, { temperature: 3 });
    for (const text of ['where is my order', 'hmm', 'do you ship to canada', 'I am fed up']) {
      expect(hot.classify(text).intent).toBe(uncalibrated.classify(text).intent);
      expect(hot.classify(text).confidence).toBeLessThan(uncalibrated.classify(text).confidence);
    }
  });
});
