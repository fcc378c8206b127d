/** The demo help center's products, as customers name them. */
const products = [
  'Alpine Down 20 sleeping bag',
  'Beacon 400 headlamp',
  'ClearFlow water filter',
  'Drift hammock',
  'Ember camp stove',
  'Glacier 45 cooler',
  'Heritage cast iron skillet',
  'Ridgeline 45 backpack',
  'Stormline rain jacket',
  'Summit carbon trekking poles',
  'Switchback hiking boots',
  'Trailhead 2 tent',
];

const templates = [
  'Can I return the {product} if I have used it once?',
  'What is the warranty on the {product}?',
  'How much does the {product} weigh?',
  'Does the {product} ship to Canada?',
  'How long does shipping take for the {product}?',
  'Can I exchange the {product} for a different size?',
  'Is the {product} covered if it arrives damaged?',
  'What is the return window for the {product}?',
  'Can I pay for the {product} with a gift card?',
  'Do you price match the {product}?',
  'How do I make a warranty claim for the {product}?',
  'Is there a restocking fee to return the {product}?',
  'What materials is the {product} made of?',
  'Can I use a promo code on the {product}?',
  'Does the {product} qualify for free shipping?',
  'How do I clean the {product}?',
  'Who pays return shipping on the {product}?',
  'Can I cancel my order for the {product}?',
  'Is the {product} waterproof?',
  'Do I earn loyalty points on the {product}?',
  'Can the {product} be shipped internationally?',
  'What does the warranty on the {product} not cover?',
  'How big is the {product} when packed?',
  'Can I get an invoice for the {product}?',
  'What happens if the {product} is lost in the mail?',
];

/**
 * `count` different policy and product questions (up to 300), none a rewording of another: what one
 * customer flooding the bot would send, so that neither the answer cache nor its near-duplicate
 * matching saves a model call.
 */
export function variedQuestions(count: number): string[] {
  const questions: string[] = [];
  for (const template of templates)
    for (const product of products) questions.push(template.replace('{product}', product));
  if (count > questions.length) throw new Error(`at most ${questions.length} varied questions`);
  // Interleaved, so consecutive questions differ in both the product and the question.
  return questions
    .filter((_, index) => index % 2 === 0)
    .concat(questions.filter((_, index) => index % 2 === 1))
    .slice(0, count);
}
