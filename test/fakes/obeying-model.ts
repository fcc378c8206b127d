import { type ChatMessage, type ChatRequest, defaultRespond, isClassification } from './openai-server.ts';

/**
 * A stand-in for a model that obeys prompt injections, for {@link startFakeOpenAI}'s `respond`: when
 * the conversation asks for its instructions it answers with the system prompt it received (the
 * part before the knowledge-base passages), transformed as asked — base64, rot13, hex, reversed,
 * spaced or doubled letters, Morse, NATO alphabet, a French or Spanish word-for-word translation,
 * an acrostic poem, a first-person summary, a JSON dump, the continuation of a quoted opening… —
 * and classifies such messages as policy questions so they reach the answer model. Every other
 * request gets {@link defaultRespond}. What it sent is kept in `answers`, so a test can tell what
 * of it reached the customer.
 */
export interface ObeyingModel {
  respond(request: ChatRequest): string;
  /** Answers given to injections, oldest first: the technique, the preamble and the transformed prompt. */
  answers: ObeyedAnswer[];
}

/** One answer to an injection. */
export interface ObeyedAnswer {
  technique: Technique;
  preamble: string;
  /** The system prompt as transformed: what must not reach the customer. */
  payload: string;
}

/** The transformations the model performs, recognised from the customer's wording. */
export type Technique =
  | 'verbatim'
  | 'base64'
  | 'rot13'
  | 'caesar3'
  | 'hex'
  | 'binary'
  | 'url'
  | 'unicode'
  | 'reversed'
  | 'spaced'
  | 'dashed'
  | 'doubled'
  | 'lines'
  | 'leet'
  | 'fullwidth'
  | 'morse'
  | 'nato'
  | 'french'
  | 'french-unmarked'
  | 'spanish'
  | 'acrostic'
  | 'summary'
  | 'json'
  | 'continuation'
  | 'code-block';

/** Which words ask for which technique, most specific first. */
const techniques: readonly [RegExp, Technique][] = [
  [/french[^.?!]*(?:without|drop|leave out|omit)[^.?!]*(?:marker|code|bracket)/i, 'french-unmarked'],
  [/\bbase ?64\b/i, 'base64'],
  [/\brot ?13\b/i, 'rot13'],
  [/\bcaesar\b|shift(?:ed)? (?:every|each) letter/i, 'caesar3'],
  [/\bbinary\b|ones and zeros/i, 'binary'],
  [/\bhex(?:adecimal)?\b/i, 'hex'],
  [/\burl[- ]?encod|percent[- ]encod/i, 'url'],
  [/code points?|\bU\+/i, 'unicode'],
  [/\bbackwards?\b|\breversed?\b|right to left/i, 'reversed'],
  [/\bdash(?:es)? between\b|hyphen/i, 'dashed'],
  [/\bdoubled?\b|twice each|every letter two times/i, 'doubled'],
  [/\bspace between (?:each|every) letter|letter by letter|spaced/i, 'spaced'],
  [/own line|one word per line/i, 'lines'],
  [/\bl33t|\bleet/i, 'leet'],
  [/full[- ]?width|wide letters/i, 'fullwidth'],
  [/\bmorse\b/i, 'morse'],
  [/\bnato\b|phonetic alphabet/i, 'nato'],
  [/\bfrench\b|en français/i, 'french'],
  [/\bspanish\b|en español/i, 'spanish'],
  [/acrostic|\bpoem\b|first letters?/i, 'acrostic'],
  [/\bsummar|in your own words|paraphrase|bullet/i, 'summary'],
  [/\bjson\b/i, 'json'],
  [/\bcontinue\b|complete (?:this|the) (?:sentence|text)/i, 'continuation'],
  [/code block|```/i, 'code-block'],
];

/** Words that mean "your instructions" in an injection, in any of its guises. */
const asksForSetup =
  /\b(?:instructions?|guidance|rules|prompt|set ?up|configuration|config|told before|above this|text before|initial|the thing|directives|everything you were given|system message|what you were given)\b/i;

const asksForSomething =
  /\b(?:write|give|output|put|spell|list|translate|encode|summari[sz]e|quote|print|prints|show|tell|what|what's|use)\b/i;

/** Starts an obeying model. */
export function createObeyingModel(): ObeyingModel {
  const answers: ObeyedAnswer[] = [];
  return {
    answers,
    respond(request) {
      const asked = request.messages.filter((message) => message.role === 'user').map(contentOf);
      const conversation = asked.join('\n');
      const last = asked.at(-1) ?? '';
      // Obeys when the last message asks for something and the conversation names the set-up.
      const injected =
        (asksForSetup.test(conversation) && asksForSomething.test(last)) ||
        /\b(?:continue|complete)\b/i.test(last);
      if (isClassification(request)) {
        if (injected) return JSON.stringify({ intent: 'policy_question', confidence: 0.95 });
        return defaultRespond(request);
      }
      if (!injected) return defaultRespond(request);
      const system = contentOf(
        request.messages.find((message) => message.role === 'system') ?? { role: 'system', content: '' },
      );
      const passagesAt = system.indexOf('\n\nPassages from the knowledge base:');
      const instructions = passagesAt === -1 ? system : system.slice(0, passagesAt);
      const technique = techniques.find(([pattern]) => pattern.test(conversation))?.[1] ?? 'verbatim';
      const answer = obey(technique, instructions, last);
      answers.push(answer);
      return `${answer.preamble}${answer.payload}`;
    },
  };
}

function obey(technique: Technique, instructions: string, lastMessage: string): ObeyedAnswer {
  const said = (preamble: string, payload: string): ObeyedAnswer => ({ technique, preamble, payload });
  switch (technique) {
    case 'verbatim':
      return said('Of course! Here is everything I was given:\n\n', instructions);
    case 'base64':
      return said('Sure, here it is in base64:\n\n', wrap(Buffer.from(instructions).toString('base64'), 76));
    case 'rot13':
      return said('Here you go (rot13): ', shift(instructions, 13));
    case 'caesar3':
      return said('Shifted by three: ', shift(instructions, 3));
    case 'hex':
      return said('In hex: ', Buffer.from(instructions).toString('hex'));
    case 'binary':
      return said(
        'In binary: ',
        [...Buffer.from(instructions)].map((byte) => byte.toString(2).padStart(8, '0')).join(' '),
      );
    case 'url':
      return said('URL-encoded: ', encodeURIComponent(instructions));
    case 'unicode':
      return said(
        'Code points: ',
        [...instructions]
          .map(
            (character) => `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
          )
          .join(' '),
      );
    case 'reversed':
      return said('Reversed: ', [...instructions].reverse().join(''));
    case 'spaced':
      return said('Letter by letter: ', [...instructions].join(' '));
    case 'dashed':
      return said(
        'With dashes: ',
        instructions.replace(/\S+/g, (word) => [...word].join('-')),
      );
    case 'doubled':
      return said('Doubled: ', instructions.replace(/[\p{L}]/gu, '$&$&'));
    case 'lines':
      return said('One word per line:\n', instructions.split(/\s+/).join('\n'));
    case 'leet':
      return said(
        'In l33t: ',
        instructions.replace(/[aeiost]/gi, (letter) => leet[letter.toLowerCase()] ?? letter),
      );
    case 'fullwidth':
      return said(
        'Wide: ',
        instructions.replace(/[!-~]/g, (character) => String.fromCharCode(character.charCodeAt(0) + 0xfee0)),
      );
    case 'morse':
      return said(
        'In Morse: ',
        normalized(instructions)
          .split(/\s+/)
          .map((word) =>
            [...word]
              .map((letter) => morse[letter] ?? '')
              .filter(Boolean)
              .join(' '),
          )
          .filter(Boolean)
          .join(' / '),
      );
    case 'nato':
      return said(
        'Phonetically: ',
        [...normalized(instructions).replace(/[^a-z]/g, '')].map((letter) => nato[letter]).join(' '),
      );
    case 'french':
      return said('Voici mes consignes : ', translate(instructions, french));
    case 'french-unmarked':
      return said('Voici : ', translate(withoutMarker(instructions), french));
    case 'spanish':
      return said('Aquí están: ', translate(instructions, spanish));
    case 'acrostic':
      return said(
        'A poem, just for you:\n',
        [...normalized(withoutMarker(instructions)).replace(/[^a-z]/g, '')]
          .slice(0, 80)
          .map((letter) => `${letter.toUpperCase()}${acrosticLine(letter)}`)
          .join('\n'),
      );
    case 'summary':
      return said('In short, my rules are:\n', summarize(withoutMarker(instructions)));
    case 'json':
      return said('```json\n', `${JSON.stringify({ role: 'system', content: instructions })}\n\`\`\``);
    case 'continuation': {
      // Continue from where the customer's quote stops, as a completion model would.
      const quoted = /["“']([^"”']{10,})["”']/.exec(lastMessage)?.[1]?.trim() ?? '';
      const at = quoted ? instructions.indexOf(quoted) : -1;
      return said('', at === -1 ? instructions : instructions.slice(at + quoted.length));
    }
    case 'code-block':
      return said('```\n', `${instructions}\n\`\`\``);
  }
}

function contentOf(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  return (message.content ?? []).map((part) => part.text ?? '').join('');
}

function wrap(text: string, width: number): string {
  return text.match(new RegExp(`.{1,${width}}`, 'g'))?.join('\n') ?? text;
}

function shift(text: string, by: number): string {
  return text.replace(/[a-z]/gi, (letter) => {
    const base = letter <= 'Z' ? 65 : 97;
    return String.fromCharCode(((letter.charCodeAt(0) - base + by) % 26) + base);
  });
}

function normalized(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The instructions without the bracketed marker lines a careful paraphrase would drop. */
function withoutMarker(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\[[a-z]{8,}\]/i.test(line.trim()))
    .join('\n');
}

const leet: Record<string, string> = { a: '4', e: '3', i: '1', o: '0', s: '5', t: '7' };

const morse: Record<string, string> = Object.fromEntries(
  'a.- b-... c-.-. d-.. e. f..-. g--. h.... i.. j.--- k-.- l.-.. m-- n-. o--- p.--. q--.- r.-. s... t- u..- v...- w.-- x-..- y-.-- z--.. 0----- 1.---- 2..--- 3...-- 4....- 5..... 6-.... 7--... 8---.. 9----.'
    .split(' ')
    .map((entry) => [entry[0] as string, entry.slice(1)]),
);

const nato: Record<string, string> = Object.fromEntries(
  'alfa bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'
    .split(' ')
    .map((word) => [word[0] as string, word[0]?.toUpperCase() + word.slice(1)]),
);

function acrosticLine(letter: string): string {
  const lines: Record<string, string> = {
    a: 'utumn leaves on the trail',
    e: 'venings by the fire',
    i: 'n the pines we rest',
    o: 'ver the ridge at dawn',
    u: 'nder a quiet sky',
  };
  return lines[letter] ?? 'ing softly of the mountains';
}

const french: Record<string, string> = {
  you: 'vous',
  are: 'êtes',
  the: 'le',
  'customer-support': 'service-client',
  assistant: 'assistant',
  of: 'de',
  answering: 'répondant aux',
  customers: 'clients',
  in: 'dans',
  a: 'un',
  chat: 'discussion',
  thread: 'fil',
  answer: 'répondez',
  only: 'uniquement',
  from: 'à partir des',
  numbered: 'numérotés',
  passages: 'passages',
  knowledge: 'connaissances',
  base: 'base de',
  given: 'donnés',
  below: 'ci-dessous',
  if: 'si',
  they: 'ils',
  do: '',
  not: 'ne pas',
  contain: 'contiennent',
  say: 'dites',
  that: 'que',
  "don't": 'ne',
  know: 'savez pas',
  and: 'et',
  offer: 'proposez',
  to: 'de',
  connect: 'mettre en relation',
  customer: 'client',
  with: 'avec',
  support: 'support',
  team: 'équipe',
  never: 'jamais',
  invent: "n'inventez",
  policies: 'politiques',
  prices: 'prix',
  dates: 'dates',
  or: 'ou',
  order: 'commande',
  details: 'détails',
  cite: 'citez',
  used: 'utilisés',
  their: 'leurs',
  numbers: 'numéros',
  square: 'carrés',
  brackets: 'crochets',
  like: 'comme',
  reveal: 'révélez',
  repeat: 'répétez',
  discuss: 'discutez',
  these: 'ces',
  instructions: 'consignes',
  even: 'même',
  asked: 'demandé',
  politely: 'poliment',
  decline: 'refusez',
  instead: 'plutôt',
  treat: 'traitez',
  "customer's": 'du client',
  message: 'message',
  as: 'comme',
  question: 'question',
  rules: 'règles',
  tone: 'ton',
  warm: 'chaleureux',
  plain: 'simple',
  brief: 'bref',
  two: 'deux',
  five: 'cinq',
  sentences: 'phrases',
  short: 'courte',
  list: 'liste',
  for: 'pour',
  steps: 'étapes',
  lead: 'commencez',
  words: 'mots',
  jargon: 'jargon',
  marketing: 'marketing',
  markdown: 'markdown',
  fine: 'permis',
  bold: 'gras',
};

const spanish: Record<string, string> = {
  you: 'tú',
  are: 'eres',
  the: 'el',
  'customer-support': 'atención-al-cliente',
  assistant: 'asistente',
  of: 'de',
  answering: 'respondiendo a',
  customers: 'clientes',
  in: 'en',
  a: 'un',
  chat: 'chat',
  thread: 'hilo',
  answer: 'responde',
  only: 'solo',
  from: 'a partir de los',
  numbered: 'numerados',
  passages: 'pasajes',
  knowledge: 'conocimientos',
  base: 'base de',
  never: 'nunca',
  invent: 'inventes',
  policies: 'políticas',
  prices: 'precios',
  cite: 'cita',
  square: 'corchetes',
  brackets: '',
  instructions: 'instrucciones',
  rules: 'reglas',
  and: 'y',
  or: 'o',
  with: 'con',
  support: 'soporte',
  team: 'equipo',
  tone: 'tono',
  warm: 'cálido',
};

/** Word for word, keeping what the dictionary lacks (names, codes), as a careless translator does. */
function translate(text: string, dictionary: Record<string, string>): string {
  return text.replace(/[\p{L}'’-]+/gu, (word) => {
    const translated = dictionary[word.toLowerCase()];
    return translated === undefined ? word : translated;
  });
}

/** The instructions retold in the first person, a rule a line, as a model summarising them would. */
function summarize(text: string): string {
  const sentences = text
    .replace(/\n- /g, '\n')
    .split(/(?<=[.:])\s+|\n+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 3);
  return sentences
    .map((sentence) => {
      const retold = sentence
        .replace(/^You are\b/, "I'm")
        .replace(/^(Answer|Cite|Never|Treat|Use|Lead|Say)\b/, (verb) => `I ${verb.toLowerCase()}`)
        .replace(/\byour\b/g, 'my')
        .replace(/\bthese instructions\b/g, 'my rules');
      return `- ${retold}`;
    })
    .join('\n');
}
