import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';

const load = (env: Record<string, string>) => loadConfig({ env, loadDotEnv: false });

describe('the classifier settings', () => {
  it('default to auto and a 2 s deadline, and take LLM_CLASSIFIER_FORMAT and LLM_CLASSIFIER_DEADLINE_MS', () => {
    expect(load({}).llm).toMatchObject({ classifierFormat: 'auto', classifierDeadlineMs: 2_000 });
    expect(load({ LLM_CLASSIFIER_FORMAT: 'tool', LLM_CLASSIFIER_DEADLINE_MS: '750' }).llm).toMatchObject({
      classifierFormat: 'tool',
      classifierDeadlineMs: 750,
    });
  });

  it('refuse a format that does not exist, naming the variable', () => {
    expect(() => load({ LLM_CLASSIFIER_FORMAT: 'xml' })).toThrow(/LLM_CLASSIFIER_FORMAT|classifierFormat/);
    expect(() => load({ LLM_CLASSIFIER_DEADLINE_MS: 'soon' })).toThrow(
      /classifierDeadlineMs|LLM_CLASSIFIER_DEADLINE_MS/,
    );
  });
});
