import { describe, expect, it } from 'vitest';
import type { RetrievedChunk } from '../../../src/knowledge/types.ts';
import {
  OfflineAnswerModel,
  offlineNoAnswer,
  splitSentences,
} from '../../../src/llm/offline-answer-model.ts';

const chunk = (documentId: string, title: string, text: string): RetrievedChunk => ({
  id: `${documentId}:1`,
  documentId,
  title,
  headingPath: '',
  text,
  index: 0,
  score: 1,
});

const passages = [
  chunk(
    'policies/returns',
    'Returns',
    'Changed your mind? You can return most items within **30 days of\ndelivery**.\n\n## Costs\n- Labels are free for defective items.\n- A flat $6.95 fee applies otherwise.',
  ),
  chunk('products/hammock', 'Drift Hammock', 'The hammock holds 400 lb. Straps are included.'),
];

describe('OfflineAnswerModel', () => {
  it('joins wrapped lines and splits sentences and list items', () => {
    expect(splitSentences(passages[0]?.text ?? '')).toEqual([
      'Changed your mind?',
      'You can return most items within **30 days of delivery**.',
      'Costs',
      'Labels are free for defective items.',
      'A flat $6.95 fee applies otherwise.',
    ]);
  });

  it('answers with the sentences that match the question, attributed to their page', () => {
    const answer = new OfflineAnswerModel().compose(
      'how many days do I have to send something back?',
      passages,
    );
    expect(answer).toContain('**Returns**: You can return most items within **30 days of delivery**.');
    expect(answer).not.toContain('hammock');
    expect(new OfflineAnswerModel().compose('what is the meaning of life', passages)).toBe(offlineNoAnswer);
    expect(new OfflineAnswerModel().compose('returns', [])).toBe(offlineNoAnswer);
  });

  it('streams the answer at its pace and stops when cancelled', async () => {
    const sleeps: number[] = [];
    const model = new OfflineAnswerModel({ tokensPerSecond: 30, sleep: async (ms) => void sleeps.push(ms) });
    let text = '';
    let end: unknown;
    for await (const event of model.streamAnswer({
      systemPrompt: '',
      question: 'return window days',
      passages,
      history: [],
    })) {
      if (event.type === 'delta') text += event.text;
      else end = event;
    }
    expect(text).toBe(model.compose('return window days', passages));
    expect(sleeps.length).toBeGreaterThan(3);
    expect(sleeps[0]).toBeCloseTo(100, 5);
    expect(end).toMatchObject({ type: 'end', finishReason: 'stop', usage: { promptTokens: 0 } });

    const controller = new AbortController();
    const read = async () => {
      for await (const event of model.streamAnswer({
        systemPrompt: '',
        question: 'return window days',
        passages,
        history: [],
        signal: controller.signal,
      })) {
        if (event.type === 'delta') controller.abort(new Error('handed to staff'));
      }
    };
    await expect(read()).rejects.toThrow('handed to staff');
  });
});
