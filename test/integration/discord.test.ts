import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDiscordBot, type DiscordBot } from '../../adapters/discord/discord-bot.ts';
import { createSupportBot, type SupportBot } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { FeedbackStore } from '../../src/feedback/feedback-store.ts';
import { toDiscordMarkdown } from '../../src/reply/markdown.ts';
import { splitMessage } from '../../src/reply/split.ts';
import { type DiscordMessage, type FakeDiscord, shardOf, startFakeDiscord } from '../fakes/discord-server.ts';
import {
  type ChatRequest,
  defaultRespond,
  type FakeOpenAI,
  startFakeOpenAI,
} from '../fakes/openai-server.ts';
import {
  answerParts,
  askCommandData,
  botMessagesIn as botMessagesOf,
  mentionOf,
  sourcesIn,
} from '../support/discord-helpers.ts';
import {
  closeCore,
  expectedAnswer,
  ingestDemoKnowledge,
  recordingLogger,
  until,
} from '../support/helpers.ts';

const workDir = mkdtempSync(path.join(tmpdir(), 'discord-it-'));
const collection = `it-discord-${process.pid}-${Date.now()}`;
const botId = '100000000000000001';
const guildId = '200000000000000001';
const otherGuildId = '210000000000000001';
const channel = {
  general: '300000000000000001',
  voice: '300000000000000002',
  forum: '300000000000000003',
  forbidden: '300000000000000004',
  staff: '300000000000000005',
  busy: '300000000000000006',
  other: '310000000000000001',
};
const staffRole = '600000000000000001';
const customer = { id: '500000000000000005', username: 'customer' };
const staffMember = { id: '500000000000000009', username: 'agent-ana' };

let fakeOpenAI: FakeOpenAI;
let core: SupportBot;
let feedback: FeedbackStore;

const guilds = [
  {
    id: guildId,
    roles: [{ id: staffRole, name: 'Support staff' }],
    channels: [
      { id: channel.general },
      { id: channel.voice, type: 2 },
      { id: channel.forum, type: 15 },
      { id: channel.forbidden },
      { id: channel.staff },
      { id: channel.busy },
    ],
  },
  { id: otherGuildId, channels: [{ id: channel.other }] },
];

function configFor(fake: FakeDiscord | undefined, env: Record<string, string> = {}) {
  return loadConfig({
    env: {
      CHROMA_URL: inject('chromaUrl'),
      KB_COLLECTION: collection,
      DATA_DIR: workDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fakeOpenAI.url,
      LLM_PROVIDER: 'openai',
      EMBEDDINGS_PROVIDER: 'offline',
      LOG_LEVEL: 'silent',
      // One customer asking this many questions a minute would be limited: not what this is about.
      LIMITS_ENABLED: 'false',
      DISCORD_TOKEN: 'discord-test-token',
      DISCORD_API_URL: fake?.api ?? 'http://127.0.0.1:9/api',
      DISCORD_SUPPORT_CHANNELS: channel.forum,
      DISCORD_STAFF_ROLE_ID: staffRole,
      DISCORD_STAFF_CHANNEL: channel.staff,
      ...env,
    },
    loadDotEnv: false,
  });
}

async function startBot(fake: FakeDiscord, extra: Partial<Parameters<typeof createDiscordBot>[0]> = {}) {
  const { logger, lines } = recordingLogger();
  const bot = createDiscordBot({
    config: configFor(fake).discord,
    agent: core.agent,
    store: core.store,
    feedback,
    metrics: core.metrics,
    logger,
    ...extra,
  });
  await bot.start();
  return { bot, lines };
}

const botMessagesIn = (fake: FakeDiscord, channelId: string) => botMessagesOf(fake, channelId, botId);
const mention = (text: string) => mentionOf(botId, text);

beforeAll(async () => {
  fakeOpenAI = await startFakeOpenAI({
    profile: { ttftMs: 150, tokensPerSecond: 300, answerTokens: 1_000 },
    // "in detail" asks for a long answer, past Discord's 2,000 characters.
    respond: (request: ChatRequest) => {
      const answer = defaultRespond(request);
      const question = JSON.stringify(request.messages.at(-1));
      return /in detail/i.test(question) ? Array.from({ length: 12 }, () => answer).join('\n\n') : answer;
    },
  });
  core = await createSupportBot({ config: configFor(undefined) });
  feedback = new FeedbackStore({ store: core.store });
  await ingestDemoKnowledge(core);
});

afterAll(async () => {
  await closeCore(core);
  await fakeOpenAI.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('Discord, the real discord.js client against the fake gateway and REST API', () => {
  let fake: FakeDiscord;
  let bot: DiscordBot;
  let lines: ReturnType<typeof recordingLogger>['lines'];

  beforeAll(async () => {
    // Four messages per 5 s per channel: stricter than the bot's own budget, so real 429s happen.
    fake = await startFakeDiscord({
      guilds,
      channelLimit: { limit: 4, windowMs: 5_000 },
      forbiddenChannels: [channel.forbidden],
    });
    ({ bot, lines } = await startBot(fake));
  });
  afterAll(async () => {
    await bot.stop();
    await fake.close();
  });

  it('answers a mention in a new thread, streaming by edits, with sources and feedback buttons', async () => {
    const question = 'How do refunds work? How long do they take?';
    const asked = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(question),
    });
    // The thread is started from the question, so it has the question's id.
    const sources = await until(() => sourcesIn(botMessagesIn(fake, asked.id)));
    const threadCall = fake.calls.find(
      (call) => call.path === `/channels/${channel.general}/messages/${asked.id}/threads`,
    );
    expect(threadCall?.body).toMatchObject({ name: question });
    const parts = answerParts(botMessagesIn(fake, asked.id));
    expect(parts.map((part) => part.content)).toEqual(
      splitMessage(toDiscordMarkdown(await expectedAnswer(core, question)), 2_000),
    );
    expect(parts[0]?.content).toMatch(/refund/i);
    expect(parts[0]?.edits).toBeGreaterThan(0);
    // Typing first, then the placeholder, then edits with the growing answer.
    const inThread = fake.calls.filter((call) => call.path.startsWith(`/channels/${asked.id}/`));
    expect(inThread.map((call) => call.path)).toContain(`/channels/${asked.id}/typing`);
    expect(
      inThread.find((call) => call.method === 'POST' && call.path.endsWith('/messages'))?.body,
    ).toMatchObject({
      content: '…',
    });
    expect(JSON.stringify(sources.embeds)).toMatch(/Refunds/);
    expect(JSON.stringify(sources.components)).toMatch(/feedback:helpful:.*feedback:unhelpful:/);
    // Nothing was posted in the channel itself.
    expect(botMessagesIn(fake, channel.general)).toHaveLength(0);

    // A follow-up in the thread, without a mention, is answered there with the conversation.
    fake.sendMessage({
      channel_id: asked.id,
      guild_id: guildId,
      author: customer,
      content: 'Do you ship to Canada?',
    });
    await until(() => botMessagesIn(fake, asked.id).filter((message) => message.embeds?.length).length === 2);
    expect(answerParts(botMessagesIn(fake, asked.id)).at(-1)?.content).toMatch(/canada/i);
  });

  it('continues past 2,000 characters in a second message', async () => {
    const question = 'Explain your warranty in detail please';
    const asked = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(question),
    });
    await until(() => sourcesIn(botMessagesIn(fake, asked.id)));
    const parts = answerParts(botMessagesIn(fake, asked.id));
    const expected = splitMessage(toDiscordMarkdown(await expectedAnswer(core, question)), 2_000);
    expect(expected.length).toBeGreaterThan(1);
    expect(parts.map((part) => part.content)).toEqual(expected);
    for (const part of parts) expect(part.content.length).toBeLessThanOrEqual(2_000);
  });

  it('answers a DM', async () => {
    const dm = '700000000000000001';
    fake.sendMessage({ channel_id: dm, author: customer, content: 'What payment methods do you accept?' });
    const sources = await until(() => sourcesIn(botMessagesIn(fake, dm)));
    expect(answerParts(botMessagesIn(fake, dm))[0]?.content).toMatch(/pay|card/i);
    expect(sources).toBeDefined();
  });

  it('records feedback from the buttons and answers ephemerally', async () => {
    const sources = fake.messages.find((message) => message.embeds?.length && message.components?.length);
    const customId = JSON.stringify(sources?.components).match(/feedback:unhelpful:[^"]+/)?.[0];
    expect(customId).toBeDefined();
    const before = (await feedback.summary()).notHelpful;
    const { token } = fake.sendInteraction({
      type: 3,
      data: { custom_id: customId, component_type: 2 },
      guild_id: guildId,
      channel_id: sources?.channel_id as string,
      user: customer,
      message: sources as DiscordMessage,
    });
    const callback = await until(() => fake.interactionReplies.find((reply) => reply.token === token));
    expect(callback.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect((await feedback.summary()).notHelpful).toBe(before + 1);
  });

  it('answers inline where threads are not allowed, and a reply to that answer continues the conversation', async () => {
    const asked = fake.sendMessage({
      channel_id: channel.voice,
      guild_id: guildId,
      author: customer,
      ...mention('How long does standard shipping take?'),
    });
    await until(() => sourcesIn(botMessagesIn(fake, channel.voice)));
    const answer = answerParts(botMessagesIn(fake, channel.voice))[0] as DiscordMessage;
    expect(answer.message_reference?.message_id).toBe(asked.id);
    expect(fake.calls.some((call) => call.path.endsWith('/threads'))).toBe(true);
    expect(
      fake.calls.some(
        (call) =>
          call.path.startsWith(`/channels/${channel.voice}/messages/`) && call.path.endsWith('/threads'),
      ),
    ).toBe(false);
    // A reply to the bot (no mention) is answered too.
    const followUp = fake.sendMessage({
      channel_id: channel.voice,
      guild_id: guildId,
      author: customer,
      content: 'And is express shipping faster?',
      message_reference: { message_id: answer.id },
    });
    await until(() =>
      answerParts(botMessagesIn(fake, channel.voice)).find(
        (message) => message.message_reference?.message_id === followUp.id,
      ),
    );
  });

  it('answers every new post in a support forum, in the post', async () => {
    const post = fake.createForumPost({
      forumId: channel.forum,
      guild_id: guildId,
      title: 'Warranty on a cracked tent pole?',
      content: 'My tent pole cracked after two months. Is that covered by the warranty?',
      author: customer,
    });
    await until(() => sourcesIn(botMessagesIn(fake, post.id)));
    expect(answerParts(botMessagesIn(fake, post.id))[0]?.content).toMatch(/warrant/i);
  });

  it('hands a thread over to staff, stays quiet, and takes it back on "resume"', async () => {
    const asked = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention('Do you price match?'),
    });
    await until(() => sourcesIn(botMessagesIn(fake, asked.id)));
    const count = () => botMessagesIn(fake, asked.id).length;
    const before = count();
    fake.sendMessage({
      channel_id: asked.id,
      guild_id: guildId,
      author: staffMember,
      roles: [staffRole],
      content: "Hi, I'm Ana from support, I'll help.",
    });
    await until(() => lines.some((line) => line.message === 'staff took the conversation over'));
    fake.sendMessage({
      channel_id: asked.id,
      guild_id: guildId,
      author: customer,
      content: 'Thanks Ana, what about returns?',
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(count()).toBe(before);
    fake.sendMessage({
      channel_id: asked.id,
      guild_id: guildId,
      author: staffMember,
      roles: [staffRole],
      content: 'resume',
    });
    await until(() =>
      botMessagesIn(fake, asked.id).some((message) => /take it from here/.test(message.content)),
    );
    fake.sendMessage({
      channel_id: asked.id,
      guild_id: guildId,
      author: customer,
      content: 'How do I reset my password?',
    });
    await until(() => botMessagesIn(fake, asked.id).filter((message) => message.embeds?.length).length === 2);
  });

  it('announces an agent hand-off to the staff role with a summary and a link', async () => {
    const asked = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention('This is unacceptable, my order arrived broken and nobody answers my emails!'),
    });
    const announcement = await until(() =>
      botMessagesIn(fake, channel.staff).find((message) => message.content.includes(asked.id)),
    );
    expect(announcement.content).toContain(`<@&${staffRole}>`);
    expect(announcement.content).toContain(`https://discord.com/channels/${guildId}/${asked.id}/`);
    expect(announcement.content).toMatch(/complaint/i);
    const post = fake.calls.find(
      (call) => call.path === `/channels/${channel.staff}/messages` && call.method === 'POST',
    );
    expect(post?.body).toMatchObject({ allowed_mentions: { roles: [staffRole] } });
  });

  it("re-posts a customer's mentions, masked links and markdown inert in the staff channel", async () => {
    const asked = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(
        'This is unacceptable @everyone <@500000000000000001> <@&600000000000000777> see [your order](https://evil.test/login) **now**, I want a manager',
      ),
    });
    const announcement = await until(() =>
      botMessagesIn(fake, channel.staff).find(
        (message) => message.content.includes(asked.id) && message.content.includes('evil.test'),
      ),
    );
    for (const raw of ['@everyone', '<@500000000000000001>', '<@&600000000000000777>', '**now**']) {
      expect(announcement.content).not.toContain(raw);
    }
    // A masked link only with its bracket escaped: the address shows, not a label over it.
    expect(announcement.content).not.toMatch(/(?<!\\)\[your order\]\(/);
    expect(announcement.content).toContain('\\[your order](https://evil.test/login)');
    // The bot's own role tag and its link to the thread still work.
    expect(announcement.content.startsWith(`<@&${staffRole}> **Hand-off**`)).toBe(true);
  });

  it('answers /ask with a deferred response that streams in place', async () => {
    expect(JSON.stringify(fake.commands)).toContain('"name":"ask"');
    const { token } = fake.sendInteraction({
      type: 2,
      data: askCommandData('What is your return window?'),
      guild_id: guildId,
      channel_id: channel.general,
      user: customer,
    });
    await until(() =>
      fake.interactionReplies.some((reply) => reply.token === token && reply.kind === 'followup'),
    );
    const replies = fake.interactionReplies.filter((reply) => reply.token === token);
    expect(replies[0]).toMatchObject({ kind: 'callback', body: { type: 5 } });
    expect(replies.filter((reply) => reply.kind === 'original').length).toBeGreaterThan(1);
    const [original, sources] = fake.interactionMessages(token);
    expect(original?.content).toBe(
      splitMessage(toDiscordMarkdown(await expectedAnswer(core, 'What is your return window?')), 2_000)[0],
    );
    expect(JSON.stringify(sources?.embeds)).toMatch(/Sources/);
  });

  it('answers attachment-only, sticker-only and mention-only messages politely, and a 4,000-character one', async () => {
    const photo = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(''),
      attachments: [{ id: '1', filename: 'broken.jpg' }],
    });
    const sticker = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(''),
      sticker_items: [{ id: '2', name: 'wave', format_type: 1 }],
    });
    const empty = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(''),
    });
    const long = `${'Please tell me how returns work for boots. '.repeat(100)}`.slice(0, 4_000);
    const nitro = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention(long),
    });
    await until(() =>
      botMessagesIn(fake, photo.id).find((message) => /only read text/.test(message.content)),
    );
    await until(() =>
      botMessagesIn(fake, sticker.id).find((message) => /only read text/.test(message.content)),
    );
    await until(() =>
      botMessagesIn(fake, empty.id).find((message) => /didn't catch a question/.test(message.content)),
    );
    await until(() => sourcesIn(botMessagesIn(fake, nitro.id)));
    const thread = fake.calls.find((call) => call.path.endsWith(`/messages/${nitro.id}/threads`));
    expect(String((thread?.body as { name?: string } | undefined)?.name).length).toBeLessThanOrEqual(100);
  });

  it('logs missing permissions clearly, without crashing or retrying in a loop', async () => {
    const before = fake.calls.length;
    fake.sendMessage({
      channel_id: channel.forbidden,
      guild_id: guildId,
      author: customer,
      ...mention('Hello, anyone there?'),
    });
    const line = await until(() => lines.find((entry) => entry.message.startsWith('missing permissions')));
    expect(line.message).toContain(channel.forbidden);
    expect(line.level).toBe('warn');
    const toForbidden = () =>
      fake.calls.slice(before).filter((call) => call.path.startsWith(`/channels/${channel.forbidden}`))
        .length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const spent = toForbidden();
    expect(spent).toBeLessThanOrEqual(2);
    // The next message there costs nothing until the cool-down ends; other channels still work.
    fake.sendMessage({
      channel_id: channel.forbidden,
      guild_id: guildId,
      author: customer,
      ...mention('Hello again?'),
    });
    const asked = fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention('Do you sell gift cards?'),
    });
    await until(() => sourcesIn(botMessagesIn(fake, asked.id)) ?? botMessagesIn(fake, asked.id).length > 1);
    expect(toForbidden()).toBe(spent);
  });

  it('answers unknown interactions politely and ignores unknown interaction types', async () => {
    const unknownCommand = fake.sendInteraction({
      type: 2,
      data: { id: '800000000000000009', name: 'frobnicate', type: 1 },
      guild_id: guildId,
      channel_id: channel.general,
      user: customer,
    });
    const modal = fake.sendInteraction({
      type: 5,
      data: { custom_id: 'some-modal', components: [] },
      guild_id: guildId,
      channel_id: channel.general,
      user: customer,
    });
    fake.sendInteraction({ type: 99, guild_id: guildId, channel_id: channel.general, user: customer });
    for (const { token } of [unknownCommand, modal]) {
      const reply = await until(() => fake.interactionReplies.find((entry) => entry.token === token));
      expect(reply.body).toMatchObject({
        type: 4,
        data: { flags: 64, content: expect.stringMatching(/\/ask/) },
      });
    }
    // Still answering.
    const dm = '700000000000000002';
    fake.sendMessage({ channel_id: dm, author: customer, content: 'hello' });
    await until(() => botMessagesIn(fake, dm).find((message) => message.content !== '…'));
  });

  it('ignores bots, system messages and channel chatter that is not for it', async () => {
    const before = fake.messages.filter((message) => message.author.id === botId).length;
    fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: { id: '510000000000000001', username: 'otherbot', bot: true },
      ...mention('What is your refund policy?'),
    });
    fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      ...mention('What is your refund policy?'),
      type: 7,
    });
    fake.sendMessage({
      channel_id: channel.general,
      guild_id: guildId,
      author: customer,
      content: 'just chatting with friends here',
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(fake.messages.filter((message) => message.author.id === botId).length).toBe(before);
  });

  it('resumes a dropped gateway connection: messages sent meanwhile are answered once, none lost', async () => {
    fake.dropConnections();
    const asked = [
      'Do you ship to Canada?',
      'What is your return window?',
      'How do I reset my password?',
    ].map((question) =>
      fake.sendMessage({
        channel_id: channel.general,
        guild_id: guildId,
        author: customer,
        ...mention(question),
      }),
    );
    for (const message of asked) await until(() => sourcesIn(botMessagesIn(fake, message.id)), 30_000);
    expect(fake.resumes()).toBeGreaterThanOrEqual(1);
    expect(fake.identifies()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const message of asked) {
      expect(fake.calls.filter((call) => call.path.endsWith(`/messages/${message.id}/threads`))).toHaveLength(
        1,
      );
      expect(botMessagesIn(fake, message.id).filter((reply) => reply.embeds?.length)).toHaveLength(1);
    }
  });

  it('finishes 30 concurrent questions in one channel with every final text exact and no unhandled 429', async () => {
    const questions = Array.from(
      { length: 30 },
      (_, index) => `Question ${index}: how do returns work for item ${index}?`,
    );
    const asked = questions.map((question) =>
      fake.sendMessage({
        channel_id: channel.busy,
        guild_id: guildId,
        author: customer,
        ...mention(question),
      }),
    );
    await until(
      () => asked.every((message) => sourcesIn(botMessagesIn(fake, message.id))) && bot.activeReplies() === 0,
      150_000,
    );
    for (const [index, message] of asked.entries()) {
      const parts = answerParts(botMessagesIn(fake, message.id)).map((part) => part.content);
      expect(parts).toEqual(
        splitMessage(toDiscordMarkdown(await expectedAnswer(core, questions[index] as string)), 2_000),
      );
    }
    // The buckets ran dry: discord.js saw it in the rate-limit headers (or a 429) and handed it back
    // to the reply engine instead of queueing; nothing failed because of it.
    expect(lines.filter((line) => line.message === 'discord rate limit').length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.level === 'error')).toEqual([]);
  }, 180_000);
});

describe('Discord with two shards', () => {
  it('each shard answers its own server', async () => {
    expect(shardOf(guildId, 2)).not.toBe(shardOf(otherGuildId, 2));
    const fake = await startFakeDiscord({ guilds });
    const shards = await Promise.all(
      [0, 1].map((shard) => startBot(fake, { shards: [shard], shardCount: 2 })),
    );
    try {
      expect(fake.identifies()).toBe(2);
      for (const [index, { bot }] of shards.entries()) {
        const own = index === shardOf(guildId, 2) ? guildId : otherGuildId;
        expect([...bot.client.guilds.cache.keys()]).toEqual([own]);
      }
      const first = fake.sendMessage({
        channel_id: channel.general,
        guild_id: guildId,
        author: customer,
        ...mention('Do you ship to Canada?'),
      });
      const second = fake.sendMessage({
        channel_id: channel.other,
        guild_id: otherGuildId,
        author: customer,
        ...mention('Do you ship to Canada?'),
      });
      await until(
        () => sourcesIn(botMessagesIn(fake, first.id)) && sourcesIn(botMessagesIn(fake, second.id)),
      );
    } finally {
      await Promise.all(shards.map(({ bot }) => bot.stop()));
      await fake.close();
    }
  });
});
