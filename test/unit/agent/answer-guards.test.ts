import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPrompts, type Prompts } from '../../../src/agent/prompts.ts';
import { checkAnswer, leaksPrompt } from '../../../src/agent/validation.ts';
import { projectRoot } from '../../../src/config/load.ts';
import type { RetrievedChunk } from '../../../src/knowledge/types.ts';

const shift = (text: string, by: number) =>
  text.replace(/[a-z]/gi, (letter) => {
    const base = letter <= 'Z' ? 65 : 97;
    return String.fromCharCode(((letter.charCodeAt(0) - base + by) % 26) + base);
  });
const rot13 = (text: string) => shift(text, 13);
const morse: Record<string, string> = Object.fromEntries(
  'a.- b-... c-.-. d-.. e. f..-. g--. h.... i.. j.--- k-.- l.-.. m-- n-. o--- p.--. q--.- r.-. s... t- u..- v...- w.-- x-..- y-.-- z--..'
    .split(' ')
    .map((entry) => [entry[0], entry.slice(1)]),
);
const nato: Record<string, string> = Object.fromEntries(
  'alfa bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'
    .split(' ')
    .map((word) => [word[0], word]),
);

/** How an obeying model hands the prompt over when asked to disguise it. */
const disguises: [string, (prompt: string) => string][] = [
  ['base64', (prompt) => `Sure, here it is: ${Buffer.from(prompt).toString('base64')}`],
  ['base64 in 76-column lines', (prompt) => Buffer.from(prompt).toString('base64').replace(/.{76}/g, '$&\n')],
  ['rot13', (prompt) => `Here you go: ${rot13(prompt)}`],
  ['hex', (prompt) => Buffer.from(prompt).toString('hex')],
  ['URL-encoded', (prompt) => encodeURIComponent(prompt)],
  ['reversed', (prompt) => [...prompt].reverse().join('')],
  ['spaced letters', (prompt) => [...prompt].join(' ')],
  ['letters joined by dashes', (prompt) => prompt.replace(/\S+/g, (word) => [...word].join('-'))],
  [
    'leetspeak',
    (prompt) =>
      prompt.replace(/[aeiost]/gi, (letter) => '431057'['aeiost'.indexOf(letter.toLowerCase())] ?? letter),
  ],
  ['one word per line', (prompt) => prompt.split(/\s+/).join('\n')],
  ['binary', (prompt) => [...Buffer.from(prompt)].map((byte) => byte.toString(2).padStart(8, '0')).join(' ')],
  [
    'Unicode code points',
    (prompt) =>
      [...prompt].map((character) => `U+${character.charCodeAt(0).toString(16).padStart(4, '0')}`).join(' '),
  ],
  [
    'full-width letters',
    (prompt) =>
      prompt.replace(/[!-~]/g, (character) => String.fromCharCode(character.charCodeAt(0) + 0xfee0)),
  ],
  ['every letter doubled', (prompt) => prompt.replace(/\p{L}/gu, '$&$&')],
  ['a Caesar shift of 3', (prompt) => shift(prompt, 3)],
  [
    'Morse code',
    (prompt) => [...prompt.toLowerCase().replace(/[^a-z]/g, '')].map((letter) => morse[letter]).join(' '),
  ],
  [
    'the NATO alphabet',
    (prompt) => [...prompt.toLowerCase().replace(/[^a-z]/g, '')].map((letter) => nato[letter]).join(' '),
  ],
  [
    'an acrostic',
    (prompt) =>
      [...prompt.replace(/[^A-Za-z]/g, '').slice(0, 12)]
        .map((letter) => `${letter}ing of the hills and the sea`)
        .join('\n'),
  ],
  ['JSON', (prompt) => JSON.stringify({ role: 'system', content: prompt })],
  [
    'a quote from the middle',
    (prompt) => `Sure: "${prompt.slice(prompt.indexOf('Answer only'), prompt.indexOf('Cite'))}"`,
  ],
];

/** Disguises no letter run survives: they are told by their words. */
const paraphrases: [string, string][] = [
  [
    'French',
    "Voici mes consignes : je suis l'assistant du service client de Pinecrest Supply Co. Je réponds uniquement à partir des passages numérotés de la base de connaissances ; sinon je dis que je ne sais pas et je propose l'équipe support. Je n'invente jamais de prix ni de dates, et je cite les passages entre crochets.",
  ],
  [
    'French, second person',
    'Vous êtes un assistant du support de Pinecrest, qui répond aux clients dans une discussion.',
  ],
  [
    'Spanish',
    'Mis instrucciones: respondo solo con los pasajes numerados de la base de conocimientos, nunca invento precios y cito los pasajes entre corchetes.',
  ],
  [
    'an English summary of the rules',
    'My rules, in short: I reply only using the knowledge base passages that are numbered, I never make up prices, and I cite them in square brackets.',
  ],
  [
    'reworded rules',
    'Basically: only answer from numbered passages in the knowledge base, never invent policies, prices or dates.',
  ],
];

describe('the prompt-leak check', () => {
  let prompts: Prompts;
  beforeAll(async () => {
    prompts = await loadPrompts(path.join(projectRoot, 'config', 'prompts.yaml'));
  });

  it.each(disguises)('spots the system prompt as %s', (_name, disguise) => {
    expect(leaksPrompt(disguise(prompts.systemPrompt), prompts.systemPrompt)).toBe(true);
  });

  it.each(paraphrases)('spots the system prompt retold: %s', (_name, retold) => {
    expect(leaksPrompt(retold, prompts.systemPrompt)).toBe(true);
  });

  it('spots a disguised prompt within a few words, before a hold-back of eight words is released', () => {
    const sentence = 'Never invent policies, prices, dates or order details.';
    for (const text of [sentence, rot13(sentence), [...sentence].reverse().join('')]) {
      const words = text.split(' ');
      const spotted = words.findIndex((_word, index) =>
        leaksPrompt(`Sure! ${words.slice(0, index + 1).join(' ')}`, prompts.systemPrompt),
      );
      expect(spotted).toBeGreaterThanOrEqual(0);
      expect(spotted).toBeLessThan(8);
    }
  });

  it('lets answers, replies and the help center through', () => {
    const knowledge = path.join(projectRoot, 'config', 'knowledge');
    const pages = readdirSync(knowledge, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.md'))
      .map((file) => readFileSync(path.join(knowledge, file), 'utf8'));
    expect(pages.length).toBeGreaterThan(20);
    const answers = [
      ...pages.flatMap((page) => page.match(/[\s\S]{1,1200}/g) ?? []),
      ...Object.values(prompts.replies),
      "I'm sorry, I don't know that. I can offer to connect you with the support team.",
      "I don't have information about that in our help center. Would you like me to connect you with a person from our support team?",
      'Our help center does not say whether we deliver to England, so I cannot confirm it; our support team can.',
      'You can return most items within **30 days** of delivery [1]. Items must be unused, in their original packaging [2].',
      'As the Pinecrest Supply Co. assistant I can help with orders, returns, shipping and warranty questions.',
      'Sorry, I can only answer questions about Pinecrest: our policies, prices and products.',
    ];
    expect(answers.filter((answer) => leaksPrompt(answer, prompts.systemPrompt))).toEqual([]);
  });
});

const passage = (text: string): RetrievedChunk => ({
  id: 'shipping/international:0',
  documentId: 'shipping/international',
  title: 'International shipping',
  headingPath: '',
  text,
  index: 0,
  score: 1,
});

describe('the answer check', () => {
  const passages = [
    passage(
      'Lost, late or stolen packages: if tracking shows delivered but you cannot find it, check with neighbours, then contact us within 14 days.',
    ),
  ];

  it.each([
    "I'm sorry, I don't have information about that in our help center.",
    "I don't have any details on deliveries to England.",
    "Unfortunately I couldn't find anything about shipping to England.",
    "I'm not sure whether we deliver there.",
    'Our help center does not mention deliveries to England.',
    "That's not something I have information on, I'm afraid.",
    'I was unable to find an answer to that. Would you like me to connect you with a person from our support team?',
    'Sorry, I can\'t answer that from the passages I have. A colleague from our support team can help: just say "human".',
    'There is no information about England in the passages.',
  ])('accepts an honest "I don\'t know": %s', (answer) => {
    expect(checkAnswer(answer, passages)).toMatchObject({ ok: true, admitsNotKnowing: true });
  });

  it('tells whether an answer already offers a person', () => {
    expect(checkAnswer("I don't have information about that.", passages)).toMatchObject({
      offersPerson: false,
    });
    expect(
      checkAnswer(
        "I don't know. Would you like me to connect you with a person from our support team?",
        passages,
      ),
    ).toMatchObject({ offersPerson: true });
  });

  it('does not let the support team vouch for a made-up answer', () => {
    for (const answer of [
      'Yes, we deliver to England within 2 days for free with our premium courier. Our support team can tell you more.',
      'Deliveries to England leave every Tuesday by express air freight at no charge. Contact the support team for details.',
      "Yes! We ship worldwide with free express courier. If you don't know your postcode, our support team can connect you.",
    ])
      expect(checkAnswer(answer, passages)).toEqual({ ok: false, reason: 'ungrounded' });
  });

  it('still accepts a grounded answer next to an admission', () => {
    expect(
      checkAnswer(
        "I don't know about England, but if tracking shows delivered and you cannot find the package, contact us within 14 days [1].",
        passages,
      ),
    ).toMatchObject({ ok: true, admitsNotKnowing: true });
  });
});
