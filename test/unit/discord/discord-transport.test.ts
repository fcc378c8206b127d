import { DiscordAPIError, type REST } from 'discord.js';
import { describe, expect, it } from 'vitest';
import {
  DiscordReplyTransport,
  type DiscordTarget,
  toTransportError,
} from '../../../adapters/discord/discord-transport.ts';
import { RateLimitedError } from '../../../src/reply/transport.ts';
import { rateLimitError } from './rate-limit-error.ts';

const channelA: DiscordTarget = { kind: 'channel', channelId: '300000000000000001' };
const channelB: DiscordTarget = { kind: 'channel', channelId: '300000000000000002' };

/** A REST whose every call fails with `error`. */
function failingRest(error: unknown): REST {
  const fail = async () => {
    throw error;
  };
  return { post: fail, patch: fail, delete: fail } as unknown as REST;
}

describe('a Discord rate limit blocks exactly the scope it names', () => {
  it("a per-route (user) 429 on channel A blocks channel A's scope only, not discord:global", async () => {
    const transport = new DiscordReplyTransport({ rest: failingRest(rateLimitError()) });
    const error = await transport.postMessage(channelA, 'hello').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitedError);
    const limited = error as RateLimitedError;
    expect(limited.retryAfterMs).toBe(20_050);
    expect(limited.scopeKeys).toEqual(['discord:channel:300000000000000001']);
    const blocked = limited.blockedScopes(transport.scopes(channelA, 'post')).map((scope) => scope.key);
    expect(blocked).toEqual(['discord:channel:300000000000000001']);
    // Channel B's operations share none of the blocked scopes.
    const channelBKeys = [...transport.scopes(channelB, 'post'), ...transport.scopes(channelB, 'status')].map(
      (scope) => scope.key,
    );
    expect(channelBKeys.filter((key) => blocked.includes(key))).toEqual([]);
  });

  it('a shared 429 blocks the resource (the channel) only', async () => {
    const transport = new DiscordReplyTransport({
      rest: failingRest(rateLimitError({ scope: 'shared', retryAfter: 1_337_000 })),
    });
    const error = (await transport
      .editMessage(channelA, '1', 'x')
      .catch((caught: unknown) => caught)) as RateLimitedError;
    expect(error.scopeKeys).toEqual(['discord:channel:300000000000000001']);
    expect(error.message).toMatch(/\(shared\)/);
  });

  it('a global limit (global: true or scope global) blocks discord:global', () => {
    for (const overrides of [{ global: true }, { global: false, scope: 'global' as const }]) {
      const error = toTransportError(rateLimitError(overrides), {
        scopeKey: 'discord:channel:1',
      }) as RateLimitedError;
      expect(error.scopeKeys).toEqual(['discord:global']);
    }
  });

  it('an interaction follow-up limit blocks that interaction only', async () => {
    const target: DiscordTarget = {
      kind: 'interaction',
      channelId: '300000000000000001',
      applicationId: '100000000000000001',
      token: 'interaction-token-0123456789abcdef',
      state: { originalUsed: true },
    };
    const transport = new DiscordReplyTransport({
      rest: failingRest(rateLimitError({ route: '/webhooks/:id/:token' })),
    });
    const error = (await transport
      .postMessage(target, 'x')
      .catch((caught: unknown) => caught)) as RateLimitedError;
    expect(error.scopeKeys).toEqual(['discord:interaction:0123456789abcdef']);
  });

  it('a 429 DiscordAPIError (float retry_after in seconds) maps the same way', () => {
    const apiError = new DiscordAPIError(
      { message: 'You are being rate limited.', retry_after: 64.57, global: false } as never,
      0,
      429,
      'POST',
      'http://127.0.0.1/api/v10/channels/1/messages',
      { body: {}, files: undefined },
    );
    const error = toTransportError(apiError, { scopeKey: 'discord:channel:1' }) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAfterMs).toBe(64_570);
    expect(error.scopeKeys).toEqual(['discord:channel:1']);
  });
});
