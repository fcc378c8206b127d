import { stemmer } from 'stemmer';

/** A message as a sparse vector: hashed feature indices and their weights (unit length). */
export interface SparseFeatures {
  indices: Uint32Array;
  values: Float32Array;
  /** Words in the message after normalisation; 0 for empty, emoji-only or punctuation-only text. */
  wordCount: number;
}

/** Options of {@link extractIntentFeatures}. */
export interface IntentFeatureOptions {
  /** Size of the hashed feature space (a power of two). @defaultValue 2 ** 18 */
  dimension?: number;
}

/** Messages longer than this are classified on their start; intent is stated early. */
const maxCharacters = 2_000;

/**
 * Chat shorthand too short for character n-grams to connect to the word it stands for ("u" shares
 * no trigram with "you"). Misspellings ("retrun", "refnud", "cancle") are left to the n-grams and
 * the spelling skeletons below, not listed here.
 */
const shorthand: Readonly<Record<string, string>> = {
  u: 'you',
  ya: 'you',
  ur: 'your',
  yr: 'your',
  r: 'are',
  pls: 'please',
  plz: 'please',
  pl: 'please',
  thx: 'thanks',
  thnx: 'thanks',
  tx: 'thanks',
  ty: 'thank you',
  tysm: 'thank you so much',
  tyvm: 'thank you very much',
  wanna: 'want to',
  gonna: 'going to',
  gotta: 'got to',
  im: 'i am',
  ive: 'i have',
  b4: 'before',
  w: 'with',
  abt: 'about',
  bc: 'because',
  cuz: 'because',
  coz: 'because',
  msg: 'message',
  pkg: 'package',
  ppl: 'people',
  rn: 'right now',
  nvm: 'never mind',
  idk: 'i do not know',
  wat: 'what',
  wut: 'what',
  wats: 'what is',
  whats: 'what is',
  wheres: 'where is',
  hows: 'how is',
  whens: 'when is',
  k: 'ok',
  kk: 'ok',
  okay: 'ok',
  smth: 'something',
  sth: 'something',
  hrs: 'hours',
  mins: 'minutes',
  wk: 'week',
  wks: 'weeks',
  dont: 'do not',
  doesnt: 'does not',
  didnt: 'did not',
  cant: 'can not',
  cannot: 'can not',
  wont: 'will not',
  isnt: 'is not',
  hasnt: 'has not',
  havent: 'have not',
  hadnt: 'had not',
  wasnt: 'was not',
  arent: 'are not',
  aint: 'is not',
};

/**
 * The message's words: accents and combining marks (zalgo) stripped, lower case, apostrophes
 * dropped ("what's" = "whats"), chat shorthand expanded, long numbers (order numbers) and short
 * ones (sizes, counts) replaced by placeholders.
 */
export function intentWords(text: string): string[] {
  const plain = text
    .slice(0, maxCharacters)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’`´]/g, '')
    .replace(/\bpc-?\d+/g, ' 00000 ');
  const words: string[] = [];
  for (const token of plain.match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (/^\d{4,}$/.test(token)) words.push('<number>');
    else if (/^\d+$/.test(token)) words.push('<n>');
    else words.push(...(shorthand[token] ?? token).split(' '));
  }
  return words;
}

/**
 * Asking for a person (INTENTS.md: a human or a manager → complaint, whatever else is said). A cue
 * rather than only words, so "a manager to call me" weighs like "speak to a human".
 */
const person =
  /\b(?:human|person|manager|supervisor|agent|representative|rep|operator|someone in charge|someone real|somebody real)\b/;

/** The same words by spelling skeleton, so "manger" and "supervsor" ask for a person too. */
const personSkeletons: ReadonlySet<string> = new Set(
  ['human', 'person', 'manager', 'supervisor', 'representative', 'operator'].map((word) => skeleton(word)),
);

/** Anger and grievance words, stems matched loosely; one cue so a rare one counts like a common one. */
const anger =
  /\b(?:ridiculous|unacceptable|furious|fuming|livid|angry|annoyed|upset|terrible|awful|horrible|worst|pathetic|disgust\w*|outrage\w*|insane|joke|scam\w*|rip ?off|useless|garbage|junk|rubbish|crap\w*|sucks?|cheated|ruined|disappoint\w*|frustrat\w*|fed up|sick of|wtf|shocking|disgrace\w*|nightmare|incompetent|unbelievable|shambles|complain\w*|escalat\w*)\b/;

/** First letter and consonants, repeats collapsed: "retrun" and "return" are both "rtrn". */
function skeleton(word: string): string {
  return (word[0] + word.slice(1).replace(/[aeiou]/g, '')).replace(/(.)\1+/g, '$1');
}

/** Letters in order: a swapped pair ("wnat", "refnud") keeps the word's key. */
function anagram(word: string): string {
  return [...word].sort().join('');
}

/**
 * The classifier's view of a message, as hashed features of unit length:
 * - words, Porter stems and word pairs (with start and end marks: "<s> where", "order ?"), which
 *   carry the intent; function words are kept ("my order" vs "an order");
 * - character 3- to 5-grams of each word, and each word's consonant skeleton and sorted letters,
 *   so that typos and run-together spellings land near the word meant;
 * - cues no single word carries: an order number, shouting or "!!", a question mark, a very short
 *   message.
 * Counts are dampened (1 + ln n, at most 2) so a word repeated a thousand times is not many votes.
 */
export function extractIntentFeatures(text: string, options: IntentFeatureOptions = {}): SparseFeatures {
  const dimension = options.dimension ?? 2 ** 18;
  const words = intentWords(text);
  const counts = new Map<number, number>();
  const add = (name: string, weight: number) => {
    const index = hash(name) & (dimension - 1);
    counts.set(index, (counts.get(index) ?? 0) + weight);
  };
  add('bias', 1);
  const marked = ['<s>', ...words, '</s>'];
  const stems = marked.map((word) => stemmer(word));
  for (let index = 0; index < words.length; index++) {
    const word = words[index] as string;
    add(`w:${word}`, 1);
    const stem = stems[index + 1] as string;
    if (stem !== word) add(`s:${stem}`, 1);
    if (word.length >= 4 && /^\p{L}+$/u.test(word)) {
      add(`k:${skeleton(word)}`, 0.5);
      add(`a:${anagram(word)}`, 0.5);
    }
    const padded = `<${word}>`;
    for (let size = 3; size <= 5; size++) {
      for (let start = 0; start + size <= padded.length; start++)
        add(`g:${padded.slice(start, start + size)}`, 1);
    }
  }
  for (let index = 1; index < marked.length; index++) {
    add(`b:${marked[index - 1]} ${marked[index]}`, 1);
    if (index > 1) add(`bs:${stems[index - 1]} ${stems[index]}`, 0.5);
  }
  const clipped = text.slice(0, maxCharacters);
  if (words.includes('<number>')) add('cue:order-number', 1);
  if (/!{2,}|\b[A-Z]{3,}\b(?<!\b(?:PC|USA|UK|EU|XXL|XL|LED|USB|ETA|ASAP|OK|FAQ)\b)/.test(clipped))
    add('cue:shouting', 1);
  if (/\?\s*$/.test(clipped.trim())) add('cue:question', 1);
  const joined = words.join(' ');
  if (person.test(joined) || words.some((word) => word.length >= 5 && personSkeletons.has(skeleton(word))))
    add('cue:person', 3);
  if (anger.test(joined)) add('cue:anger', 3);
  if (words.length <= 2) add('cue:short', 1);

  const indices = Uint32Array.from(counts.keys()).sort();
  const values = new Float32Array(indices.length);
  let norm = 0;
  indices.forEach((featureIndex, position) => {
    const count = counts.get(featureIndex) as number;
    const value = count >= 1 ? Math.min(1 + Math.log(count), 2) : count;
    values[position] = value;
    norm += value * value;
  });
  norm = Math.sqrt(norm);
  for (let position = 0; position < values.length; position++)
    values[position] = (values[position] as number) / norm;
  return { indices, values, wordCount: words.length };
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index++)
    value = Math.imul(value ^ text.charCodeAt(index), 0x01000193);
  return value >>> 0;
}
