import { Client, Events, GatewayIntentBits, type Message, Partials } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord-server.ts';

const guildId = '200000000000000001';
const channelId = '300000000000000001';
const customer = { id: '500000000000000005', username: 'customer' };

describe('the fake Discord, through the real discord.js client', () => {
  let fake: FakeDiscord;
  let client: Client;
  const received: Message[] = [];

  beforeAll(async () => {
    fake = await startFakeDiscord();
    client = new Client({
      intents: [
        GatewayIntentBits.Guilds,
        GatewayIntentBits.GuildMessages,
        GatewayIntentBits.MessageContent,
        GatewayIntentBits.DirectMessages,
      ],
      partials: [Partials.Channel],
      rest: { api: fake.api },
    });
    client.on(Events.MessageCreate, (message) => {
      received.push(message);
    });
    const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
    await client.login('test-token');
    await ready;
  });
  afterAll(async () => {
    await client.destroy();
    await fake.close();
  });

  it('identifies, gets READY and the guild, and receives a message', async () => {
    expect(fake.identifies()).toBe(1);
    expect(client.guilds.cache.get(guildId)?.channels.cache.has(channelId)).toBe(true);
    fake.sendMessage({ channel_id: channelId, guild_id: guildId, content: 'hello bot', author: customer });
    await expect.poll(() => received.at(-1)?.content).toBe('hello bot');
  });

  it('posts and edits a message over REST with rate-limit headers', async () => {
    const channel = client.channels.cache.get(channelId);
    if (!channel?.isSendable()) throw new Error('channel not sendable');
    const sent = await channel.send('first');
    await sent.edit('first, edited');
    expect(fake.messages.find((message) => message.id === sent.id)).toMatchObject({
      content: 'first, edited',
      edits: 1,
    });
    expect(
      fake.calls.some(
        (call) => call.method === 'PATCH' && call.path === `/channels/${channelId}/messages/${sent.id}`,
      ),
    ).toBe(true);
  });

  it('resumes after a dropped connection and replays what it missed', async () => {
    fake.dropConnections();
    fake.sendMessage({
      channel_id: channelId,
      guild_id: guildId,
      content: 'sent while disconnected',
      author: customer,
    });
    await expect
      .poll(() => received.map((message) => message.content), { timeout: 15_000 })
      .toContain('sent while disconnected');
    expect(fake.resumes()).toBeGreaterThanOrEqual(1);
    expect(fake.identifies()).toBe(1);
    expect(received.filter((message) => message.content === 'sent while disconnected')).toHaveLength(1);
  });
});

describe('the fake Discord refuses what Discord refuses, through the real discord.js client', () => {
  const intents = [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    GatewayIntentBits.MessageContent,
    GatewayIntentBits.DirectMessages,
  ];

  it('a privileged intent not enabled for the app: close 4014, and login rejects', async () => {
    const fake = await startFakeDiscord({ privilegedIntents: [] });
    const client = new Client({ intents, rest: { api: fake.api } });
    try {
      await expect(client.login('test-token')).rejects.toThrow(/disallowed intents/i);
      expect(fake.closeCodes).toEqual([4014]);
      expect(fake.identifies()).toBe(0);
    } finally {
      await client.destroy();
      await fake.close();
    }
  });

  it('a wrong token: 401 from REST, or 4004 at the gateway', async () => {
    const fake = await startFakeDiscord({ token: 'right-token' });
    const gatewayOnly = await startFakeDiscord({ token: 'right-token', tokenCheck: 'gateway' });
    const clients = [fake, gatewayOnly].map((server) => new Client({ intents, rest: { api: server.api } }));
    try {
      await expect(clients[0]?.login('wrong-token')).rejects.toThrow(/invalid token/i);
      await expect(clients[1]?.login('wrong-token')).rejects.toThrow(/authentication failed/i);
      expect(gatewayOnly.closeCodes).toEqual([4004]);
    } finally {
      await Promise.all(clients.map((client) => client.destroy()));
      await Promise.all([fake.close(), gatewayOnly.close()]);
    }
  });

  it('INVALID_SESSION d=false makes discord.js identify again; d=true resume', async () => {
    const fake = await startFakeDiscord();
    const client = new Client({ intents, rest: { api: fake.api } });
    try {
      const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
      await client.login('test-token');
      await ready;
      fake.invalidateSessions(true);
      await expect.poll(() => fake.resumes(), { timeout: 10_000 }).toBe(1);
      fake.invalidateSessions(false);
      await expect.poll(() => fake.identifies(), { timeout: 15_000 }).toBe(2);
    } finally {
      await client.destroy();
      await fake.close();
    }
  }, 30_000);
});
