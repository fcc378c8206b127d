import { DiscordjsError, DiscordjsErrorCodes, HTTPError } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { toStartError, unrecoverableCloseCodes } from '../../../adapters/discord/discord-errors.ts';
import { PlatformError } from '../../../src/errors.ts';
import { rateLimitError } from './rate-limit-error.ts';
import { discordSpec } from './spec-tables.ts';

describe('why a Discord connection attempt failed', () => {
  const spec = discordSpec();

  it('every close code Discord says not to reconnect after is permanent, with a code and a fix', () => {
    const permanent = [...spec.closeCodes].filter(([, reconnect]) => !reconnect).map(([code]) => code);
    expect(Object.keys(unrecoverableCloseCodes).map(Number)).toEqual(permanent);
    for (const code of permanent) {
      const error = toStartError(new Error('Used disallowed intents'), code);
      expect(error).toBeInstanceOf(PlatformError);
      expect(error.retryable).toBe(false);
      expect(error.platform).toBe('discord');
    }
    expect(toStartError(new Error('Authentication failed'), 4004)).toMatchObject({
      code: 'invalid_token',
      message: expect.stringMatching(/^DISCORD_TOKEN was refused: .*reset it under Bot → Reset Token/),
    });
    expect(toStartError(new Error('x'), 4014)).toMatchObject({
      code: 'disallowed_intents',
      message: expect.stringContaining(
        'enable Message Content Intent under Bot → Privileged Gateway Intents in the Developer Portal',
      ),
    });
    expect(toStartError(new Error('x'), 4011).message).toMatch(/start:shards/);
  });

  it('a token refused over REST is invalid_token, not retryable', () => {
    const error = toStartError(
      // What discord.js throws when GET /gateway/bot answers 401 (its constructor is internal).
      new (DiscordjsError as unknown as new (code: string) => Error)(DiscordjsErrorCodes.TokenInvalid),
    );
    expect(error).toMatchObject({ code: 'invalid_token', retryable: false });
    expect(error.message).toMatch(/reset it under Bot → Reset Token/);
  });

  it('network failures, 5xx and rate limits are retryable', () => {
    const network = toStartError(
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
    );
    expect(network).toMatchObject({ code: 'platform_unavailable', retryable: true });
    const badGateway = toStartError(
      new HTTPError(502, 'Bad Gateway', 'GET', 'http://127.0.0.1/api/v10/gateway/bot', {
        body: undefined,
        files: undefined,
      }),
    );
    expect(badGateway).toMatchObject({
      retryable: true,
      message: 'Discord answered HTTP 502 to GET /api/v10/gateway/bot',
    });
    expect(toStartError(rateLimitError()).retryable).toBe(true);
    // A recoverable close code (discord.js reconnects by itself) is no operator matter either.
    expect(toStartError(new Error('closed'), 4000).retryable).toBe(true);
  });
});
