import { RateLimitError } from 'discord.js';

/** A RateLimitError as @discordjs/rest 2.6 builds it for a 429 or a spent bucket. */
export function rateLimitError(overrides: Partial<ConstructorParameters<typeof RateLimitError>[0]> = {}) {
  return new RateLimitError({
    timeToReset: 20_000,
    limit: 5,
    method: 'post',
    hash: 'abcd1234',
    url: 'http://127.0.0.1/api/v10/channels/300000000000000001/messages',
    route: '/channels/300000000000000001/messages',
    majorParameter: '300000000000000001',
    global: false,
    retryAfter: 20_050,
    sublimitTimeout: 0,
    scope: 'user',
    ...overrides,
  });
}
