import { ErrorCode } from '@slack/web-api';
import { PlatformError } from '../../src/errors.ts';
import { slackErrorCode } from './slack-transport.ts';

/** Which token a start-up call used: the bot token (auth.test) or the app-level token (Socket Mode). */
export type SlackTokenKind = 'bot' | 'app';

const tokenSettings = {
  bot: {
    variable: 'SLACK_BOT_TOKEN',
    where: 'copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions',
  },
  app: {
    variable: 'SLACK_APP_TOKEN',
    where:
      'create an app-level token (xapp-…) with the connections:write scope under Basic Information > App-Level Tokens',
  },
} as const;

/** Refusals that only an operator can fix, with what to do beyond setting the token again. */
const operatorFixes: Record<string, string> = {
  invalid_auth: '',
  not_authed: '',
  token_revoked: ' (the app was uninstalled or the token revoked: reinstall the app to get a new one)',
  token_expired: ' (token rotation is on: turn it off under OAuth & Permissions, or refresh the token)',
  account_inactive: ' (the bot user or workspace was deactivated: reinstall the app)',
  missing_scope: ' (add the scopes of adapters/slack/manifest.yaml and reinstall the app)',
  not_allowed_token_type: ' (this is the wrong kind of token)',
  invalid_token_type: ' (this is the wrong kind of token)',
  no_permission: ' (reinstall the app with the scopes of adapters/slack/manifest.yaml)',
  team_disabled: ' (the workspace was disabled)',
  user_removed_from_team: ' (the bot user was removed from the workspace: reinstall the app)',
  ekm_access_denied: ' (your administrators have suspended the app)',
  two_factor_setup_required: '',
  team_access_not_granted: ' (the app is not granted access to this workspace: reinstall it)',
  app_uninstalled: ' (the app was uninstalled: reinstall it)',
  // Socket Mode is off in the app's settings.
  link_disabled: ' (turn Socket Mode on under Settings > Socket Mode, or run with SLACK_MODE=http)',
};

/** Codes worth another attempt: Slack's own trouble, limits, a workspace being migrated. */
const transientCodes = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
  'org_login_required',
]);

/**
 * Turns a failure of a start-up call (auth.test with the bot token, apps.connections.open with the
 * app token, the HTTP listener) into the {@link PlatformError} the supervisor acts on: `retryable`
 * false when Slack refused the token (the message names the variable and where to get a good one),
 * true for the network, HTTP 5xx and rate limits.
 */
export function toSlackStartError(error: unknown, token: SlackTokenKind): PlatformError {
  if (error instanceof PlatformError) return error;
  const code = slackErrorCode(error);
  const { variable, where } = tokenSettings[token];
  if (code && code in operatorFixes) {
    return new PlatformError(
      'slack',
      code,
      `${variable} was refused (${code}): ${where}${operatorFixes[code]}`,
      { cause: error, retryable: false },
    );
  }
  const sdkCode = (error as { code?: string }).code;
  if (sdkCode === ErrorCode.RateLimitedError || (code && transientCodes.has(code))) {
    return new PlatformError(
      'slack',
      code ?? 'ratelimited',
      `Slack answered ${code ?? 'HTTP 429'}; will retry`,
      {
        cause: error,
        retryable: true,
      },
    );
  }
  if (sdkCode === ErrorCode.HTTPError) {
    const status = (error as { statusCode?: number }).statusCode ?? 0;
    // A 4xx other than 429 from the Web API means the URL is wrong (SLACK_API_URL), not a passing fault.
    const retryable = status >= 500 || status === 408;
    return new PlatformError(
      'slack',
      `http_${status}`,
      retryable
        ? `Slack answered HTTP ${status}; will retry`
        : `Slack answered HTTP ${status}: check SLACK_API_URL (leave it empty for slack.com)`,
      { cause: error, retryable },
    );
  }
  if (sdkCode === ErrorCode.RequestError) {
    const original = (error as { original?: Error }).original;
    return new PlatformError(
      'slack',
      'network',
      `Slack could not be reached (${original?.message ?? (error as Error).message}); will retry`,
      { cause: error, retryable: true },
    );
  }
  const nodeCode = (error as NodeJS.ErrnoException).code;
  if (nodeCode === 'EADDRINUSE' || nodeCode === 'EACCES') {
    return new PlatformError(
      'slack',
      nodeCode.toLowerCase(),
      `the Events API port could not be opened (${nodeCode}): set SLACK_PORT to a free port`,
      { cause: error, retryable: nodeCode === 'EADDRINUSE' },
    );
  }
  if (code) {
    // Another refusal of the token's call (e.g. `invalid_arguments`): nothing a retry changes.
    return new PlatformError('slack', code, `${variable} check failed (${code}): ${where}`, {
      cause: error,
      retryable: false,
    });
  }
  return new PlatformError(
    'slack',
    'platform_unavailable',
    `Slack could not be started: ${(error as Error)?.message ?? String(error)}`,
    { cause: error, retryable: true },
  );
}
