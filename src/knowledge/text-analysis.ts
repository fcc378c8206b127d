/**
 * Text analysis shared by the offline embedder and the lexical index: normalisation, stopwords, a
 * light English stemmer and a help-center concept map, so that "send it back for my money" and
 * "returns and refunds" meet on the same features. Deterministic and dependency-free.
 */

// Function words and chat filler only: words such as "no", "off", "out" or "own" carry meaning in
// support questions ("no service", "turn off", "out of stock", "my own phone"), and BM25's IDF
// already discounts the common ones.
const stopwords = new Set(
  (
    'a about am an and any are as at be because been being both but by could did do does doing during ' +
    'each for from had has have having he her here hers herself him himself his how i if in into is it ' +
    'its itself just me my myself of on or our ours ourselves she should so some such than that the ' +
    'their theirs them themselves then there these they this those to very was we were what when where ' +
    'which while who whom why will with would you your yours yourself yourselves im ive id youre dont ' +
    'doesnt didnt isnt arent wasnt hi hello hey please thanks thank thx pls plz also really want wanna ' +
    'need like know tell us let lets may might must shall yes ok okay anyone someone something anything ' +
    'still even much many well guys get gets got getting can'
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

// Derivational suffixes, longest first, with what replaces them; applied once, when at least three
// letters remain, so "activation", "activated" and "activate" meet at "activat".
const suffixRules: readonly (readonly [string, string])[] = [
  ['izations', 'iz'],
  ['ization', 'iz'],
  ['isation', 'iz'],
  ['ational', 'at'],
  ['fulness', 'ful'],
  ['iveness', 'iv'],
  ['ousness', 'ous'],
  ['ability', 'abl'],
  ['ibility', 'ibl'],
  ['ations', 'at'],
  ['ation', 'at'],
  ['ition', 'it'],
  ['ements', ''],
  ['ement', ''],
  ['ments', ''],
  ['ment', ''],
  ['ness', ''],
  ['ably', 'abl'],
  ['ibly', 'ibl'],
  ['fully', 'ful'],
  ['ily', 'i'],
  ['ly', ''],
];

/**
 * A light, conservative suffix stemmer: plurals, -ing, -ed, -ly, -ment, -ness, -ation and friends,
 * then a trailing e, so "arrive", "arrives", "arrived" and "arriving" share the stem "arriv".
 * Words of three letters or fewer and words with digits are kept as they are.
 */
export function stem(word: string): string {
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    stemmed = stemWord(word);
    // Vocabularies are small, so the cache is too; it is dropped rather than grown without bound.
    if (stemCache.size >= 50_000) stemCache.clear();
    stemCache.set(word, stemmed);
  }
  return stemmed;
}

const stemCache = new Map<string, string>();

function stemWord(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.length >= 7) w = w.replace(/is(e|es|ed|ing|ation|ations)$/, 'iz$1');
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
  // British spellings: "colour" and "color", "centre" and "center".
  if (w.length >= 6) w = w.replace(/our$/, 'or').replace(/tre$/, 'ter');
  for (const [suffix, replacement] of suffixRules) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3) {
      w = w.slice(0, -suffix.length) + replacement;
      break;
    }
  }
  if (w.length > 3 && w.endsWith('e')) w = w.slice(0, -1);
  if (w.length > 3 && w.endsWith('y')) w = `${w.slice(0, -1)}i`;
  // "cancelled" and "cancel", "enrolled" and "enrol"; short words like "call" keep their double l.
  if (w.length > 5 && w.endsWith('ll')) w = w.slice(0, -1);
  return w;
}

/**
 * Help-center concepts: the many ways customers say the same thing, across shops, banks, carriers
 * and software. Keys are concept names; values are comma-separated words or phrases, matched on
 * stems (so inflections are covered). A phrase may belong to several concepts.
 */
const conceptPhrases: Record<string, string> = {
  // Orders, delivery and returns
  order: 'order, purchase, bought, buy, cart, checkout, place order',
  item: 'item, product, thing, stuff, goods, merchandise, article',
  cancel:
    'cancel, cancellation, call off, undo, withdraw, terminate, termination, quit, stop order, ' +
    'end subscription, end contract, close account',
  change: 'change, modify, edit, update, amend, alter, correct, tweak, adjust, revise',
  address:
    'address, ship to, shipping address, po box, moved, move house, relocate, new home, billing address',
  shipping:
    'ship, shipping, shipment, dispatch, courier, postage, freight, fedex, ups, usps, dhl, royal mail, ' +
    'delivery fee, shipping cost, free shipping, parcel, package, delivery',
  delivery:
    'deliver, delivery, arrive, arrival, get here, show up, turn up, on its way, en route, in transit, ' +
    'transit, out for delivery, expected date, eta, received, receive',
  express: 'express, expedited, overnight, next day, rush, faster shipping, priority, same day',
  package: 'package, parcel, box, shipment',
  tracking:
    'track, tracking, trace, where is, whereabouts, status, locate, tracking number, order status, ' +
    'follow parcel, follow package, follow order',
  lost:
    'lost, lose, missing, never arrive, never came, never show, not arrive, didnt arrive, havent arrive, ' +
    'not receive, never receive, didnt receive, havent receive, stolen, disappear, misplace, cant find',
  delay:
    'delay, delayed, taking long, taking forever, behind schedule, held up, stuck, late delivery, ' +
    'still not here, still waiting',
  incomplete: 'missing part, missing piece, missing item, incomplete, part of my order, not everything',
  wrong:
    'wrong item, wrong size, wrong color, wrong colour, wrong product, wrong order, incorrect, ' +
    'not what i ordered, mixed up, mistake, different item, sent the wrong, wrong amount',
  damage:
    'damage, broken, break, broke, defect, defective, faulty, crack, smash, shatter, torn, tear, rip, ' +
    'dent, scratch, bent, not work, doesnt work, stopped work, wont work, malfunction, fault, ' +
    'dead on arrival, doa, wont turn on, water damage, busted, ruined, chipped, stain',
  return:
    'return, returnable, send back, ship back, mail back, give back, take back, bring back, post back, ' +
    'rma, return label, exchange',
  refund:
    'refund, refundable, money back, reimburse, reimbursement, repay, repayment, credit back, paid back, ' +
    'chargeback, reversal, reverse charge, compensation, compensate',
  exchange: 'exchange, swap, replace, replacement, trade for, switch for, different size, another size',
  changemind:
    'dont like, change my mind, changed my mind, not happy, dont want, no longer need, dont need, ' +
    'not satisfied, unwanted',
  pickup: 'pick up, pickup, collect, click and collect, curbside, in store pickup, bopis',
  preorder: 'pre order, preorder, presale, coming soon, release date, launch',
  stock:
    'stock, in stock, out of stock, sold out, restock, back in stock, inventory, backorder, back order, ' +
    'availability, unavailable',
  bulk: 'bulk, wholesale, business order, corporate, large order, quantity, reseller',
  customs: 'customs, duty, duties, import tax, import fee, tariff',
  abroad:
    'international, abroad, overseas, worldwide, foreign, another country, other country, outside the us, ' +
    'travel, traveling, trip, vacation, country, countries, canada, mexico, uk, england, britain, europe, ' +
    'eu, germany, france, italy, spain, ireland, australia, japan, china, india, brazil, philippines',
  guest: 'guest, without an account, no account, guest checkout',
  gift: 'gift, present, gift wrap, gift wrapping, gift message, gift receipt',
  giftcard: 'gift card, gift certificate, gift voucher, store credit, egift, e gift',
  // Money: prices, payments and billing
  price:
    'price, cost, how much, fee, charge, expensive, cheap, pricing, rate, dollar, usd, surcharge, ' +
    'extra cost, free, pay for',
  free: 'free, complimentary, no charge, no cost, at no cost, without charge, waive, gratis',
  increase:
    'increase, higher, went up, go up, gone up, more than usual, more than normal, more expensive, jump, ' +
    'raise, hike, overcharge, overcharged, extra charge',
  duplicate: 'duplicate, twice, double, charged twice, two times, double charge',
  discount:
    'discount, coupon, promo, promotion, promo code, discount code, coupon code, voucher, sale, deal, ' +
    'offer, percent off, savings, cheaper, reduced price',
  redeem:
    'redeem, apply code, enter code, use code, apply coupon, apply promo, apply discount, apply voucher',
  combine: 'combine, stack, together, at the same time, multiple, more than one, two code',
  pricematch: 'price match, price adjustment, cheaper elsewhere, lower price, beat price, price drop',
  loyalty: 'loyalty, reward, point, member, membership, tier, perk, cashback, cash back, referral, refer',
  payment:
    'pay, payment, paid, charge, billing, bill, card, credit card, debit card, checkout, paypal, ' +
    'apple pay, google pay, transaction, method of payment, wallet, visa, mastercard, amex, ' +
    'american express, discover',
  declined:
    'declined, decline, rejected, reject, refused, not accepted, failed payment, payment failed, ' +
    'didnt go through, wont go through, bounced, insufficient funds',
  pending:
    'pending, processing, on hold, not gone through, not show up, not showing, not reflected, awaiting, ' +
    'hasnt cleared',
  autopay:
    'autopay, auto pay, automatic payment, automatic billing, recurring payment, recurring billing, ' +
    'direct debit, standing order, auto renew, pay automatically',
  installment:
    'installment, instalment, pay over time, monthly payment, pay monthly, split payment, split the cost, ' +
    'finance, financing, pay later, buy now pay later, klarna, afterpay, affirm, payment plan',
  invoice:
    'invoice, receipt, statement, vat, tax, sales tax, proof of purchase, bill copy, billing history, pdf',
  late:
    'late, overdue, past due, behind, missed payment, miss payment, delinquent, unpaid, not pay, ' +
    'didnt pay, cant pay, cant afford, shut off, suspend, disconnect',
  extension:
    'extension, extend, more time, later, postpone, delay, defer, push back, grace period, arrangement',
  currency: 'currency, exchange rate, euro, gbp, eur, cad, aud, conversion, convert, local currency',
  balance: 'balance, funds, available balance, remaining, left over, how much left',
  limit: 'limit, cap, maximum, max, allowance, quota, threshold',
  deposit: 'deposit, add money, put money, fund, top up, topup, refill, reload, recharge',
  cash: 'cash, atm, withdraw, withdrawal, cash machine',
  transfer: 'transfer, send money, wire, move money, pay someone, remit, remittance, port',
  bank: 'bank account, checking account, ach, routing, iban, sort code, bank transfer, wire',
  salary: 'paycheck, pay check, salary, payroll, wage, employer, direct deposit, paid early',
  loan: 'loan, borrow, lend, lending, financing, finance, mortgage, credit line',
  interest: 'interest, apr, apy, yield, interest rate',
  credit: 'credit score, credit report, credit check, credit history, fico, credit rating',
  charity: 'donate, donation, charity, nonprofit, non profit, ngo',
  // Accounts, security and privacy
  account:
    'account, profile, user, username, user name, sign up, signup, register, registration, create account, ' +
    'open account, membership',
  create: 'create, creation, make a new, set up a new, open a new, establish, generate, new account',
  login:
    'login, log in, log on, logon, sign in, signin, sign on, locked out, cant log, cant get in, ' +
    'two factor, 2fa, verification code, one time code, access',
  password:
    'password, passcode, pw, pwd, pass word, pin, forgot, reset, credentials, security code, login details',
  unlock: 'unlock, unblock, locked, carrier lock, sim lock',
  sso: 'sso, single sign on, saml, okta, google login, sign in with google',
  identity:
    'verify, verification, identity, id, identification, proof, document, kyc, passport, driver license, ' +
    'drivers license, photo id',
  owner: 'owner, ownership, holder, account holder, primary, in my name, take over, hand over, joint',
  delete: 'delete, deletion, remove, erase, deactivate, get rid, close account, wipe, purge, take off, drop',
  privacy:
    'privacy, private, personal data, personal information, my data, my info, gdpr, ccpa, data protection, ' +
    'sell my data, cookie, consent, opt out',
  security: 'security, secure, safe, protect, protection, two factor, 2fa, encryption',
  fraud:
    'fraud, fraudulent, scam, scammer, phishing, unauthorized, unauthorised, hack, hacker, compromise, ' +
    'suspicious, identity theft, didnt make, not me, dont recognize, dont recognise, unrecognized',
  theft: 'stolen, steal, stole, theft, thief, rob, robbed, pickpocket, took my, taken',
  newsletter:
    'newsletter, unsubscribe, mailing list, marketing email, promotional email, spam, stop email, ' +
    'stop sending',
  notification: 'notification, notify, alert, reminder, push notification, text me, email me',
  email: 'email, e mail, inbox, junk folder, spam folder',
  age: 'age, how old, minimum age, underage, 18 or older, adult',
  senior: 'senior, elderly, older, retire, retiree, pensioner, aarp, age',
  military: 'military, veteran, soldier, army, navy, armed forces, service member, active duty',
  student: 'student, college, university, school, campus, education, teacher, educator, academic',
  family:
    'family, spouse, wife, husband, partner, mom, dad, mother, father, parent, household, relative, ' +
    'sibling, brother, sister, friend',
  child: 'child, children, kid, son, daughter, teen, teenager, minor, baby, toddler, youth, junior, parental',
  // Plans, apps and software
  subscription:
    'subscription, subscribe, plan, membership, tier, renew, renewal, auto renew, recurring, annual, ' +
    'yearly, monthly',
  upgrade: 'upgrade, downgrade, switch plan, change plan, higher plan, cheaper plan, better plan, new plan',
  trial: 'trial, free trial, try, demo, test drive',
  license: 'license, licence, seat, subscription key, activation key, product key',
  team: 'team, user, seat, member, invite, collaborator, colleague, admin, administrator, role, permission',
  workspace: 'workspace, organization, org, company account, tenant',
  integration: 'integration, integrate, connect, sync, api, plugin, plug in, zapier, webhook',
  export: 'export, backup, back up, download, import, migrate, migration',
  download: 'download, pdf, copy, print, export',
  storage: 'storage, space, upload, file size, attachment, quota, gb',
  app: 'app, website, site, online, web, portal, browser, mobile app, dashboard',
  activate:
    'activate, activation, set up, setup, get started, enable, turn on, switch on, configure, install, ' +
    'installation, start',
  disable: 'disable, turn off, switch off, deactivate, pause, suspend, stop, opt out',
  outage:
    'outage, down, service interruption, disruption, not available, unavailable, offline, no service, ' +
    'not working for everyone, status page',
  problem:
    'problem, issue, trouble, error, fail, not work, doesnt work, wont work, cant, bug, glitch, crash, ' +
    'stuck, freeze, troubleshoot',
  repair: 'repair, fix, mend, technician, service center, repair shop',
  guide: 'manual, instruction, guide, how to use, user guide, tutorial, documentation, docs, help article',
  language: 'language, spanish, french, english, translate, translation',
  // Phones and connectivity
  device:
    'phone, cellphone, cell phone, cell, mobile, smartphone, handset, device, iphone, android, galaxy, ' +
    'pixel, tablet, ipad, laptop',
  screen: 'screen, display, glass, touchscreen, touch screen',
  battery: 'battery, charger, power bank, plug, power, cable',
  connection:
    'internet, mobile data, cellular data, wifi, wi fi, wireless, connection, connect, connectivity, ' +
    'network, online, offline',
  signal: 'signal, reception, bar, coverage, dead zone, no service, weak signal',
  network: '5g, 4g, lte, 3g, network',
  data: 'data, gb, gig, gigabyte, mb, megabyte, data plan, data allowance, high speed data',
  addon: 'add on, addon, extra, additional, boost, top up, more data, booster',
  slow: 'slow, speed, lag, laggy, sluggish, crawl, throttle, throttling, bandwidth, mbps, kbps',
  prepaid: 'prepaid, pre paid, pay as you go, payg, no contract, refill',
  message: 'text, texting, sms, mms, message, messaging, imessage, picture message, group chat',
  voicemail: 'voicemail, voice mail, mailbox, voice message, greeting, listen message',
  number: 'phone number, mobile number, cell number, new number, area code',
  block: 'block, blacklist, stop calling, stop texting, ban, mute, filter',
  emergency: 'emergency, 911, 999, 112, urgent',
  // Help and policies
  contact:
    'contact, reach, talk, speak, agent, human, representative, rep, real person, chat, live chat, ' +
    'support, customer service, customer care, customer support, help desk, helpline, hotline, ' +
    'get in touch, call you, call us, phone number, email you, email us, reach out, get hold, call center, ' +
    'phone support, support team',
  hours:
    'hours, opening hours, business hours, what time, weekend, saturday, sunday, holiday, open on, ' +
    'open until, opening, closed, 24 7',
  location:
    'store, shop, branch, location, near me, nearby, in person, retail, showroom, outlet, physical store, ' +
    'brick and mortar',
  appointment: 'appointment, book, booking, schedule, reschedule, reservation, reserve, visit, walk in, slot',
  complaint: 'complaint, complain, feedback, unhappy, dissatisfied, escalate, manager, supervisor',
  review: 'review, testimonial, feedback, star',
  policy: 'policy, rule, terms, condition, terms and conditions, guideline, fine print, tos',
  warranty: 'warranty, guarantee, guaranty, lifetime, manufacturer defect',
  insurance: 'insurance, insure, insured, protection plan, protection, deductible, claim, cover, covered',
  eligible: 'eligible, eligibility, qualify, allowed, permitted, entitled, able to',
  require: 'require, requirement, necessary, mandatory, prerequisite, need to provide',
  expire: 'expire, expiry, expiration, run out, lapse, valid until, validity, valid for, good for, deadline',
  confirm: 'confirm, confirmation, acknowledgement, acknowledgment',
  time:
    'how long, how soon, how quickly, how fast, how many day, how many week, time frame, timeframe, ' +
    'turnaround, processing time, take long, day, week, hour, minute, eta, when will',
  fast: 'fast, quick, quickly, asap, immediately, right away, instant, instantly, speed up, hurry',
  company:
    'based, headquarter, located, where are you, who are you, about us, company, founded, history, owned, ' +
    'founder',
  career: 'job, career, hiring, work for you, employment, vacancy, internship',
  sustainability:
    'eco, environment, environmental, sustainable, sustainability, recycle, recyclable, plastic, green, ' +
    'carbon, ethical',
  accessibility:
    'accessibility, accessible, disability, disabled, deaf, hearing impaired, blind, visually impaired, ' +
    'wheelchair, braille, tty, large print, screen reader',
  // Products
  size: 'size, sizing, fit, dimension, measurement, measure, how big, large, length, width, size chart',
  weight: 'weight, weigh, heavy, how heavy, lightweight, pound, lb, lbs, kg, gram, ounce, oz',
  waterproof: 'waterproof, water resistant, water proof, rain, wet, leak, rainproof',
  care: 'clean, wash, care, maintain, maintenance, laundry',
  material: 'material, made of, fabric, aluminum, steel, nylon, polyester, cotton, wool, leather',
  include: 'include, in the box, come with, contents, accessory, accessories, whats inside',
  compatible: 'compatible, compatibility, work with, fit with, adapter, supported device, work on',
  photo: 'photo, picture, image, pic, screenshot',
  diet: 'ingredient, allergen, allergy, gluten, vegan, vegetarian, dairy, nut, halal, kosher',
  luggage: 'luggage, baggage, suitcase, carry on, checked bag',
  ticket: 'ticket, booking, reservation, itinerary, boarding pass, flight',
};

interface ConceptEntry {
  concept: string;
  stems: string[];
}

const conceptsByFirstStem = new Map<string, ConceptEntry[]>();
for (const [concept, phrases] of Object.entries(conceptPhrases)) {
  // "ship" and "shipping" share a stem: one entry each, so a word counts once per concept.
  const unique = new Map<string, string[]>();
  for (const phrase of phrases.split(',')) {
    const stems = splitWords(phrase).map(stem);
    if (stems.length > 0) unique.set(stems.join(' '), stems);
  }
  for (const stems of unique.values()) {
    const first = stems[0] as string;
    const list = conceptsByFirstStem.get(first) ?? [];
    list.push({ concept, stems });
    conceptsByFirstStem.set(first, list);
  }
}

// Spelling help: a word of five letters or more that is one edit away from exactly one word of the
// concept phrases ("refnud", "delivry") is read as that word when looking for concepts. Candidates
// come from a deletion index (SymSpell), so a lookup costs a handful of map reads.
const lexiconStems = new Set<string>();
const lexiconByDeletion = new Map<string, string[]>();
for (const phrases of Object.values(conceptPhrases)) {
  for (const word of splitWords(phrases)) {
    lexiconStems.add(stem(word));
    if (word.length < 5 || /\d/.test(word)) continue;
    for (const key of [word, ...deletions(word)]) {
      const list = lexiconByDeletion.get(key) ?? [];
      if (!list.includes(word)) list.push(word);
      lexiconByDeletion.set(key, list);
    }
  }
}
const correctionCache = new Map<string, string>();

function deletions(word: string): string[] {
  const variants: string[] = [];
  for (let index = 0; index < word.length; index++)
    variants.push(word.slice(0, index) + word.slice(index + 1));
  return variants;
}

/** The stem a word stands for in concept phrases: its own, or that of the one word it misspells. */
function conceptStem(word: string, stemmed: string): string {
  if (word.length < 5 || lexiconStems.has(stemmed) || /\d/.test(word)) return stemmed;
  let corrected = correctionCache.get(word);
  if (corrected === undefined) {
    const candidates = new Set<string>();
    for (const key of [word, ...deletions(word)]) {
      for (const candidate of lexiconByDeletion.get(key) ?? []) {
        if (withinOneEdit(word, candidate)) candidates.add(stem(candidate));
      }
    }
    corrected = candidates.size === 1 ? ([...candidates][0] as string) : stemmed;
    if (correctionCache.size >= 50_000) correctionCache.clear();
    correctionCache.set(word, corrected);
  }
  return corrected;
}

/** Whether two words are at most one edit apart: an insertion, deletion, substitution or swap. */
export function withinOneEdit(left: string, right: string): boolean {
  if (left === right) return true;
  if (left.length === right.length) {
    let first = -1;
    let differences = 0;
    for (let index = 0; index < left.length; index++) {
      if (left[index] === right[index]) continue;
      differences++;
      if (differences === 1) first = index;
      else if (
        differences === 2 &&
        index === first + 1 &&
        left[first] === right[index] &&
        left[index] === right[first]
      )
        continue;
      else return false;
    }
    return true;
  }
  const [shorter, longer] = left.length < right.length ? [left, right] : [right, left];
  if (longer.length - shorter.length !== 1) return false;
  let skipped = false;
  for (let short = 0, long = 0; short < shorter.length; long++) {
    if (shorter[short] === longer[long]) short++;
    else if (skipped) return false;
    else skipped = true;
  }
  return true;
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
  const conceptStems = allWords.map((word, index) => conceptStem(word, allStems[index] as string));
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
    const entries = conceptsByFirstStem.get(conceptStems[index] as string);
    if (!entries) continue;
    // One vote per concept per position: "money back" and "back" do not both count for #refund.
    const found = new Set<string>();
    for (const entry of entries) {
      if (!found.has(entry.concept) && matchesAt(entry.stems, conceptStems, index)) found.add(entry.concept);
    }
    for (const concept of found) concepts.push(`#${concept}`);
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
