import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
} from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { toSlackStartError } from '../../../adapters/slack/slack-start-error.ts';
import { SlackReplyTransport, toTransportError } from '../../../adapters/slack/slack-transport.ts';
import { PlatformError } from '../../../src/errors.ts';
import { RateLimitedError, TransportError } from '../../../src/reply/transport.ts';

const platformError = (error: string, retryAfter?: number) =>
  new WebAPIPlatformError({
    ok: false,
    error,
    ...(retryAfter !== undefined ? { response_metadata: { retryAfter } } : {}),
  });

describe('toTransportError: Web API failures as the reply engine sees them', () => {
  const transport = new SlackReplyTransport({ client: {} as never });
  const target = { teamId: 'T1', channel: 'C1', threadTs: '1.1' };
  const postKeys = transport.scopes(target, 'post').map((scope) => scope.key);
  const updateKeys = transport.scopes(target, 'edit').map((scope) => scope.key);

  it('HTTP 429 with Retry-After: a RateLimitedError for that long, blocking only the named scope', () => {
    const mapped = toTransportError(new WebAPIRateLimitedError(7), postKeys);
    expect(mapped).toBeInstanceOf(RateLimitedError);
    expect((mapped as RateLimitedError).retryAfterMs).toBe(7_000);
    expect((mapped as RateLimitedError).scopeKeys).toEqual(['slack:T1:C1:post']);
    expect((mapped as RateLimitedError).blockedScopes(transport.scopes(target, 'post'))).toEqual([
      { key: 'slack:T1:C1:post' },
    ]);
  });

  it('a 200 {ok:false, error:"ratelimited"}: a RateLimitedError too, with Retry-After when sent, else 1 s', () => {
    const withHeader = toTransportError(platformError('ratelimited', 3), updateKeys) as RateLimitedError;
    expect(withHeader).toBeInstanceOf(RateLimitedError);
    expect(withHeader.retryAfterMs).toBe(3_000);
    expect(withHeader.scopeKeys).toEqual(['slack:T1:update']);
    const bare = toTransportError(platformError('ratelimited'), updateKeys) as RateLimitedError;
    expect(bare).toBeInstanceOf(RateLimitedError);
    expect(bare.retryAfterMs).toBe(1_000);
  });

  it.each([
    'edit_window_closed',
    'cant_update_message',
    'msg_too_long',
    'message_not_found',
    'not_in_channel',
  ])('%s is permanent', (code) => {
    const mapped = toTransportError(platformError(code), updateKeys);
    expect(mapped).toBeInstanceOf(TransportError);
    expect(mapped).toMatchObject({ retryable: false, message: `Slack: ${code}` });
  });

  it.each(['internal_error', 'fatal_error', 'service_unavailable'])('%s is worth a retry', (code) => {
    expect(toTransportError(platformError(code))).toMatchObject({ retryable: true });
  });

  it('a network failure is worth a retry', () => {
    expect(toTransportError(new WebAPIRequestError(new Error('ECONNRESET')))).toMatchObject({
      retryable: true,
    });
  });
});

describe('toSlackStartError: what the supervisor is told', () => {
  it.each([
    'invalid_auth',
    'not_authed',
    'token_revoked',
    'token_expired',
    'account_inactive',
    'missing_scope',
    'not_allowed_token_type',
  ])('%s from the bot token: not retryable, names SLACK_BOT_TOKEN and where to find it', (code) => {
    const error = toSlackStartError(platformError(code), 'bot');
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ platform: 'slack', code, retryable: false });
    expect(error.message).toMatch(
      new RegExp(
        `^SLACK_BOT_TOKEN was refused \\(${code}\\): copy the Bot User OAuth Token .*OAuth & Permissions`,
      ),
    );
  });

  it('invalid_auth from the app token names SLACK_APP_TOKEN and connections:write', () => {
    const error = toSlackStartError(platformError('invalid_auth'), 'app');
    expect(error).toMatchObject({ code: 'invalid_auth', retryable: false });
    expect(error.message).toMatch(/^SLACK_APP_TOKEN was refused \(invalid_auth\).*connections:write/);
  });

  it.each([
    ['a network error', new WebAPIRequestError(new Error('connect ECONNREFUSED'))],
    ['HTTP 503', new WebAPIHTTPError(503, 'Service Unavailable', {}, '')],
    ['HTTP 429', new WebAPIRateLimitedError(30)],
    ['200 ratelimited', platformError('ratelimited')],
    ['200 internal_error', platformError('internal_error')],
    ['an unknown throw', new Error('socket hang up')],
  ])('%s: retryable', (_, cause) => {
    const error = toSlackStartError(cause, 'bot');
    expect(error).toBeInstanceOf(PlatformError);
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
  });

  it('HTTP 404 means a wrong SLACK_API_URL: not retryable', () => {
    const error = toSlackStartError(new WebAPIHTTPError(404, 'Not Found', {}, ''), 'bot');
    expect(error).toMatchObject({ code: 'http_404', retryable: false });
    expect(error.message).toMatch(/SLACK_API_URL/);
  });

  it('a PlatformError passes through unchanged', () => {
    const original = new PlatformError('slack', 'socket_timeout', 'late', { retryable: true });
    expect(toSlackStartError(original, 'app')).toBe(original);
  });
});
