import { describe, expect, it } from 'vitest';
import {
  balancedNegativeLogLikelihood,
  fitTemperature,
  softmax,
} from '../../../src/llm/intent-calibration.ts';
import { extractIntentFeatures, intentWords } from '../../../src/llm/intent-features.ts';

const overlap = (left: string, right: string) => {
  const a = extractIntentFeatures(left);
  const b = extractIntentFeatures(right);
  const weights = new Map<number, number>();
  a.indices.forEach((index, position) => {
    weights.set(index, a.values[position] as number);
  });
  let dot = 0;
  b.indices.forEach((index, position) => {
    dot += (weights.get(index) ?? 0) * (b.values[position] as number);
  });
  return dot;
};

describe('intentWords', () => {
  it('expands chat shorthand, drops apostrophes and accents, and hides numbers', () => {
    expect(intentWords('whats ur retrun window?? pls, thx')).toEqual([
      'what',
      'is',
      'your',
      'retrun',
      'window',
      'please',
      'thanks',
    ]);
    expect(intentWords("Where's my order #10482? It's size 10")).toEqual([
      'where',
      'is',
      'my',
      'order',
      '<number>',
      'its',
      'size',
      '<n>',
    ]);
    expect(intentWords('order PC-20931 café')).toEqual(['order', '<number>', 'cafe']);
    expect(intentWords('ẁ̸h̴e̷r̶e̵ ̸i̷s̴')).toEqual(['where', 'is']);
    expect(intentWords('🙂🙂 ?!')).toEqual([]);
  });
});

describe('extractIntentFeatures', () => {
  it('is a unit vector with sorted, distinct indices inside the dimension', () => {
    const features = extractIntentFeatures('where is my order? order 12345!!', { dimension: 2 ** 12 });
    expect([...features.indices]).toEqual([...new Set(features.indices)].sort((a, b) => a - b));
    expect(Math.max(...features.indices)).toBeLessThan(2 ** 12);
    const norm = Math.sqrt(features.values.reduce((sum, value) => sum + value * value, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(features.wordCount).toBe(6);
  });

  it('puts a misspelling nearer the word meant than a different word', () => {
    expect(overlap('return window', 'retrun window')).toBeGreaterThan(
      overlap('return window', 'refund window'),
    );
    expect(overlap('cancel my order', 'cancle my order')).toBeGreaterThan(
      overlap('cancel my order', 'change my order'),
    );
    expect(overlap('thank you', 'thank u')).toBeGreaterThan(0.99);
  });
});

describe('temperature scaling', () => {
  /** Two classes predicted equally often (so balancing them does not move the optimum), right `share` of the time. */
  const examples = (gap: number, share: number) =>
    Array.from({ length: 400 }, (_, index) => {
      const predicted = index % 2;
      const right = index / 400 < share;
      return {
        logits: predicted === 0 ? [gap, 0, 0] : [0, gap, 0],
        label: right ? predicted : 1 - predicted,
      };
    });
  // Logits 4 apart but right 3 times in 4: too sure, so T > 1 softens them.
  const overconfident = examples(4, 0.75);
  // Logits 0.5 apart but right 19 times in 20: too timid, so T < 1 sharpens them.
  const underconfident = examples(0.5, 0.95);

  it('softens an overconfident model and sharpens an underconfident one', () => {
    const soft = fitTemperature(overconfident);
    expect(soft).toBeGreaterThan(1.5);
    expect(softmax([4, 0, 0], soft)[0]).toBeCloseTo(0.75, 1);
    expect(fitTemperature(underconfident)).toBeLessThan(0.5);
  });

  it('minimises the class-balanced loss and is 1 without examples', () => {
    const best = fitTemperature(overconfident);
    const loss = balancedNegativeLogLikelihood(overconfident, best);
    expect(loss).toBeLessThan(balancedNegativeLogLikelihood(overconfident, best * 1.5));
    expect(loss).toBeLessThan(balancedNegativeLogLikelihood(overconfident, best / 1.5));
    expect(fitTemperature([])).toBe(1);
  });
});
