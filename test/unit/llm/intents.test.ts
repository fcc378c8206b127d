import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../../src/config/load.ts';
import { evaluateIntents } from '../../../src/llm/evaluate-intents.ts';
import { HybridIntentClassifier } from '../../../src/llm/hybrid-intent-classifier.ts';
import { type IntentClassifier, type IntentDefinition, loadIntentCatalog } from '../../../src/llm/intents.ts';
import { LocalIntentClassifier } from '../../../src/llm/local-intent-classifier.ts';

let definitions: IntentDefinition[];
let local: LocalIntentClassifier;

beforeAll(async () => {
  definitions = await loadIntentCatalog(path.join(projectRoot, 'config', 'intents.yaml'));
  local = new LocalIntentClassifier(definitions);
});

describe('intent catalog', () => {
  const write = (text: string) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'intents-')), 'intents.yaml');
    writeFileSync(file, text);
    return file;
  };

  it('loads all eight intents with descriptions and examples', () => {
    expect(definitions.map((definition) => definition.name)).toEqual([
      'greeting',
      'policy_question',
      'product_inquiry',
      'order_status',
      'order_placement',
      'refund_request',
      'complaint',
      'other',
    ]);
    for (const definition of definitions) expect(definition.examples.length).toBeGreaterThanOrEqual(30);
  });

  it('names the file and key of a bad catalog', async () => {
    await expect(
      loadIntentCatalog(write('intents:\n  shopping:\n    description: x\n    examples: [a, b, c, d, e]\n')),
    ).rejects.toThrow(/intents\.yaml: intents\.shopping/);
    await expect(
      loadIntentCatalog(write('intents:\n  greeting:\n    description: hi\n    examples: [hi]\n')),
    ).rejects.toThrow(/at least 5 examples/);
    await expect(
      loadIntentCatalog(write('intents:\n  greeting:\n    description: hi\n    examples: [a, b, c, d, e]\n')),
    ).rejects.toThrow(/intents\.policy_question is missing/);
    await expect(loadIntentCatalog(write('intents: [\n'))).rejects.toThrow(/not valid YAML/);
  });
});

describe('LocalIntentClassifier', () => {
  it.each([
    ['good morning!', 'greeting'],
    ['what is your policy on returning sale items', 'policy_question'],
    ['is the headlamp rechargeable', 'product_inquiry'],
    ['where is my package, order 77812', 'order_status'],
    ['please cancel order 20931', 'order_placement'],
    ['I would like a refund for my order please', 'refund_request'],
    ['this is outrageous, I want to speak to your manager', 'complaint'],
    ['tell me a joke about cats', 'other'],
  ])('classifies "%s" as %s', (text, intent) => {
    const result = local.classify(text);
    expect(result.intent).toBe(intent);
    expect(result.confidence).toBeGreaterThan(0.3);
    expect(result.confidence).toBeLessThanOrEqual(1);
    const total = Object.values(result.scores).reduce((sum, score) => sum + score, 0);
    expect(total).toBeCloseTo(1, 6);
  });

  it('handles empty, emoji-only, zalgo and very long text', () => {
    expect(local.classify('   ')).toMatchObject({ intent: 'other', confidence: 0.2 });
    expect(local.classify('🙂🙂🙂').intent).toBe('other');
    expect(local.classify('ẁ̸h̴e̷r̶e̵ ̸i̷s̴ ̶m̵y̸ ̷o̴r̶d̵e̸r̷').intent).toBe('order_status');
    const long = local.classify(`where is my order? ${'x'.repeat(20_000)}`);
    expect(long.intent).toBe('order_status');
    expect(long.confidence).toBeGreaterThan(0);
  });
});

describe('HybridIntentClassifier', () => {
  const model = (intent: 'complaint' | 'other', fail = false): IntentClassifier & { calls: number } => ({
    calls: 0,
    async classify() {
      this.calls++;
      if (fail) throw new Error('model down');
      return { intent, confidence: 0.9, source: 'model' };
    },
  });

  it('answers locally when sure, asks the model otherwise, and counts both', async () => {
    const fallback = model('complaint');
    const hybrid = new HybridIntentClassifier({ local, fallback, threshold: 0.8 });
    const sure = await hybrid.classify('hello there');
    expect(sure.source).toBe('local');
    const unsure = await hybrid.classify('hmm');
    expect(unsure).toMatchObject({ intent: 'complaint', source: 'model' });
    expect(hybrid.stats()).toEqual({ local: 1, model: 1, fallbackErrors: 0, fallbackDeadlines: 0 });
    expect(fallback.calls).toBe(1);
  });

  it('keeps the local answer when the model fails', async () => {
    const errors: unknown[] = [];
    const hybrid = new HybridIntentClassifier({
      local,
      fallback: model('other', true),
      threshold: 1.01,
      onFallbackError: (error) => errors.push(error),
    });
    const decision = await hybrid.classify('where is my order');
    expect(decision).toMatchObject({ intent: 'order_status', source: 'local' });
    expect(hybrid.stats()).toEqual({ local: 1, model: 0, fallbackErrors: 1, fallbackDeadlines: 0 });
    expect(errors).toHaveLength(1);
  });
});

describe('evaluateIntents', () => {
  it('computes accuracy, per-intent scores, the confusion matrix and the fast path', async () => {
    const predictions: Record<string, { intent: 'greeting' | 'other'; confidence: number }> = {
      a: { intent: 'greeting', confidence: 0.9 },
      b: { intent: 'greeting', confidence: 0.5 },
      c: { intent: 'other', confidence: 0.95 },
      d: { intent: 'other', confidence: 0.85 },
    };
    const result = await evaluateIntents(
      [
        { text: 'a', label: 'greeting' },
        { text: 'b', label: 'other' },
        { text: 'c', label: 'other' },
        { text: 'd', label: 'greeting' },
      ],
      async (text) => {
        const prediction = predictions[text] as { intent: 'greeting' | 'other'; confidence: number };
        return { intent: prediction.intent, local: prediction };
      },
      0.8,
    );
    expect(result.accuracy).toBe(0.5);
    expect(result.perIntent.greeting).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(result.confusion.other.greeting).toBe(1);
    expect(result.confusion.greeting.other).toBe(1);
    expect(result.fastPath).toEqual({ coverage: 0.75, accuracy: 0.6667 });
  });
});
