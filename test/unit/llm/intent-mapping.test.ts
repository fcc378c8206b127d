import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bankingMapping, clincMapping, mapLabel } from '../../../scripts/intents-mapping.ts';
import { projectRoot } from '../../../src/config/load.ts';
import { type Intent, intentNames } from '../../../src/llm/intents.ts';

describe('public label mapping', () => {
  it.each<[string, string, Intent | undefined]>([
    ['order', 'can you order me more plastic bags', 'order_placement'],
    ['order_status', 'has my order arrived yet', 'order_status'],
    ['greeting', 'hello, anyone there', 'greeting'],
    ['goodbye', 'cya later', 'greeting'],
    ['thank_you', 'thanks for the answer', 'greeting'],
    ['weather', 'is it going to rain today', 'other'],
    ['tell_joke', 'tell me a joke about dogs', 'other'],
    ['book_flight', 'book a flight to boston', 'other'],
    ['oos', 'where did abraham lincoln live', 'other'],
    ['cancel', 'cancel that', undefined],
    ['are_you_a_bot', 'are you a real person', undefined],
    ['shopping_list_update', 'add milk to my shopping list', undefined],
    ['pin_change', 'i want to change my pin', undefined],
  ])('CLINC150 %s: "%s" → %s', (label, text, intent) => {
    expect(mapLabel('clinc150', label, text)).toBe(intent);
  });

  it.each<[string, string, Intent | undefined]>([
    ['request_refund', 'I would like my money back for an item I purchased', 'refund_request'],
    ['request_refund', 'What is the refund policy?', 'policy_question'],
    ['request_refund', 'Do you give refunds?', 'policy_question'],
    ['request_refund', "I demand a refund, I've had enough of these people", 'complaint'],
    ['request_refund', 'I would like to cancel my order.', 'order_placement'],
    ['request_refund', 'How do I go about getting a refund?', undefined],
    ['Refund_not_showing_up', "I can't see my refund in my statement", 'refund_request'],
    ['transaction_charged_twice', 'I was charged twice for the same thing', 'refund_request'],
    ['passcode_forgotten', 'I forgot my passcode, how do I reset it?', 'policy_question'],
    ['terminate_account', 'Please help me delete this account.', 'policy_question'],
    ['edit_personal_details', 'How do I change my last name?', 'policy_question'],
    ['edit_personal_details', 'I moved and need to change my address.', undefined],
    ['card_arrival', 'My card never arrived.', undefined],
    ['top_up_failed', 'my top up did not work', undefined],
  ])('BANKING77 %s: "%s" → %s', (label, text, intent) => {
    expect(mapLabel('banking77', label, text)).toBe(intent);
  });

  it('says why each left-out label is left out', () => {
    for (const mapping of [...Object.values(clincMapping), ...Object.values(bankingMapping)]) {
      if ('leftOut' in mapping) expect(mapping.note.length).toBeGreaterThan(10);
      else expect(intentNames).toContain(mapping.intent);
    }
  });
});

describe('config/intents-training.jsonl', () => {
  const lines = readFileSync(path.join(projectRoot, 'config', 'intents-training.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  const [header, ...rows] = lines as [
    {
      meta: { rows: number; perIntent: Record<string, number>; sources: Record<string, { license: string }> };
    },
    ...{ text: string; label: Intent; source: string }[],
  ];

  it('names its sources, their licences and its row counts', () => {
    expect(header.meta.sources.clinc150?.license).toBe('CC BY 3.0');
    expect(header.meta.sources.banking77?.license).toBe('CC BY 4.0');
    expect(rows).toHaveLength(header.meta.rows);
    const counted: Record<string, number> = {};
    for (const row of rows) counted[row.label] = (counted[row.label] ?? 0) + 1;
    expect(counted).toEqual(header.meta.perIntent);
  });

  it('agrees with the mapping row by row (regenerate it after changing the mapping)', () => {
    const disagreeing = rows.filter((row) => {
      const [dataset, label] = row.source.split(':') as ['clinc150' | 'banking77', string];
      return mapLabel(dataset, label, row.text) !== row.label;
    });
    expect(disagreeing).toEqual([]);
  });
});
