/**
 * How the public intent datasets' labels map onto our eight intents (../shared/INTENTS.md), label by
 * label, and the few row-level rules a label needs because its rows do not all mean the same thing
 * under INTENTS.md. Used by scripts/intents-build-training.ts; nothing here runs in the bot.
 */
import type { Intent } from '../src/llm/intents.ts';

/** Where a public label goes: one of our intents, or left out with the reason. */
export type LabelMapping =
  | { intent: Intent; rows?: RowRule }
  | { leftOut: 'not-store-support' | 'ambiguous'; note: string };

/** Reassigns or drops single rows of a label (the rules quote INTENTS.md). */
export type RowRule = 'refund-request' | 'refund-status' | 'account-help';

/**
 * CLINC150 (clinc/oos-eval, CC BY 3.0). Every intent not listed is out of a store's scope (weather,
 * travel, cooking, cars, work, banking...) and maps to `other`, as does `oos`; see
 * {@link clincOther}.
 */
export const clincMapping: Readonly<Record<string, LabelMapping>> = {
  order: { intent: 'order_placement' },
  order_status: { intent: 'order_status' },
  greeting: { intent: 'greeting' },
  goodbye: { intent: 'greeting' },
  thank_you: { intent: 'greeting' },
  oos: { intent: 'other' },
  // Small talk about the bot: INTENTS.md calls small talk a greeting, the catalogue calls questions
  // about the bot `other`; neither is clear, so the public rows do not vote.
  are_you_a_bot: { leftOut: 'ambiguous', note: '"are you a real person?" is close to asking for one' },
  what_is_your_name: { leftOut: 'ambiguous', note: 'small talk (greeting) or off-topic (other)' },
  how_old_are_you: { leftOut: 'ambiguous', note: 'small talk (greeting) or off-topic (other)' },
  where_are_you_from: { leftOut: 'ambiguous', note: 'small talk (greeting) or off-topic (other)' },
  what_are_your_hobbies: { leftOut: 'ambiguous', note: 'small talk (greeting) or off-topic (other)' },
  do_you_have_pets: { leftOut: 'ambiguous', note: 'small talk (greeting) or off-topic (other)' },
  who_made_you: { leftOut: 'ambiguous', note: 'small talk (greeting) or off-topic (other)' },
  who_do_you_work_for: { leftOut: 'ambiguous', note: 'small talk, or a question about the store' },
  what_can_i_ask_you: { leftOut: 'ambiguous', note: 'help with the bot itself: greeting, policy or other' },
  yes: { leftOut: 'ambiguous', note: 'an answer to a previous turn; the intent is in that turn' },
  no: { leftOut: 'ambiguous', note: 'an answer to a previous turn' },
  maybe: { leftOut: 'ambiguous', note: 'an answer to a previous turn' },
  repeat: { leftOut: 'ambiguous', note: 'refers to a previous turn' },
  cancel: {
    leftOut: 'ambiguous',
    note: '"cancel that" (a command) against "cancel my order" (order_placement)',
  },
  user_name: { leftOut: 'ambiguous', note: 'could be a store account question (policy_question)' },
  change_user_name: { leftOut: 'ambiguous', note: 'could be a store account question (policy_question)' },
  shopping_list: { leftOut: 'ambiguous', note: 'a personal list, or a wish list / cart in a store' },
  shopping_list_update: {
    leftOut: 'ambiguous',
    note: '"add milk to my list" against "add an item to my order"',
  },
  carry_on: {
    leftOut: 'ambiguous',
    note: 'airline rules, or whether a pack fits carry-on (product_inquiry)',
  },
  // Banking and credit-card intents close to a store's payments and accounts.
  account_blocked: { leftOut: 'ambiguous', note: 'a locked store account is account help (policy_question)' },
  freeze_account: { leftOut: 'ambiguous', note: 'account help in a store' },
  pin_change: { leftOut: 'ambiguous', note: 'close to a password reset (policy_question)' },
  report_fraud: { leftOut: 'ambiguous', note: 'an unknown charge from the store is a refund_request' },
  transactions: { leftOut: 'ambiguous', note: 'close to order history' },
  spending_history: { leftOut: 'ambiguous', note: 'close to order history' },
  card_declined: { leftOut: 'ambiguous', note: 'a declined payment at checkout (order_placement)' },
  damaged_card: { leftOut: 'ambiguous', note: 'close to a damaged gift card or item (complaint)' },
  replacement_card_duration: { leftOut: 'ambiguous', note: 'close to delivery times (policy_question)' },
  rewards_balance: { leftOut: 'ambiguous', note: 'the store has a rewards programme (policy_question)' },
  redeem_rewards: { leftOut: 'ambiguous', note: 'the store has a rewards programme (policy_question)' },
  order_checks: {
    leftOut: 'ambiguous',
    note: '"order new checks": a bank order, worded like order_placement',
  },
  international_fees: { leftOut: 'ambiguous', note: 'close to customs and duties (policy_question)' },
  expiration_date: { leftOut: 'ambiguous', note: 'close to "do gift cards expire" (policy_question)' },
  bill_balance: { leftOut: 'ambiguous', note: 'close to invoices and what an order cost' },
  bill_due: { leftOut: 'ambiguous', note: 'close to invoices and payment terms (policy_question)' },
  pay_bill: { leftOut: 'ambiguous', note: 'close to paying for an order' },
  next_holiday: {
    leftOut: 'ambiguous',
    note: "close to the store's holiday opening hours (policy_question)",
  },
};

/** The CLINC150 labels outside {@link clincMapping}: out of scope for a store, so `other`. */
export function clincOther(label: string): boolean {
  return !(label in clincMapping);
}

/**
 * BANKING77 (PolyAI-LDN/task-specific-datasets, CC BY 4.0). Only the labels listed map; the others
 * are about a bank's cards, top-ups, transfers, cash machines and identity checks, which a store's
 * customers do not ask, and whose words (card, charge, payment) would teach `other` for payment
 * questions the store does answer.
 */
export const bankingMapping: Readonly<Record<string, LabelMapping>> = {
  request_refund: { intent: 'refund_request', rows: 'refund-request' },
  Refund_not_showing_up: { intent: 'refund_request', rows: 'refund-status' },
  transaction_charged_twice: { intent: 'refund_request', rows: 'refund-status' },
  passcode_forgotten: { intent: 'policy_question', rows: 'account-help' },
  terminate_account: { intent: 'policy_question', rows: 'account-help' },
  edit_personal_details: { intent: 'policy_question', rows: 'account-help' },
  card_arrival: { leftOut: 'ambiguous', note: 'a bank card in the post is not an order from the store' },
  card_delivery_estimate: {
    leftOut: 'ambiguous',
    note: 'mixes "when will my card come" and "how long does delivery take"',
  },
  apple_pay_or_google_pay: { leftOut: 'not-store-support', note: 'about topping up a bank account' },
  supported_cards_and_currencies: { leftOut: 'not-store-support', note: 'about topping up a bank account' },
  age_limit: { leftOut: 'not-store-support', note: 'bank account eligibility' },
  country_support: { leftOut: 'not-store-support', note: 'where the bank operates, not where a store ships' },
  cancel_transfer: { leftOut: 'not-store-support', note: 'a bank transfer, worded like cancelling an order' },
  order_physical_card: { leftOut: 'not-store-support', note: 'a bank card, worded like order_placement' },
};

/**
 * Anger, threats or demands (INTENTS.md: angry about anything → complaint, even with money). Strong
 * markers only: a single "!" or "urgent" is not anger.
 */
const anger =
  /\b(?:demand|had enough|i'?m done|refuse to pay|not paying (?:them|these|those)|these people|crying out loud|aggravated|upset|furious|angry|ridiculous|unacceptable|incompetent|competent people|fed up|scam|waste (?:any ?more|of) (?:my )?time|growing upset)\b|!{2,}/i;

/** A reference to the customer's own purchase: what makes a refund question theirs. */
const ownPurchase =
  /\b(?:i|i'?ve|i'?m|me|my|we)\b[^.?!]*\b(?:bought|purchased?|ordered|order|item|product|goods|package|charge[ds]?|transaction|payment)\b|\bmy (?:refund|money)\b/i;

/** Store policy in general (INTENTS.md: "how do refunds work?" → policy_question). */
const refundPolicy =
  /\b(?:polic(?:y|ies)|do you (?:give|offer|do) refunds|are (?:refunds|purchases) (?:allowed|returnable)|refunds allowed|learning more about|procedure|process(?:es)? for)\b/i;

/** Cancelling an order or a purchase without asking for the money: order_placement. */
const cancelOnly = /\bcancel/i;
const money = /\b(?:refund|money|funds|reimburs)/i;

/** A how-to question (how do I..., what do I need to do...), as opposed to a request. */
const howTo =
  /^\s*(?:hello[,.!]?\s*|hi[,.!]?\s*|hey[,.!]?\s*)?(?:how|what|where|is it|are|do|does|can i|am i)\b/i;

/** Rows about a postal address: changing it is order_placement for an order, account help otherwise. */
const address = /\baddress|\bmoved|\bliving|\blive\b/i;

/**
 * Applies a label's row rule: the intent of this row, or `undefined` to leave the row out (it is
 * ambiguous under INTENTS.md).
 */
export function mapRow(text: string, intent: Intent, rule: RowRule | undefined): Intent | undefined {
  if (!rule) return intent;
  if (rule === 'account-help') return address.test(text) ? undefined : intent;
  if (anger.test(text)) return 'complaint';
  if (rule === 'refund-status') return intent;
  // request_refund mixes policy questions, cancellations and requests for money back.
  if (refundPolicy.test(text)) return 'policy_question';
  if (cancelOnly.test(text) && !money.test(text)) return howTo.test(text) ? undefined : 'order_placement';
  if (howTo.test(text) && !ownPurchase.test(text)) return undefined;
  return intent;
}

/** Where one public row goes. */
export function mapLabel(dataset: 'clinc150' | 'banking77', label: string, text: string): Intent | undefined {
  if (dataset === 'clinc150') {
    if (clincOther(label)) return 'other';
    const mapping = clincMapping[label] as LabelMapping;
    return 'intent' in mapping ? mapRow(text, mapping.intent, mapping.rows) : undefined;
  }
  const mapping = bankingMapping[label];
  if (!mapping || !('intent' in mapping)) return undefined;
  return mapRow(text, mapping.intent, mapping.rows);
}
