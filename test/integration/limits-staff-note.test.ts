import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackBot } from '../../adapters/slack/slack-bot.ts';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-server.ts';
import {
  botMessages,
  deliver,
  type SlackHarness,
  sleep,
  startSlackHarness,
  until,
} from '../support/slack-harness.ts';
import { mention } from '../support/slack-payloads.ts';
import { variedQuestions } from '../support/varied-questions.ts';

/** A customer over the message limit on Slack: a polite reply, and one note in the staff channel. */

let harness: SlackHarness;
let fake: FakeSlack;
let slack: SlackBot;
let url: string;

beforeAll(async () => {
  harness = await startSlackHarness({ name: 'limits-note', env: { LIMITS_ENABLED: 'true' } });
  fake = await startFakeSlack();
  ({ slack, url } = await harness.startSlack(fake));
});

afterAll(async () => {
  await slack.stop();
  await fake.close();
  await harness.close();
});

describe('limits on Slack, real Bolt against the fake Web API', () => {
  it('tells a customer over the limit to wait, and staff once, without handing the threads over', async () => {
    const threads: string[] = [];
    for (const text of variedQuestions(14)) {
      const event = mention(text, { user: 'U0FLOOD' });
      threads.push(event.event.ts as string);
      expect((await deliver(url, event)).status).toBe(200);
    }
    // Every message answered, in its own thread, once.
    const replies = await until(() => {
      const found = threads.map((ts) =>
        botMessages(fake, 'C0GENERAL', ts).find((message) => !message.blocks),
      );
      return found.every(Boolean) ? found : undefined;
    }, 30_000);
    const limited = replies.filter((message) =>
      /sending messages faster than I can answer/.test(message?.text ?? ''),
    );
    // The defaults: 8 a minute and a burst of 4.
    expect(limited).toHaveLength(2);

    await sleep(500);
    const staff = fake.messages.filter((message) => message.channel === 'C0STAFF');
    expect(staff).toHaveLength(1);
    expect(staff[0]?.text).toMatch(/^Message limit: U0FLOOD on slack sent more than 8 messages in a minute/);
    expect(staff[0]?.text).toContain('https://fake.slack.test/archives/C0GENERAL/p');
    // Still the bot's threads: nothing was handed over.
    for (const ts of threads)
      expect(await harness.core.agent.threadOwner({ platform: 'slack', threadId: `C0GENERAL:${ts}` })).toBe(
        'bot',
      );
  });
});
