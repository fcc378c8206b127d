import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type FakeDiscord, type FakeGuild, startFakeDiscord } from '../fakes/discord-server.ts';
import { askCommandData } from '../support/discord-helpers.ts';
import { checkFields, discordSpec } from '../unit/discord/spec-tables.ts';

/**
 * The fake Discord against the docs: every gateway frame it sends, its REST message objects, its
 * 429 bodies and headers and the close codes it uses, checked with the field tables parsed from the
 * excerpts in test/fixtures/discord/spec/ (presence and JSON type) and with the docs' examples.
 * A plain WebSocket client drives the gateway, so nothing is smoothed over by discord.js.
 */

const spec = discordSpec();
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/discord/${name}`, import.meta.url), 'utf8'));

const token = 'contract-token';
const botId = '100000000000000001';
const guildId = '200000000000000001';
const channelId = '300000000000000001';
const forumId = '300000000000000003';
const customer = { id: '500000000000000005', username: 'customer' };
const guilds: FakeGuild[] = [{ id: guildId, channels: [{ id: channelId }, { id: forumId, type: 15 }] }];
const intents = {
  GUILDS: 1 << 0,
  GUILD_MESSAGES: 1 << 9,
  DIRECT_MESSAGES: 1 << 12,
  MESSAGE_CONTENT: 1 << 15,
};
const allIntents =
  intents.GUILDS | intents.GUILD_MESSAGES | intents.DIRECT_MESSAGES | intents.MESSAGE_CONTENT;

interface Frame {
  op: number;
  d: unknown;
  s: number | null;
  t: string | null;
}

/** A bare gateway client: what arrives, and the close code. */
async function openGateway(fake: FakeDiscord, query = '?v=10&encoding=json') {
  const socket = new WebSocket(`${fake.gateway}${query}`);
  const frames: Frame[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
  });
  await once(socket, 'open');
  const next = async (predicate: (frame: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> => {
    const started = Date.now();
    for (;;) {
      const found = frames.find(predicate);
      if (found) return found;
      if (Date.now() - started > timeoutMs) throw new Error('frame did not arrive');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const closedWith = async (): Promise<{ code: number; reason: string }> => {
    const started = Date.now();
    while (!closed) {
      if (Date.now() - started > 5_000) throw new Error('the fake did not close the connection');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return closed;
  };
  const send = (payload: unknown) =>
    socket.send(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const identify = (d: Record<string, unknown> = {}) =>
    send({
      op: 2,
      d: {
        token,
        intents: allIntents,
        properties: { os: 'linux', browser: 'contract', device: 'contract' },
        shard: [0, 1],
        ...d,
      },
    });
  return { socket, frames, next, send, identify, closedWith };
}

const dispatch = (type: string) => (frame: Frame) => frame.op === 0 && frame.t === type;

/** Checks a gateway frame's envelope (op, d, s, t) and the rule that `s` and `t` are null unless op is 0. */
function envelopeProblems(frame: unknown): string[] {
  const problems = checkFields(frame, spec.envelope, 'frame');
  const { op, s, t } = frame as Frame;
  if (!spec.opcodes.has(op)) problems.push(`op ${op} is not a gateway opcode`);
  if (op === 0 && (!Number.isInteger(s) || typeof t !== 'string')) problems.push('a dispatch needs s and t');
  if (op !== 0 && (s !== null || t !== null)) problems.push(`op ${op} must have s and t null`);
  return problems;
}

describe('the fake Discord gateway, frame by frame against the docs', () => {
  let fake: FakeDiscord;
  let gateway: Awaited<ReturnType<typeof openGateway>>;

  beforeAll(async () => {
    fake = await startFakeDiscord({ guilds, token });
    gateway = await openGateway(fake);
  });
  afterAll(async () => {
    gateway.socket.close();
    await fake.close();
  });

  it('HELLO, then READY and a GUILD_CREATE for every guild READY lists', async () => {
    const hello = await gateway.next((frame) => frame.op === 10);
    expect(envelopeProblems(hello)).toEqual([]);
    expect(Object.keys(hello.d as object)).toEqual(Object.keys(fixture('gateway.hello.example.json').d));
    expect(Number.isInteger((hello.d as { heartbeat_interval: unknown }).heartbeat_interval)).toBe(true);
    gateway.identify();
    const ready = await gateway.next(dispatch('READY'));
    expect(checkFields(ready.d, spec.ready, 'READY')).toEqual([]);
    const readyGuilds = (ready.d as { guilds: { id: string; unavailable: boolean }[] }).guilds;
    expect(readyGuilds.every((guild) => guild.unavailable === true)).toBe(true);
    for (const guild of readyGuilds) {
      const created = await gateway.next(
        (frame) => dispatch('GUILD_CREATE')(frame) && (frame.d as { id: string }).id === guild.id,
      );
      // No guild-object table is in the excerpts; what READY promises is checked: the same id arrives.
      expect(created.s).toBeGreaterThan(ready.s as number);
    }
    expect((ready.d as { application: object }).application).toEqual({ id: botId, flags: 0 });
  });

  it('acknowledges heartbeats with op 11, as the example', async () => {
    gateway.send({ op: 1, d: null });
    const ack = await gateway.next((frame) => frame.op === 11);
    expect(ack).toMatchObject(fixture('gateway.heartbeat-ack.example.json'));
  });

  it('MESSAGE_CREATE: a message object plus the extra fields; member without user', async () => {
    const sent = fake.sendMessage({
      channel_id: channelId,
      guild_id: guildId,
      author: customer,
      content: `<@${botId}> hello`,
      mentions: [{ id: botId, username: 'supportbot' }],
      attachments: [{ id: '1', filename: 'photo.jpg' }],
    });
    fake.sendMessage({ channel_id: '700000000000000001', author: customer, content: 'a DM' });
    const created = await gateway.next(
      (frame) => dispatch('MESSAGE_CREATE')(frame) && (frame.d as { id: string }).id === sent.id,
    );
    const dm = await gateway.next(
      (frame) => dispatch('MESSAGE_CREATE')(frame) && (frame.d as { content: string }).content === 'a DM',
    );
    for (const frame of [created, dm]) {
      expect(checkFields(frame.d, spec.message, 'MESSAGE_CREATE.d')).toEqual([]);
      expect(checkFields(frame.d, spec.messageCreateExtra, 'MESSAGE_CREATE.d')).toEqual([]);
    }
    const data = created.d as Record<string, unknown> & {
      member: Record<string, unknown>;
      mentions: unknown[];
    };
    expect(data.guild_id).toBe(guildId);
    expect(data.member).not.toHaveProperty('user');
    expect(data.mentions).toEqual([expect.objectContaining({ id: botId })]);
    expect(dm.d).not.toHaveProperty('guild_id');
    expect(dm.d).not.toHaveProperty('member');
    // Built from the docs' example: every field of it is there.
    for (const key of Object.keys(fixture('message.example.json')).filter((key) => key !== 'reactions'))
      expect(data).toHaveProperty(key);
  });

  it('THREAD_CREATE for a forum post carries the starter message id, and the starter follows', async () => {
    const post = fake.createForumPost({
      forumId,
      guild_id: guildId,
      title: 'Broken tent',
      content: 'My tent pole cracked',
      author: customer,
    });
    const thread = await gateway.next(
      (frame) => dispatch('THREAD_CREATE')(frame) && (frame.d as { id: string }).id === post.id,
    );
    const starter = await gateway.next(
      (frame) => dispatch('MESSAGE_CREATE')(frame) && (frame.d as { id: string }).id === post.id,
    );
    expect(envelopeProblems(thread)).toEqual([]);
    expect(thread.d).toMatchObject({ parent_id: forumId, guild_id: guildId, type: 11 });
    expect(starter.s).toBeGreaterThan(thread.s as number);
    expect(checkFields(starter.d, spec.message, 'MESSAGE_CREATE.d')).toEqual([]);
  });

  it('INTERACTION_CREATE: slash command and button, against the Interaction tables', async () => {
    const slash = fake.sendInteraction({
      type: 2,
      data: askCommandData('hi'),
      guild_id: guildId,
      channel_id: channelId,
      user: customer,
    });
    const button = fake.sendInteraction({
      type: 3,
      data: { custom_id: 'feedback:helpful:1', component_type: 2 },
      channel_id: '700000000000000001',
      user: customer,
    });
    const slashFrame = await gateway.next(
      (frame) => dispatch('INTERACTION_CREATE')(frame) && (frame.d as { id: string }).id === slash.id,
    );
    const buttonFrame = await gateway.next(
      (frame) => dispatch('INTERACTION_CREATE')(frame) && (frame.d as { id: string }).id === button.id,
    );
    expect(checkFields(slashFrame.d, spec.interaction, 'INTERACTION_CREATE.d')).toEqual([]);
    expect(checkFields(buttonFrame.d, spec.interaction, 'INTERACTION_CREATE.d')).toEqual([]);
    const slashData = slashFrame.d as { data: unknown; member: { user: unknown }; token: string };
    expect(checkFields(slashData.data, spec.applicationCommandData, 'data')).toEqual([]);
    expect(checkFields((buttonFrame.d as { data: unknown }).data, spec.messageComponentData, 'data')).toEqual(
      [],
    );
    // "member is sent when the interaction is invoked in a guild, and user is sent when invoked in a DM"
    expect(slashData.member.user).toMatchObject({ id: customer.id });
    expect(buttonFrame.d).toHaveProperty('user');
    expect(buttonFrame.d).not.toHaveProperty('member');
    expect(slashData.token).toBe(slash.token);
    // Built from the docs' slash-command example: its fields are all there.
    for (const key of Object.keys(fixture('interaction.slash-command.example.json')))
      expect(slashFrame.d).toHaveProperty(key);
  });

  it('RECONNECT and INVALID_SESSION frames look like the docs examples', async () => {
    fake.requestReconnect();
    const reconnect = await gateway.next((frame) => frame.op === 7);
    expect(reconnect).toMatchObject(fixture('gateway.reconnect.example.json'));
    expect(envelopeProblems(reconnect)).toEqual([]);
    fake.invalidateSessions(true);
    const resumable = await gateway.next((frame) => frame.op === 9);
    expect(resumable.d).toBe(true);
    fake.invalidateSessions(false);
    await gateway.next((frame) => frame.op === 9 && frame.d === false);
    expect(gateway.frames.filter((frame) => frame.op === 9).at(-1)).toMatchObject(
      fixture('gateway.invalid-session.example.json'),
    );
    // An invalidated session cannot be resumed.
    const again = await openGateway(fake);
    again.send({ op: 6, d: { token, session_id: 'session-1', seq: 1 } });
    await again.next((frame) => frame.op === 9 && frame.d === false);
    again.socket.close();
  });

  it('every frame the fake sent in this run passes the envelope rules, and every dispatch is JSON', () => {
    expect(fake.frames.length).toBeGreaterThan(10);
    const problems = fake.frames.flatMap(({ frame }) => envelopeProblems(JSON.parse(frame)));
    expect(problems).toEqual([]);
    const types = new Set(fake.frames.map(({ frame }) => (JSON.parse(frame) as Frame).t).filter(Boolean));
    expect([...types].sort()).toEqual(
      ['GUILD_CREATE', 'INTERACTION_CREATE', 'MESSAGE_CREATE', 'READY', 'THREAD_CREATE'].sort(),
    );
  });
});

describe('the Message Content intent in the fake', () => {
  it('without it, guild messages that do not mention the bot arrive empty; DMs, mentions and its own do not', async () => {
    const fake = await startFakeDiscord({ guilds, privilegedIntents: [] });
    const gateway = await openGateway(fake);
    try {
      gateway.identify({ intents: intents.GUILDS | intents.GUILD_MESSAGES | intents.DIRECT_MESSAGES });
      await gateway.next(dispatch('READY'));
      const chatter = fake.sendMessage({
        channel_id: channelId,
        guild_id: guildId,
        author: customer,
        content: 'secret',
        attachments: [{ id: '1', filename: 'a.png' }],
        embeds: [{ title: 'x' }],
      });
      const mentioned = fake.sendMessage({
        channel_id: channelId,
        guild_id: guildId,
        author: customer,
        content: `<@${botId}> visible`,
        mentions: [{ id: botId, username: 'supportbot' }],
      });
      const own = fake.sendMessage({
        channel_id: channelId,
        guild_id: guildId,
        author: { id: botId, username: 'supportbot', bot: true },
        content: 'mine',
      });
      const dm = fake.sendMessage({ channel_id: '700000000000000001', author: customer, content: 'dm text' });
      const byId = async (id: string) =>
        (
          await gateway.next(
            (frame) => dispatch('MESSAGE_CREATE')(frame) && (frame.d as { id: string }).id === id,
          )
        ).d as Record<string, unknown>;
      expect(await byId(chatter.id)).toMatchObject({
        content: '',
        embeds: [],
        attachments: [],
        components: [],
      });
      expect((await byId(mentioned.id)).content).toBe(`<@${botId}> visible`);
      expect((await byId(own.id)).content).toBe('mine');
      expect((await byId(dm.id)).content).toBe('dm text');
      expect(checkFields(await byId(chatter.id), spec.message, 'MESSAGE_CREATE.d')).toEqual([]);
    } finally {
      gateway.socket.close();
      await fake.close();
    }
  });
});

describe('close codes the fake uses, against the close-code table', () => {
  let fake: FakeDiscord;
  let noPrivileged: FakeDiscord;
  beforeAll(async () => {
    fake = await startFakeDiscord({ guilds, token });
    noPrivileged = await startFakeDiscord({ guilds, token, privilegedIntents: ['GUILD_MEMBERS'] });
  });
  afterAll(async () => {
    await fake.close();
    await noPrivileged.close();
  });

  const descriptions = new Map(
    (fixture('gateway-close-codes.json') as { code: number; description: string }[]).map((row) => [
      row.code,
      row.description,
    ]),
  );
  const cases: [string, number, (gateway: Awaited<ReturnType<typeof openGateway>>) => void, string?][] = [
    ['a wrong token', 4004, (gateway) => gateway.identify({ token: 'wrong' })],
    ['an intent bit Discord does not define', 4013, (gateway) => gateway.identify({ intents: 1 << 17 })],
    ['intents that are not a number', 4013, (gateway) => gateway.identify({ intents: 'all' })],
    ['a shard id past the shard count', 4010, (gateway) => gateway.identify({ shard: [2, 2] })],
    [
      'a second IDENTIFY',
      4005,
      (gateway) => {
        gateway.identify();
        gateway.identify();
      },
    ],
    ['a frame that is not JSON', 4002, (gateway) => gateway.send('{not json')],
    ['an opcode clients may not send', 4001, (gateway) => gateway.send({ op: 10, d: {} })],
    ['a presence update before identifying', 4003, (gateway) => gateway.send({ op: 3, d: {} })],
    ['an API version Discord does not serve', 4012, () => undefined, '?v=8&encoding=json'],
  ];

  for (const [what, code, act, query] of cases) {
    it(`${what}: ${code}`, async () => {
      const gateway = await openGateway(fake, query);
      act(gateway);
      const closed = await gateway.closedWith();
      expect(closed.code).toBe(code);
      expect(spec.closeCodes.has(code)).toBe(true);
      expect(closed.reason).toBe(descriptions.get(code));
    });
  }

  it('a privileged intent not enabled for the app: 4014, and the table says not to reconnect', async () => {
    const gateway = await openGateway(noPrivileged);
    gateway.identify({ intents: allIntents });
    expect((await gateway.closedWith()).code).toBe(4014);
    expect(spec.closeCodes.get(4014)).toBe(false);
    // GUILD_MEMBERS is enabled for this app: asking for it is fine.
    const allowed = await openGateway(noPrivileged);
    allowed.identify({ intents: intents.GUILDS | (1 << 1) });
    await allowed.next(dispatch('READY'));
    allowed.socket.close();
  });

  it('uses no close code outside the table', () => {
    expect(fake.closeCodes.length).toBeGreaterThanOrEqual(cases.length);
    for (const code of [...fake.closeCodes, ...noPrivileged.closeCodes])
      expect(spec.closeCodes.has(code)).toBe(true);
  });
});

describe('the fake Discord REST API against the docs', () => {
  let fake: FakeDiscord;
  const request = (method: string, path: string, body?: unknown) =>
    fetch(`${fake.api}/v10${path}`, {
      method,
      headers: { authorization: `Bot ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const headersOf = (response: Response) => Object.fromEntries(response.headers.entries());

  beforeAll(async () => {
    fake = await startFakeDiscord({
      guilds: [{ id: guildId, channels: [{ id: channelId }, { id: '300000000000000002' }] }],
      token,
    });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('message objects from POST and PATCH match the message table; bucket headers are real', async () => {
    const posted = await request('POST', `/channels/${channelId}/messages`, { content: 'hello' });
    expect(posted.status).toBe(200);
    const message = (await posted.json()) as { id: string };
    expect(checkFields(message, spec.message, 'message')).toEqual([]);
    const edited = await request('PATCH', `/channels/${channelId}/messages/${message.id}`, {
      content: 'edited',
    });
    const editedMessage = await edited.json();
    expect(checkFields(editedMessage, spec.message, 'message')).toEqual([]);
    expect(editedMessage).toMatchObject({ content: 'edited', edited_timestamp: expect.any(String) });

    const headers = headersOf(edited);
    for (const name of [
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'X-RateLimit-Reset-After',
      'X-RateLimit-Bucket',
    ])
      expect(headers).toHaveProperty(name.toLowerCase());
    // Reset-After is the real time left in the window, with decimals; Reset is the same moment as epoch seconds.
    const resetAfter = Number(headers['x-ratelimit-reset-after']);
    expect(headers['x-ratelimit-reset-after']).toMatch(/^\d+\.\d{3}$/);
    expect(resetAfter).toBeGreaterThan(4);
    expect(resetAfter).toBeLessThan(5);
    expect(Math.abs(Number(headers['x-ratelimit-reset']) - (Date.now() / 1000 + resetAfter))).toBeLessThan(
      0.5,
    );
    expect(headers['x-ratelimit-remaining']).toBe('3');
    // The bucket names the route, not the channel: another channel's messages share it.
    const other = await request('POST', '/channels/300000000000000002/messages', { content: 'x' });
    expect(other.headers.get('x-ratelimit-bucket')).toBe(headers['x-ratelimit-bucket']);
    expect(other.headers.get('x-ratelimit-remaining')).toBe('4');
  });

  it('a per-route 429 (scope user) looks like the docs example and keeps the bucket closed', async () => {
    const example = fixture('rate-limit-429.user.example.json');
    fake.rateLimit({ scope: 'user', retryAfter: 20, channelId });
    const limited = await request('POST', `/channels/${channelId}/messages`, { content: 'x' });
    expect(limited.status).toBe(429);
    const body = (await limited.json()) as { retry_after: number; global: boolean };
    expect(checkFields(body, spec.rateLimitBody, '429')).toEqual([]);
    expect(Object.keys(body).sort()).toEqual(Object.keys(example.body).sort());
    expect(body.global).toBe(false);
    expect(body.retry_after).toBeGreaterThan(19.9);
    const headers = headersOf(limited);
    for (const name of Object.keys(example.headers)) expect(headers).toHaveProperty(name.toLowerCase());
    expect(headers['x-ratelimit-scope']).toBe('user');
    expect(headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(headers['retry-after'])).toBe(Math.ceil(body.retry_after));
    expect(Number(headers['x-ratelimit-reset-after'])).toBeCloseTo(body.retry_after, 1);
    expect(headers).not.toHaveProperty('x-ratelimit-global');
    // Still limited a moment later, for the time that is left; the other channel is not.
    const again = await request('POST', `/channels/${channelId}/messages`, { content: 'x' });
    expect(again.status).toBe(429);
    expect(((await again.json()) as { retry_after: number }).retry_after).toBeLessThanOrEqual(
      body.retry_after,
    );
    expect((await request('POST', '/channels/300000000000000002/messages', { content: 'x' })).status).toBe(
      200,
    );
  });

  it('a shared 429 (the resource) and a global 429, as the docs examples', async () => {
    const sharedExample = fixture('rate-limit-429.shared.example.json');
    fake.rateLimit({ scope: 'shared', retryAfter: 1336.57, channelId: '300000000000000002' });
    const shared = await request('POST', '/channels/300000000000000002/messages', { content: 'x' });
    expect(shared.status).toBe(429);
    const sharedBody = (await shared.json()) as { retry_after: number; message: string };
    expect(checkFields(sharedBody, spec.rateLimitBody, '429')).toEqual([]);
    expect(sharedBody.message).toBe(sharedExample.body.message);
    expect(sharedBody.retry_after).toBeCloseTo(1336.57, 0);
    expect(shared.headers.get('x-ratelimit-scope')).toBe('shared');
    expect(shared.headers.get('retry-after')).toBe('1337');

    const globalExample = fixture('rate-limit-429.global.example.json');
    fake.rateLimit({ scope: 'global', retryAfter: 0.5 });
    const global = await request('GET', `/channels/${channelId}/messages/1`);
    expect(global.status).toBe(429);
    const globalBody = (await global.json()) as { global: boolean };
    expect(checkFields(globalBody, spec.rateLimitBody, '429')).toEqual([]);
    expect(globalBody.global).toBe(true);
    for (const name of Object.keys(globalExample.headers))
      expect(headersOf(global)).toHaveProperty(name.toLowerCase());
    expect(global.headers.get('x-ratelimit-global')).toBe('true');
    expect(global.headers.get('x-ratelimit-scope')).toBe('global');
    // Every 429 header is one the docs list.
    for (const call of fake.calls.filter((entry) => entry.status === 429))
      for (const name of Object.keys(call.headers ?? {}).filter((header) =>
        header.startsWith('x-ratelimit-'),
      ))
        expect(spec.rateLimitHeaders.map((header) => header.toLowerCase())).toContain(name);
  });

  it('a wrong token is refused with 401', async () => {
    const refused = await fetch(`${fake.api}/v10/gateway/bot`, { headers: { authorization: 'Bot wrong' } });
    expect(refused.status).toBe(401);
  });
});

describe('the checks catch a wrong shape', () => {
  it('a MESSAGE_CREATE with a field removed, of the wrong type, or null where not allowed', async () => {
    const fake = await startFakeDiscord({ guilds });
    try {
      const valid = fake.messageCreatePayload({
        channel_id: channelId,
        guild_id: guildId,
        author: customer,
        content: 'hi',
      });
      expect(checkFields(valid, spec.message, 'd')).toEqual([]);
      const { author: _author, ...withoutAuthor } = valid;
      expect(checkFields(withoutAuthor, spec.message, 'd')).toEqual([
        'd.author is missing (required by the docs)',
      ]);
      expect(checkFields({ ...valid, mentions: 'everyone' }, spec.messageCreateExtra, 'd')).toEqual([
        'd.mentions is a string ("everyone"), the docs say "array of user objects, optionally with an additional partial member field"',
      ]);
      expect(checkFields({ ...valid, pinned: null }, spec.message, 'd')).toHaveLength(1);
      expect(checkFields({ ...valid, guild_id: 200000000000000 }, spec.messageCreateExtra, 'd')).toHaveLength(
        1,
      );
      expect(envelopeProblems({ op: 0, d: valid, s: null, t: 'MESSAGE_CREATE' })).toEqual([
        'a dispatch needs s and t',
      ]);
      expect(envelopeProblems({ op: 11, d: null, s: 3, t: null })).toEqual(['op 11 must have s and t null']);
    } finally {
      await fake.close();
    }
  });
});
