import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BudgetScheduler } from '../../../src/reply/budget-scheduler.ts';
import { stabilizeForStreaming, toDiscordMarkdown, toSlackMrkdwn } from '../../../src/reply/markdown.ts';
import { ReplyEngine } from '../../../src/reply/progressive-reply.ts';
import { splitMessage } from '../../../src/reply/split.ts';
import { RateLimitedError, ReplyDeliveryError } from '../../../src/reply/transport.ts';
import { type FakeFault, FakeReplyTransport, type FakeTarget } from '../../support/fake-reply-transport.ts';
import { runManyAnswers } from '../../support/reply-scenario.ts';
import { SimulatedClock } from '../../support/simulated-clock.ts';

const target: FakeTarget = { workspace: 'T1', channel: 'C1' };

function setup(
  options: { platform?: 'slack' | 'discord' | 'plain'; maxMessageLength?: number; faults?: FakeFault[] } = {},
) {
  const clock = new SimulatedClock();
  const transport = new FakeReplyTransport({ clock, platform: options.platform ?? 'plain', ...options });
  const engine = new ReplyEngine<FakeTarget>({ transport, clock, editIntervalMs: 1_000 });
  return { clock, transport, engine };
}

/** What the platform shows for a reply: its messages, in order, joined. */
function shown(transport: FakeReplyTransport, messageIds: string[]): string {
  return messageIds.map((id) => transport.messages.get(id) ?? '').join('');
}

describe('splitMessage', () => {
  it('returns one part when the text fits', () => {
    expect(splitMessage('short', 10)).toEqual(['short']);
  });

  it('cuts at a paragraph, then a sentence, then a word, and the parts add up exactly', () => {
    const text = 'First paragraph here.\n\nSecond one is longer. It has two sentences and more words.';
    const parts = splitMessage(text, 40);
    expect(parts[0]).toBe('First paragraph here.\n\n');
    expect(parts.join('')).toBe(text);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(40);
  });

  it('never cuts inside a code block or a link when there is another way', () => {
    const code = '```\nline one\nline two\n```';
    const text = `Intro text that is long enough.\n${code}\nAfter.`;
    const parts = splitMessage(text, 50);
    expect(parts.some((part) => part.includes(code))).toBe(true);
    const linked = `Some words before the link [our returns page](https://example.com/returns/policy) and after.`;
    for (const part of splitMessage(linked, 60))
      expect(part.includes('[our') === part.includes('policy)')).toBe(true);
  });

  it('splits a single code block longer than a message at a line break', () => {
    const code = `\`\`\`\n${Array.from({ length: 40 }, (_, index) => `line ${index}`).join('\n')}\n\`\`\``;
    const parts = splitMessage(code, 100);
    expect(parts.join('')).toBe(code);
    for (const part of parts.slice(0, -1)) expect(part.endsWith('\n')).toBe(true);
  });
});

describe('markdown', () => {
  it('renders CommonMark as Slack mrkdwn, leaving code alone', () => {
    expect(toSlackMrkdwn('**Bold** and *it* and ~~old~~ and [docs](https://x.io/a)')).toBe(
      '*Bold* and _it_ and ~old~ and <https://x.io/a|docs>',
    );
    expect(toSlackMrkdwn('# Returns\n- one\n- two')).toBe('*Returns*\n• one\n• two');
    expect(toSlackMrkdwn('a < b & c\n```\n**not bold** <tag>\n```')).toBe(
      'a &lt; b &amp; c\n```\n**not bold** &lt;tag&gt;\n```',
    );
    expect(toSlackMrkdwn('use `**raw**` here')).toBe('use `**raw**` here');
  });

  it('keeps Discord markdown and defuses mass mentions', () => {
    expect(toDiscordMarkdown('**Hi** @everyone and @here')).toBe('**Hi** @\u200beveryone and @\u200bhere');
    expect(toDiscordMarkdown('```\n@everyone\n```')).toBe('```\n@everyone\n```');
  });

  it('never shows half-closed markdown while streaming', () => {
    expect(stabilizeForStreaming('Here:\n```js\nconst a = 1;')).toBe('Here:\n```js\nconst a = 1;\n```');
    expect(stabilizeForStreaming('Done:\n```\nx\n```\nand **bol')).toBe('Done:\n```\nx\n```\nand ');
    expect(stabilizeForStreaming('See [the pa')).toBe('See ');
    expect(stabilizeForStreaming('See [the page](https://exa')).toBe('See ');
    expect(stabilizeForStreaming('See [the page](https://example.com) now')).toBe(
      'See [the page](https://example.com) now',
    );
    expect(stabilizeForStreaming('Run `npm')).toBe('Run ');
    expect(stabilizeForStreaming('Run `npm` now, ~~no')).toBe('Run `npm` now, ');
    expect(stabilizeForStreaming('text\n``')).toBe('text\n');
    expect(stabilizeForStreaming('[1] and [2] are sources')).toBe('[1] and [2] are sources');
  });
});

describe('BudgetScheduler', () => {
  it('never runs more than the limit in a window, most urgent first', async () => {
    const clock = new SimulatedClock();
    const scheduler = new BudgetScheduler({ clock });
    const scope = { key: 'k', limit: 2, windowMs: 1_000 };
    const ran: [string, number][] = [];
    const task = (name: string, priority: number) =>
      scheduler.schedule({
        priority,
        scopes: [scope],
        owner: {},
        run: async () => void ran.push([name, clock.now()]),
      });
    const all = Promise.all([task('a', 3), task('b', 3), task('c', 3), task('final', 0)]);
    await clock.run(() => ran.length === 4);
    await all;
    expect(ran).toEqual([
      ['a', 0],
      ['b', 0],
      ['final', 1_000],
      ['c', 1_000],
    ]);
  });
});

describe('rate limits block the scope they name', () => {
  it('a channel 429 holds that channel only, not the global scope it shares with others', async () => {
    const clock = new SimulatedClock();
    const scheduler = new BudgetScheduler({ clock });
    const global = { key: 'discord:global', limit: 50, windowMs: 1_000 };
    const channel = (id: string) => ({ key: `discord:channel:${id}`, limit: 5, windowMs: 5_000 });
    const ran: [string, number][] = [];
    let refused = false;
    const busy = scheduler.schedulePaced({
      priority: 2,
      scopes: [channel('A'), global],
      owner: {},
      run: async () => {
        if (!refused) {
          refused = true;
          throw new RateLimitedError(20_000, undefined, { scopeKeys: ['discord:channel:A'] });
        }
        ran.push(['A', clock.now()]);
      },
    });
    await clock.run(() => refused);
    const other = scheduler.schedule({
      priority: 2,
      scopes: [channel('B'), global],
      owner: {},
      run: async () => void ran.push(['B', clock.now()]),
    });
    await clock.run(() => ran.length === 2);
    await Promise.all([busy, other]);
    expect(ran).toEqual([
      ['B', 0],
      ['A', 20_000],
    ]);
  });

  it('an unnamed 429 still blocks every scope of the refused operation', async () => {
    const clock = new SimulatedClock();
    const scheduler = new BudgetScheduler({ clock });
    const shared = { key: 'shared', limit: 50, windowMs: 1_000 };
    let refused = false;
    const ran: number[] = [];
    const busy = scheduler.schedulePaced({
      priority: 2,
      scopes: [{ key: 'a', limit: 5, windowMs: 5_000 }, shared],
      owner: {},
      run: async () => {
        if (!refused) {
          refused = true;
          throw new RateLimitedError(3_000);
        }
      },
    });
    await clock.run(() => refused);
    const other = scheduler.schedule({
      priority: 2,
      scopes: [{ key: 'b', limit: 5, windowMs: 5_000 }, shared],
      owner: {},
      run: async () => void ran.push(clock.now()),
    });
    await clock.run(() => ran.length === 1);
    await Promise.all([busy, other]);
    expect(ran).toEqual([3_000]);
  });

  it("a reply's channel 429 leaves another channel's first sign of life immediate", async () => {
    const clock = new SimulatedClock();
    const transport = new FakeReplyTransport({ clock, platform: 'discord', faults: ['429'] });
    transport.limitScope = 'first';
    transport.retryAfterMs = 20_000;
    const engine = new ReplyEngine<FakeTarget>({ transport, clock, editIntervalMs: 1_000 });
    const first = engine.open({ workspace: 'G', channel: 'A' });
    await clock.run(() => transport.calls.some((call) => call.outcome === '429'));
    const second = engine.open({ workspace: 'G', channel: 'B' });
    await clock.run(() => transport.calls.some((call) => call.channel === 'B' && call.operation === 'post'));
    expect(second.firstVisibleAt).toBe(clock.now());
    expect(clock.now()).toBeLessThan(1_000);
    first.append('Answer A.');
    second.append('Answer B.');
    let settled = 0;
    const outcomes = Promise.all([first.finish(), second.finish()]).finally(() => settled++);
    await clock.run(() => settled > 0);
    const [outcomeA, outcomeB] = await outcomes;
    expect(shown(transport, outcomeA.messageIds)).toBe('Answer A.');
    expect(shown(transport, outcomeB.messageIds)).toBe('Answer B.');
  });
});

describe('ProgressiveReply', () => {
  it('when the platform refuses edits for good mid-answer, waits for the end and posts the whole answer afresh', async () => {
    const { clock, transport, engine } = setup({ platform: 'slack' });
    const reply = engine.open(target);
    await clock.run(() => transport.calls.some((call) => call.operation === 'post'));
    reply.append('The first half of the answer. ');
    await clock.run(() => transport.calls.some((call) => call.operation === 'edit'));
    // The next edit is refused for good, as after Slack's edit_window_closed.
    transport.script(['refused']);
    reply.append('More text that cannot be shown by editing. ');
    await clock.run(() => transport.calls.some((call) => call.outcome === 'refused'), clock.now() + 5_000);
    reply.append('And the end.');
    const outcome = reply.finish();
    await clock.run(() => clock.pendingTimers === 0);
    const result = await outcome;
    const whole = 'The first half of the answer. More text that cannot be shown by editing. And the end.';
    expect(shown(transport, result.messageIds)).toBe(whole);
    // Exactly one complete answer is left: the stale partial message is gone.
    expect([...transport.messages.values()].filter((text) => text.includes('first half'))).toEqual([whole]);
    expect(transport.calls.filter((call) => call.outcome === 'refused')).toHaveLength(1);
  });

  it('posts a placeholder at once, then edits with the newest text, and lands the final text', async () => {
    const { clock, transport, engine } = setup();
    const reply = engine.open(target);
    await clock.run(() => transport.calls.length > 1);
    expect(transport.calls.slice(0, 2)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ operation: 'status', at: 0 }),
        expect.objectContaining({ operation: 'post', text: '…', at: 0 }),
      ]),
    );
    expect(reply.firstVisibleAt).toBe(0);
    for (const word of 'The answer grows word by word until it is done.'.split(/(?= )/)) {
      reply.append(word);
      await clock.run(() => false, clock.now() + 300);
    }
    const outcome = reply.finish();
    await clock.run(() => transport.calls.at(-1)?.text === 'The answer grows word by word until it is done.');
    const result = await outcome;
    expect(shown(transport, result.messageIds)).toBe('The answer grows word by word until it is done.');
    const edits = transport.calls.filter((call) => call.operation === 'edit');
    // Coalesced: far fewer edits than deltas, each at least a second apart except the final.
    expect(edits.length).toBeLessThan(10);
    for (let index = 1; index < edits.length - 1; index++) {
      expect((edits[index]?.at as number) - (edits[index - 1]?.at as number)).toBeGreaterThanOrEqual(1_000);
    }
  });

  it('continues past the limit in new messages: an answer longer than 3 messages', async () => {
    const { clock, transport, engine } = setup({ platform: 'discord' });
    const text = Array.from(
      { length: 120 },
      (_, index) => `Sentence number ${index} says something useful.`,
    ).join(' ');
    const reply = engine.open(target);
    for (let start = 0; start < text.length; start += 200) reply.append(text.slice(start, start + 200));
    const outcome = reply.finish();
    await clock.run(() => transport.calls.length > 0 && clock.pendingTimers === 0);
    const result = await outcome;
    expect(result.messageIds.length).toBeGreaterThanOrEqual(3);
    expect(shown(transport, result.messageIds)).toBe(text);
    for (const id of result.messageIds) expect(transport.messages.get(id)?.length).toBeLessThanOrEqual(2_000);
  });

  it('replaces empty, whitespace-only or fence-only answers with a polite line', async () => {
    for (const text of ['', '   \n ', '```\n```']) {
      const { clock, engine, transport } = setup();
      const reply = engine.open(target);
      reply.append(text);
      const outcome = reply.finish();
      await clock.run(() => clock.pendingTimers === 0);
      expect(shown(transport, (await outcome).messageIds)).toBe("Sorry, I don't have an answer for that.");
    }
  });

  it('finishes with what arrived when the stream ends without an end event', async () => {
    const { clock, transport, engine } = setup();
    const reply = engine.open(target);
    reply.append('Half an answer');
    let outcome: Awaited<typeof reply.done> | undefined;
    void reply.done.then((result) => {
      outcome = result;
    });
    await clock.run(() => outcome !== undefined);
    expect(outcome).toMatchObject({ interrupted: 'idle' });
    expect(shown(transport, outcome?.messageIds ?? [])).toBe('Half an answer');
    expect(clock.now()).toBeGreaterThanOrEqual(120_000);
  });

  it('stops editing when cancelled and finishes cleanly with a note', async () => {
    const { clock, transport, engine } = setup();
    const reply = engine.open(target);
    reply.append('Part of the answer');
    await clock.run(() => false, 2_000);
    const outcome = reply.cancel('_(A person from our team has taken over.)_');
    reply.append(' more text that must not appear');
    await clock.run(() => clock.pendingTimers === 0);
    const result = await outcome;
    expect(result.interrupted).toBe('cancelled');
    expect(shown(transport, result.messageIds)).toBe(
      'Part of the answer\n\n_(A person from our team has taken over.)_',
    );
  });

  it('waits out a 429 and retries with the newest text', async () => {
    // placeholder and status, then the first edit is refused.
    const { clock, transport, engine } = setup({ faults: ['ok', 'ok', '429'] });
    const reply = engine.open(target);
    await clock.run(() => transport.calls.length === 2);
    reply.append('first');
    await clock.run(() => transport.calls.length === 3);
    const refused = transport.calls[2];
    expect(refused).toMatchObject({ operation: 'edit', outcome: '429' });
    reply.append(' and second');
    const outcome = reply.finish();
    await clock.run(() => clock.pendingTimers === 0);
    const result = await outcome;
    expect(shown(transport, result.messageIds)).toBe('first and second');
    const retry = transport.calls[3];
    expect(retry).toMatchObject({ operation: 'edit', text: 'first and second', outcome: 'ok' });
    expect((retry?.at as number) - (refused?.at as number)).toBeGreaterThanOrEqual(transport.retryAfterMs);
  });

  it('posts the final text as a fresh message when its message can no longer be edited', async () => {
    const { clock, transport, engine } = setup();
    const reply = engine.open(target);
    await clock.run(() => transport.calls.length === 2);
    const editMessage = transport.editMessage.bind(transport);
    transport.editMessage = async () => {
      throw new Error('message_not_found');
    };
    reply.append('The whole answer.');
    const outcome = reply.finish();
    await clock.run(() => clock.pendingTimers === 0);
    const result = await outcome;
    transport.editMessage = editMessage;
    expect(result.messageIds).toHaveLength(1);
    expect(shown(transport, result.messageIds)).toBe('The whole answer.');
    expect([...transport.messages.values()]).toEqual(['The whole answer.']);
    expect(
      transport.calls.filter((call) => call.text === 'The whole answer.' && call.operation === 'post'),
    ).toHaveLength(1);
  });

  it('gives up on a transport that always fails: bounded attempts, one error message, a clear error', async () => {
    const { clock, transport, engine } = setup();
    transport.alwaysFail = true;
    const reply = engine.open(target);
    reply.append('An answer');
    const outcome = reply.finish();
    let error: unknown;
    outcome.catch((failure: unknown) => {
      error = failure;
    });
    await clock.run(() => error !== undefined);
    expect(error).toBeInstanceOf(ReplyDeliveryError);
    expect(transport.calls.length).toBeLessThan(10);
    expect(transport.calls.at(-1)).toMatchObject({
      operation: 'post',
      text: expect.stringMatching(/could not finish this answer/),
    });
    await clock.run();
    const settledCalls = transport.calls.length;
    await clock.run(() => false, clock.now() + 600_000);
    expect(transport.calls.length).toBe(settledCalls);
  });
});

describe('ProgressiveReply properties', () => {
  const word = fc.stringMatching(/^[A-Za-z0-9]{1,12}$/);
  const piece = fc.oneof(
    { weight: 6, arbitrary: word.map((text) => `${text} `) },
    { weight: 1, arbitrary: fc.constant('\n\n') },
    { weight: 1, arbitrary: fc.constant('. ') },
    { weight: 1, arbitrary: word.map((text) => `**${text}** `) },
    { weight: 1, arbitrary: word.map((text) => `[${text}](https://example.com/${text}) `) },
    { weight: 1, arbitrary: word.map((text) => `\n\`\`\`\n${text}\n\`\`\`\n`) },
    { weight: 1, arbitrary: fc.string({ minLength: 0, maxLength: 30 }) },
  );
  const answer = fc.array(piece, { maxLength: 120 }).map((pieces) => pieces.join(''));
  // Failures come in runs shorter than the retry bound, so the final text must always land.
  const faults = fc
    .array(fc.constantFrom<FakeFault>('ok', 'ok', '429', 'error'), { maxLength: 40 })
    .filter((list) => {
      let run = 0;
      for (const fault of list) {
        run = fault === 'ok' ? 0 : run + 1;
        if (run >= 3) return false;
      }
      return true;
    });

  it('shows exactly the full answer across its messages, within every budget, with nothing after the final', async () => {
    await fc.assert(
      fc.asyncProperty(
        answer,
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: 1, maxLength: 20 }),
        faults,
        fc.constantFrom<'slack' | 'discord' | 'plain'>('slack', 'discord', 'plain'),
        async (text, cuts, pauses, faultList, platform) => {
          const { clock, transport, engine } = setup({ platform, maxMessageLength: 120, faults: faultList });
          const reply = engine.open(target);
          let callsBeforeFinish = 0;
          void (async () => {
            let position = 0;
            for (let index = 0; position < text.length; index++) {
              const size = cuts[index % cuts.length] as number;
              reply.append(text.slice(position, position + size));
              position += size;
              await clock.sleep(pauses[index % pauses.length] as number);
            }
            callsBeforeFinish = transport.calls.length;
            await reply.finish();
          })();
          let result: Awaited<typeof reply.done> | undefined;
          void reply.done.then((outcome) => {
            result = outcome;
          });
          await clock.run(() => result !== undefined);
          expect(result).toBeDefined();
          const expected =
            text.replace(/```|~~~|\s/g, '') === '' ? "Sorry, I don't have an answer for that." : text;
          expect(shown(transport, result?.messageIds ?? [])).toBe(transport.render(expected));
          expect(transport.violations()).toEqual([]);
          // After finish(), each message gets at most one successful operation — its final text — and then nothing.
          const afterFinish = transport.calls.slice(callsBeforeFinish);
          for (const id of result?.messageIds ?? []) {
            const calls = afterFinish.filter((call) => call.messageId === id);
            const succeeded = calls.filter((call) => call.outcome === 'ok');
            expect(succeeded.length).toBeLessThanOrEqual(1);
            if (succeeded.length === 1) expect(calls.at(-1)).toBe(succeeded[0]);
          }
          const settledCalls = transport.calls.length;
          await clock.run();
          expect(transport.calls.length).toBe(settledCalls);
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});

describe('50 concurrent answers of 1,500 characters, simulated time', () => {
  it.each([
    ['slack', 10],
    ['discord', 1],
  ] as const)(
    'into one %s workspace/channel: no budget exceeded, every final text exact',
    async (platform, channels) => {
      const report = await runManyAnswers({ platform, answers: 50, channels });
      expect(report.violations).toEqual([]);
      expect(report.exact).toBe(50);
      expect(report.firstVisibleMs.p50).toBeGreaterThanOrEqual(0);
    },
  );
});
