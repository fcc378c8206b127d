import { readFileSync } from 'node:fs';

/** A question the workload asks, in several wordings that share one correct answer. */
export interface Topic {
  topic: string;
  intent: string;
  paraphrases: string[];
}

/** One request of the workload. */
export interface WorkloadItem {
  topic: string;
  intent: string;
  text: string;
  /** How it was reworded from a paraphrase: `as-is`, `case`, `punctuation`, `typo`, `filler`. */
  rewording: string;
}

export function readTopics(file: string): Topic[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Topic);
}

/** A small seeded generator (mulberry32), so a run can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Samples ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s. */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const weights = Array.from({ length: n }, (_, rank) => 1 / (rank + 1) ** s);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const weight of weights) {
    running += weight / total;
    cumulative.push(running);
  }
  return () => {
    const draw = random();
    const index = cumulative.findIndex((bound) => draw <= bound);
    return index === -1 ? n - 1 : index;
  };
}

const fillers = {
  before: ['hi, ', 'Hello! ', 'hey there, ', 'Quick question: ', 'Hi team, '],
  after: [' thanks!', ' Thank you.', ' thx', ' please', ' :)'],
};

/** Introduces one typo in a word of at least five letters: a swap, a dropped or a doubled letter. */
function typo(text: string, random: () => number): string {
  const words = text.split(' ');
  const candidates = words
    .map((word, index) => ({ word, index }))
    .filter(({ word }) => /^[a-z]{5,}$/i.test(word));
  if (candidates.length === 0) return text;
  const { word, index } = candidates[Math.floor(random() * candidates.length)] as {
    word: string;
    index: number;
  };
  const at = 1 + Math.floor(random() * (word.length - 2));
  const kind = Math.floor(random() * 3);
  const changed =
    kind === 0
      ? word.slice(0, at) + (word[at + 1] ?? '') + (word[at] ?? '') + word.slice(at + 2)
      : kind === 1
        ? word.slice(0, at) + word.slice(at + 1)
        : word.slice(0, at) + (word[at] ?? '') + word.slice(at);
  words[index] = changed;
  return words.join(' ');
}

/** Rewords a paraphrase the way customers do: case, punctuation, a typo, a greeting or thanks. */
export function reword(text: string, random: () => number): { text: string; rewording: string } {
  const draw = random();
  if (draw < 0.3) return { text, rewording: 'as-is' };
  if (draw < 0.45)
    return { text: random() < 0.5 ? text.toLowerCase() : text.toUpperCase(), rewording: 'case' };
  if (draw < 0.6)
    return {
      text: text.replace(/[?.!]+$/, '') + ['', '??', '?!', '...', ' ?'][Math.floor(random() * 5)],
      rewording: 'punctuation',
    };
  if (draw < 0.8) return { text: typo(text, random), rewording: 'typo' };
  const before = random() < 0.5;
  const pool = before ? fillers.before : fillers.after;
  const filler = pool[Math.floor(random() * pool.length)] as string;
  return {
    text: before ? filler + text.charAt(0).toLowerCase() + text.slice(1) : text + filler,
    rewording: 'filler',
  };
}

/**
 * The workload: topics ranked in a seeded random order and drawn with a Zipf distribution
 * (a few questions very often, a long tail rarely), each time one of the topic's paraphrases,
 * reworded.
 */
export function createWorkload(topics: readonly Topic[], options: { seed: number; zipf: number }) {
  const random = seededRandom(options.seed);
  const ranked = [...topics].sort(() => random() - 0.5);
  const rank = zipfSampler(ranked.length, options.zipf, random);
  return (): WorkloadItem => {
    const topic = ranked[rank()] as Topic;
    const paraphrase = topic.paraphrases[Math.floor(random() * topic.paraphrases.length)] as string;
    const { text, rewording } = reword(paraphrase, random);
    return { topic: topic.topic, intent: topic.intent, text, rewording };
  };
}
