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

  it('keeps whole sentences in document order, with the lead sentence that names the subject', () => {
    const tent = chunk(
      'products/tent',
      'Trailhead 2 tent',
      'The Trailhead 2 is a two-person backpacking tent. Pitching takes five minutes. It weighs 4 lb with its poles, so it packs small. The fly is waterproof.',
    );
    const answer = new OfflineAnswerModel().compose('how heavy is it, what does it weigh?', [tent]);
    expect(answer).toBe(
      "Here's what our help center says:\n\n**Trailhead 2 tent**: The Trailhead 2 is a two-person backpacking tent. It weighs 4 lb with its poles, so it packs small.",
    );
    // Chosen sentences come in the passage's order, not by score.
    const order = new OfflineAnswerModel().compose('is the fly waterproof, and how long does pitching take', [
      tent,
    ]);
    expect(order.indexOf('Pitching takes five minutes.')).toBeLessThan(
      order.indexOf('The fly is waterproof.'),
    );
    expect(order).not.toContain('It weighs');
  });

  it('never cuts a list: a chosen item brings its whole list and the sentence that introduces it', () => {
    const payment = chunk(
      'payment/methods',
      'Payment methods',
      'Orders are charged when they ship.\n\nWe accept these cards and wallets:\n- Visa and Mastercard\n- American Express\n- PayPal, with\n  buyer protection\n\nGift cards cannot buy gift cards.',
    );
    const answer = new OfflineAnswerModel().compose('can I pay with paypal?', [payment]);
    expect(answer).toContain(
      'We accept these cards and wallets:\n- Visa and Mastercard\n- American Express\n- PayPal, with buyer protection',
    );
    expect(answer).not.toContain('Gift cards cannot');
    // A list right after the title starts on its own line; "weigh" finds "weight" (a stem it extends).
    const specs = chunk(
      'products/tent',
      'Trailhead 2 tent',
      '- Capacity: 2 people.\n- Trail weight: 4 lb 6 oz.\n- Floor: 88 × 52 in.',
    );
    expect(new OfflineAnswerModel().compose('how much does the tent weigh?', [specs])).toBe(
      "Here's what our help center says:\n\n**Trailhead 2 tent**:\n- Capacity: 2 people.\n- Trail weight: 4 lb 6 oz.\n- Floor: 88 × 52 in.",
    );
  });

  it('adds a second page only when it matches nearly as well', () => {
    const shipping = chunk('shipping', 'Shipping', 'Standard shipping takes 3 to 5 business days.');
    const express = chunk('express', 'Express shipping', 'Express shipping takes 1 business day.');
    const both = new OfflineAnswerModel().compose('how many days does shipping take', [shipping, express]);
    expect(both).toContain('**Shipping**: Standard shipping takes 3 to 5 business days.');
    expect(both).toContain('**Express shipping**: Express shipping takes 1 business day.');
    const one = new OfflineAnswerModel().compose('how many days does shipping take', [
      shipping,
      passages[1] as RetrievedChunk,
    ]);
    expect(one).not.toContain('hammock');
  });

  it('answers nothing rather than guess for questions without content words, and copes with huge ones', () => {
    const model = new OfflineAnswerModel();
    expect(model.compose('🙂🙂🙂', passages)).toBe(offlineNoAnswer);
    expect(model.compose('what is it?', passages)).toBe(offlineNoAnswer);
    expect(model.compose(`return ${'x '.repeat(5_000)}`, passages)).toContain('**Returns**');
  });

  it('reads a misspelt question word as the word the passages use', () => {
    const answer = new OfflineAnswerModel().compose('whats ur retrun window??', passages);
    expect(answer).not.toBe(offlineNoAnswer);
    expect(answer).toContain('**Returns**');
    expect(answer).toContain('within **30 days of delivery**');
  });

  it("answers from retrieval's first page when its title names the subject, not from a page that only mentions it", () => {
    const refunds = chunk(
      'policies/refunds',
      'Refunds',
      'We issue a refund within **3 business days** after your return arrives. Refunds go back to the original payment method.',
    );
    const exchanges = chunk(
      'policies/exchanges',
      'Exchanges',
      'If the new size costs less, we refund the difference; otherwise the normal return policy applies.',
    );
    const answer = new OfflineAnswerModel().compose('What is your refund policy?', [refunds, exchanges]);
    expect(answer.indexOf('**Refunds**')).toBeGreaterThan(-1);
    const exchangesAt = answer.indexOf('**Exchanges**');
    expect(exchangesAt === -1 || exchangesAt > answer.indexOf('**Refunds**')).toBe(true);
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
