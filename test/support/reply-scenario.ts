import { ReplyEngine } from '../../src/reply/progressive-reply.ts';
import { FakeReplyTransport, type FakeTarget } from './fake-reply-transport.ts';
import { SimulatedClock } from './simulated-clock.ts';

/** What one run of the many-answers scenario measured. */
export interface ScenarioReport {
  platform: 'slack' | 'discord';
  answers: number;
  channels: number;
  violations: string[];
  exact: number;
  calls: number;
  firstVisibleMs: { p50: number; p95: number };
  updateIntervalMs: { p50: number; p95: number };
  completeMs: { p50: number; p95: number };
}

/** A 1,500-character answer with paragraphs, a list and a link, different per index. */
export function sampleAnswer(index: number, length = 1_500): string {
  const sentences = [
    `Answer ${index}: you can return most items within **30 days** of delivery.`,
    'Refunds go back to the original payment method within 3 business days.',
    'See [our returns page](https://example.com/returns) for the details.',
    '- Labels are free for defective items.\n- A flat fee applies otherwise.',
    'Exchanges for another size are free, and we ship the new one as soon as yours is scanned.',
  ];
  let text = '';
  for (let position = 0; text.length < length; position++) {
    text += sentences[(index + position) % sentences.length] + (position % 3 === 2 ? '\n\n' : ' ');
  }
  return text.slice(0, length);
}

/**
 * `answers` replies stream at once (time to first token 1.5 s, then ~25 tokens/s of ~5 characters)
 * into one Slack workspace or one Discord channel, on simulated time.
 */
export async function runManyAnswers(options: {
  platform: 'slack' | 'discord';
  answers: number;
  channels?: number;
  length?: number;
}): Promise<ScenarioReport> {
  const clock = new SimulatedClock();
  const transport = new FakeReplyTransport({ clock, platform: options.platform });
  const engine = new ReplyEngine<FakeTarget>({ transport, clock, editIntervalMs: 1_000 });
  const channels = options.channels ?? 1;
  const texts = Array.from({ length: options.answers }, (_, index) => sampleAnswer(index, options.length));
  const finished: number[] = [];
  const replies = texts.map((text, index) => {
    const reply = engine.open({ workspace: 'T1', channel: `C${index % channels}` });
    void (async () => {
      await clock.sleep(1_500);
      for (let start = 0; start < text.length; start += 5) {
        reply.append(text.slice(start, start + 5));
        await clock.sleep(40);
      }
      await reply.finish();
      finished[index] = clock.now();
    })();
    return reply;
  });
  const outcomes = replies.map((reply) => reply.done);
  let settled = 0;
  for (const outcome of outcomes) void outcome.finally(() => settled++);
  await clock.run(() => settled === replies.length);
  const results = await Promise.all(outcomes);

  let exact = 0;
  results.forEach((result, index) => {
    const shown = result.messageIds.map((id) => transport.messages.get(id) ?? '').join('');
    if (shown === transport.render(texts[index] as string)) exact++;
  });
  const intervals = replies.flatMap((reply) =>
    reply.updateTimes.slice(1).map((time, index) => time - (reply.updateTimes[index] as number)),
  );
  return {
    platform: options.platform,
    answers: options.answers,
    channels,
    violations: transport.violations(),
    exact,
    calls: transport.calls.length,
    firstVisibleMs: percentiles(replies.map((reply) => reply.firstVisibleAt ?? Number.NaN)),
    updateIntervalMs: percentiles(intervals),
    completeMs: percentiles(
      finished.length ? replies.map((reply) => reply.updateTimes.at(-1) ?? Number.NaN) : [],
    ),
  };
}

function percentiles(values: number[]): { p50: number; p95: number } {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((left, right) => left - right);
  const pick = (share: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? Number.NaN;
  return { p50: pick(0.5), p95: pick(0.95) };
}
