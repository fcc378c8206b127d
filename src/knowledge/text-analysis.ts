/**
 * Text analysis shared by the offline embedder and the lexical index: normalisation, stopwords, a
 * light English stemmer and a help-center concept map, so that "send it back for my money" and
 * "returns and refunds" meet on the same features. Deterministic and dependency-free.
 */

const stopwords = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below ' +
    'between both but by can could did do does doing down during each few for from further had has have ' +
    'having he her here hers herself him himself his how i if in into is it its itself just me more most ' +
    'my myself no nor not of off on once only or other our ours ourselves out over own same she should so ' +
    'some such than that the their theirs them themselves then there these they this those through to too ' +
    'under until up very was we were what when where which while who whom why will with would you your ' +
    'yours yourself yourselves im ive id dont doesnt didnt cant wont isnt arent wasnt hi hello hey please ' +
    'thanks thank thx pls plz also get got really want wanna need like know tell us let lets may might must ' +
    'shall one yes ok okay hey there anyone someone something anything still even much many way well'
  ).split(' '),
);

/**
 * Lowercases, applies NFKC, strips diacritics and combining marks (zalgo), and drops apostrophes so
 * "don't" and "dont" are one word.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/['’‘`]/g, '');
}

/** Words and numbers of a text, normalised, in order (stopwords included). */
export function splitWords(text: string): string[] {
  return normalizeText(text).match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Whether a normalised word carries no meaning for retrieval. */
export function isStopword(word: string): boolean {
  return stopwords.has(word);
}

const vowel = /[aeiouy]/;

/**
 * A light, conservative suffix stemmer: plurals, -ing, -ed, -ly, -ment, -ness, -ation and friends,
 * then a trailing e, so "arrive", "arrives", "arrived" and "arriving" share the stem "arriv".
 */
export function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);

  for (const suffix of ['ingly', 'edly', 'ing', 'ed']) {
    if (w.endsWith(suffix) && vowel.test(w.slice(0, -suffix.length)) && w.length - suffix.length >= 3) {
      w = w.slice(0, -suffix.length);
      if (/([^aeiouslz])\1$/.test(w)) w = w.slice(0, -1);
      break;
    }
  }
  const rules: [string, string][] = [
    ['ational', 'ate'],
    ['ization', 'ize'],
    ['fulness', 'ful'],
    ['iveness', 'ive'],
    ['ousness', 'ous'],
    ['ements', 'e'],
    ['ement', 'e'],
    ['ments', ''],
    ['ment', ''],
    ['ness', ''],
    ['ation', 'ate'],
    ['ition', 'ite'],
    ['ably', 'able'],
    ['ibly', 'ible'],
    ['fully', 'ful'],
    ['ily', 'y'],
    ['ly', ''],
  ];
  for (const [suffix, replacement] of rules) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3) {
      w = w.slice(0, -suffix.length) + replacement;
      break;
    }
  }
  if (w.length > 3 && w.endsWith('e')) w = w.slice(0, -1);
  if (w.length > 3 && w.endsWith('y')) w = `${w.slice(0, -1)}i`;
  return w;
}

/**
 * Help-center concepts: the many ways customers say the same thing. Keys are concept names; values
 * are words or phrases (matched on stems, so inflections are covered). General vocabulary, not one
 * store's.
 */
const conceptPhrases: Record<string, string[]> = {
  return: ['return', 'send back', 'ship back', 'give back', 'take back', 'mail back', 'returnable', 'rma'],
  refund: [
    'refund',
    'money back',
    'reimburse',
    'repay',
    'credit back',
    'chargeback',
    'reversal',
    'reverse charge',
    'get paid back',
  ],
  exchange: ['exchange', 'swap', 'replace', 'replacement', 'different size', 'another size'],
  cancel: ['cancel', 'cancellation', 'call off', 'stop order', 'undo order', 'withdraw'],
  shipping: [
    'ship',
    'shipping',
    'shipment',
    'deliver',
    'delivery',
    'parcel',
    'package',
    'postage',
    'courier',
    'dispatch',
    'freight',
    'transit',
    'arrive',
    'arrival',
    'carrier',
    'post',
    'mail',
  ],
  time: [
    'how long',
    'how soon',
    'how many day',
    'when',
    'time',
    'day',
    'week',
    'fast',
    'quick',
    'eta',
    'soon',
  ],
  tracking: ['track', 'tracking', 'where is', 'status', 'trace', 'locate'],
  lost: [
    'lost',
    'missing',
    'never arrive',
    'never came',
    'never show',
    'not arrive',
    'didnt arrive',
    'stolen',
  ],
  international: [
    'international',
    'abroad',
    'overseas',
    'worldwide',
    'country',
    'countries',
    'outside',
    'foreign',
    'customs',
    'duty',
    'duties',
    'import',
  ],
  payment: [
    'pay',
    'payment',
    'charge',
    'charged',
    'bill',
    'billing',
    'card',
    'credit card',
    'debit',
    'paypal',
    'apple pay',
    'google pay',
    'checkout',
    'installment',
    'klarna',
    'afterpay',
  ],
  price: ['price', 'cost', 'how much', 'fee', 'expensive', 'cheap', 'pricing', 'rate', 'dollar', 'usd'],
  discount: ['discount', 'coupon', 'promo', 'promotion', 'voucher', 'code', 'sale', 'deal', 'offer'],
  giftcard: ['gift card', 'gift certificate', 'gift voucher', 'store credit', 'e gift'],
  account: [
    'account',
    'login',
    'log in',
    'sign in',
    'signin',
    'logon',
    'profile',
    'register',
    'sign up',
    'signup',
    'username',
    'user name',
  ],
  password: ['password', 'passcode', 'pw', 'pwd', 'reset', 'forgot', 'locked out', 'cant log'],
  delete: ['delete', 'remove', 'close account', 'deactivate', 'erase', 'terminate', 'get rid'],
  privacy: ['privacy', 'personal data', 'personal information', 'gdpr', 'ccpa', 'data', 'cookie', 'track me'],
  subscription: [
    'newsletter',
    'unsubscribe',
    'subscribe',
    'mailing list',
    'marketing email',
    'promotional email',
    'spam',
  ],
  loyalty: ['loyalty', 'reward', 'point', 'member', 'membership', 'tier', 'perk'],
  invoice: ['invoice', 'receipt', 'vat', 'tax', 'sales tax', 'bill copy', 'proof of purchase'],
  damage: [
    'damage',
    'damaged',
    'broken',
    'break',
    'defect',
    'defective',
    'faulty',
    'crack',
    'torn',
    'tear',
    'rip',
    'dent',
    'not work',
    'doesnt work',
    'stopped work',
    'malfunction',
    'fault',
  ],
  wrong: [
    'wrong item',
    'wrong size',
    'wrong color',
    'incorrect',
    'not what i ordered',
    'mixed up',
    'mistake',
  ],
  warranty: ['warranty', 'guarantee', 'guaranty', 'lifetime', 'coverage', 'covered', 'claim'],
  contact: [
    'contact',
    'phone',
    'call',
    'email',
    'reach',
    'talk',
    'speak',
    'agent',
    'human',
    'representative',
    'rep',
    'person',
    'chat',
    'support',
    'customer service',
  ],
  hours: ['hour', 'open', 'opening', 'available', 'weekend', 'holiday', 'business day'],
  stock: [
    'stock',
    'in stock',
    'out of stock',
    'sold out',
    'availability',
    'restock',
    'back in stock',
    'inventory',
    'backorder',
  ],
  size: ['size', 'sizing', 'fit', 'dimension', 'big', 'small', 'large', 'length', 'width', 'tall', 'measure'],
  weight: ['weight', 'weigh', 'heavy', 'lightweight', 'pound', 'lb', 'lbs', 'kg', 'gram', 'ounce', 'oz'],
  waterproof: ['waterproof', 'water resistant', 'water proof', 'rain', 'wet', 'leak', 'rainproof'],
  care: ['clean', 'wash', 'care', 'maintain', 'maintenance', 'store', 'dry', 'season'],
  material: ['material', 'made of', 'fabric', 'aluminum', 'steel', 'nylon', 'polyester', 'cotton', 'wool'],
  include: ['include', 'in the box', 'come with', 'comes with', 'contents', 'accessory', 'accessories'],
  compatible: ['compatible', 'compatibility', 'work with', 'fit with', 'fits', 'adapter'],
  pricematch: [
    'price match',
    'price adjustment',
    'cheaper elsewhere',
    'lower price',
    'beat price',
    'price drop',
  ],
  order: ['order', 'purchase', 'bought', 'buy', 'checkout', 'cart'],
  address: ['address', 'change address', 'wrong address', 'ship to', 'shipping address', 'po box'],
};

interface ConceptEntry {
  concept: string;
  stems: string[];
}

const conceptEntries: ConceptEntry[] = Object.entries(conceptPhrases).flatMap(([concept, phrases]) => {
  // "ship" and "shipping" share a stem: one entry each, so a word counts once per concept.
  const unique = new Map(
    phrases.map((phrase) => {
      const stems = splitWords(phrase).map(stem);
      return [stems.join(' '), stems] as const;
    }),
  );
  return [...unique.values()].map((stems) => ({ concept, stems }));
});
const conceptsByFirstStem = new Map<string, ConceptEntry[]>();
for (const entry of conceptEntries) {
  const first = entry.stems[0];
  if (first === undefined) continue;
  const list = conceptsByFirstStem.get(first) ?? [];
  list.push(entry);
  conceptsByFirstStem.set(first, list);
}

/** A text analysed for retrieval. */
export interface AnalyzedText {
  /** Stems of the meaningful words, in order. */
  terms: string[];
  /** Concept names found (one per occurrence), prefixed with `#`. */
  concepts: string[];
  /** The normalised words that produced `terms` (same order), for character n-grams. */
  words: string[];
}

/** Normalises, drops stopwords, stems, and finds concepts (on all words, stopwords included). */
export function analyze(text: string): AnalyzedText {
  const allWords = splitWords(text);
  const allStems = allWords.map(stem);
  const terms: string[] = [];
  const words: string[] = [];
  const concepts: string[] = [];
  for (let index = 0; index < allWords.length; index++) {
    const word = allWords[index] as string;
    const stemmed = allStems[index] as string;
    if (!isStopword(word)) {
      terms.push(stemmed);
      words.push(word);
    }
    for (const entry of conceptsByFirstStem.get(stemmed) ?? []) {
      if (matchesAt(entry.stems, allStems, index)) concepts.push(`#${entry.concept}`);
    }
  }
  return { terms, concepts, words };
}

/**
 * Whether a phrase's stems occur at `start`. A two-word phrase may have up to two words between its
 * parts, for phrasal verbs with an object inside: "send the boots back".
 */
function matchesAt(phrase: readonly string[], stems: readonly string[], start: number): boolean {
  if (phrase.length === 2) {
    for (let gap = 0; gap <= 2; gap++) if (stems[start + 1 + gap] === phrase[1]) return true;
    return false;
  }
  return phrase.every((part, offset) => stems[start + offset] === part);
}
