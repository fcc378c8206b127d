import { describe, expect, it } from 'vitest';
import { HybridIntentClassifier } from '../../../src/llm/hybrid-intent-classifier.ts';
import { type IntentClassifier, intentNames } from '../../../src/llm/intents.ts';
import { LocalIntentClassifier } from '../../../src/llm/local-intent-classifier.ts';

const local = new LocalIntentClassifier(
  intentNames.map((name) => ({
    name,
    description: name,
    examples: [`${name} one`, `${name} two`, `${name} three`, `${name} four`, `${name} five`],
  })),
);

/** A deadline timer the test fires by hand. */
function manualDeadline() {
  const waiting: { ms: number; fire: () => void }[] = [];
  return {
    waiting,
    sleep: (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ ms, fire: resolve });
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  };
}

/** A model that answers only when told to, and records the signal it was given. */
function slowModel() {
  const calls: { signal: AbortSignal | undefined; answer: () => void }[] = [];
  const model: IntentClassifier = {
    classify: (_text, options = {}) =>
      new Promise((resolve) => {
        calls.push({
          signal: options.signal,
          answer: () => resolve({ intent: 'complaint', confidence: 0.9, source: 'model' }),
        });
      }),
  };
  return { model, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('HybridIntentClassifier deadline', () => {
  it('keeps the local answer when the model misses the deadline, aborts its request and counts it', async () => {
    const deadline = manualDeadline();
    const { model, calls } = slowModel();
    const hybrid = new HybridIntentClassifier({
      local,
      fallback: model,
      threshold: 1.01,
      deadlineMs: 2_000,
      sleep: deadline.sleep,
    });
    const pending = hybrid.classify('greeting one');
    await settle();
    expect(deadline.waiting.map((timer) => timer.ms)).toEqual([2_000]);
    deadline.waiting[0]?.fire();
    const decision = await pending;
    expect(decision).toMatchObject({ intent: 'greeting', source: 'local', fallback: 'deadline' });
    expect(calls[0]?.signal?.aborted).toBe(true);
    expect(hybrid.stats()).toEqual({ local: 1, model: 0, fallbackErrors: 0, fallbackDeadlines: 1 });
  });

  it("uses the model's answer when it comes in time, and stops the deadline timer", async () => {
    const deadline = manualDeadline();
    const { model, calls } = slowModel();
    const hybrid = new HybridIntentClassifier({
      local,
      fallback: model,
      threshold: 1.01,
      sleep: deadline.sleep,
    });
    const pending = hybrid.classify('greeting one');
    await settle();
    calls[0]?.answer();
    const decision = await pending;
    expect(decision).toMatchObject({ intent: 'complaint', source: 'model' });
    expect(decision.fallback).toBeUndefined();
    expect(deadline.waiting[0]?.ms).toBe(2_000);
    expect(hybrid.stats()).toEqual({ local: 0, model: 1, fallbackErrors: 0, fallbackDeadlines: 0 });
  });

  it('marks an error fallback and still tells onFallbackError', async () => {
    const errors: unknown[] = [];
    const hybrid = new HybridIntentClassifier({
      local,
      fallback: {
        classify: async () => {
          throw new Error('model down');
        },
      },
      threshold: 1.01,
      onFallbackError: (error) => errors.push(error),
    });
    expect(await hybrid.classify('greeting one')).toMatchObject({ source: 'local', fallback: 'error' });
    expect(errors).toEqual([new Error('model down')]);
  });

  it("rejects at once when the caller's signal aborts, without waiting for the model", async () => {
    const { model } = slowModel();
    const hybrid = new HybridIntentClassifier({
      local,
      fallback: model,
      threshold: 1.01,
      sleep: manualDeadline().sleep,
    });
    const controller = new AbortController();
    const pending = hybrid.classify('greeting one', { signal: controller.signal });
    controller.abort(new Error('customer left'));
    await expect(pending).rejects.toThrow('customer left');
  });

  it('answers locally without a timer when the local classifier is sure', async () => {
    const deadline = manualDeadline();
    const hybrid = new HybridIntentClassifier({
      local,
      fallback: slowModel().model,
      threshold: 0,
      sleep: deadline.sleep,
    });
    expect((await hybrid.classify('greeting one')).source).toBe('local');
    expect(deadline.waiting).toHaveLength(0);
  });
});
