import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { PlatformError } from '../../src/errors.ts';

/** What an operator reads when Discord refuses the Message Content intent (close code 4014). */
export const messageContentFix =
  'enable Message Content Intent under Bot → Privileged Gateway Intents in the Developer Portal (discord.com/developers/applications), then restart the bot';

/**
 * The gateway close codes Discord says not to reconnect after, with what each means for the
 * operator: the {@link PlatformError} code and the message naming the fix.
 * @see https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes
 */
export const unrecoverableCloseCodes: Record<number, { code: string; message: string }> = {
  4004: {
    code: 'invalid_token',
    message:
      'DISCORD_TOKEN was refused: the gateway closed with 4004 Authentication failed. Copy the token again, or reset it under Bot → Reset Token in the Developer Portal and set the new one',
  },
  4010: {
    code: 'invalid_shard',
    message:
      'Discord refused the shard this process asked for (gateway close 4010 Invalid shard): check DISCORD_SHARDS and the shard ids given to this process',
  },
  4011: {
    code: 'sharding_required',
    message:
      'Discord requires sharding (gateway close 4011 Sharding required): the bot is in too many servers for one connection; run it with npm run start:shards',
  },
  4012: {
    code: 'invalid_api_version',
    message:
      'Discord refused the gateway API version (gateway close 4012 Invalid API version): update discord.js',
  },
  4013: {
    code: 'invalid_intents',
    message:
      'Discord refused the gateway intents as invalid (gateway close 4013 Invalid intent(s)): the intents the adapter asks for are wrong; this is a bug to report',
  },
  4014: {
    code: 'disallowed_intents',
    message: `Discord refused a privileged intent (gateway close 4014 Disallowed intent(s)): ${messageContentFix}`,
  },
};

/**
 * Why a Discord connection attempt failed, as a {@link PlatformError}: not retryable for what only
 * an operator can fix (a refused token, an unrecoverable close code), retryable for the network,
 * 5xx and rate limits. `closeCode` is the gateway close code seen during the attempt, if any.
 */
export function toStartError(error: unknown, closeCode?: number): PlatformError {
  if (error instanceof PlatformError) return error;
  const known = closeCode === undefined ? undefined : unrecoverableCloseCodes[closeCode];
  if (known)
    return new PlatformError('discord', known.code, known.message, { cause: error, retryable: false });
  // discord.js turns a 401 from GET /gateway/bot into TokenInvalid; a missing token is the same fix.
  const code = (error as { code?: unknown } | undefined)?.code;
  if (
    code === 'TokenInvalid' ||
    code === 'TokenMissing' ||
    (error instanceof DiscordAPIError && error.status === 401)
  )
    return new PlatformError(
      'discord',
      'invalid_token',
      'DISCORD_TOKEN was refused: Discord answered 401 Unauthorized. Copy the token again, or reset it under Bot → Reset Token in the Developer Portal and set the new one',
      { cause: error, retryable: false },
    );
  if (error instanceof RateLimitError)
    return new PlatformError(
      'discord',
      'rate_limited',
      `Discord rate-limited the connection (${error.method.toUpperCase()} ${error.route}, retry after ${Math.ceil(error.retryAfter / 1000)} s)`,
      { cause: error, retryable: true },
    );
  if (error instanceof DiscordAPIError) {
    const retryable =
      error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
    return new PlatformError(
      'discord',
      retryable ? 'platform_unavailable' : 'platform_refused',
      `Discord answered ${error.status} (${error.code}: ${error.message}) to ${error.method.toUpperCase()} ${new URL(error.url).pathname}`,
      { cause: error, retryable },
    );
  }
  if (error instanceof HTTPError)
    return new PlatformError(
      'discord',
      'platform_unavailable',
      `Discord answered HTTP ${error.status} to ${error.method.toUpperCase()} ${new URL(error.url).pathname}`,
      { cause: error, retryable: true },
    );
  const message = error instanceof Error ? error.message : String(error);
  return new PlatformError('discord', 'platform_unavailable', `Discord could not be reached: ${message}`, {
    cause: error,
    retryable: true,
  });
}
