/** The bot's own identity, as auth.test reported it. */
export interface SlackIdentity {
  teamId: string;
  botUserId: string;
  botId: string;
}

/** A message or mention the bot may answer, with every field checked. */
export interface IncomingSlackMessage {
  teamId: string;
  channel: string;
  channelType?: string;
  ts: string;
  threadTs?: string;
  user: string;
  text: string;
  hasFiles: boolean;
  viaMention: boolean;
  /** `thread_broadcast`: a thread reply also sent to the channel. */
  broadcast: boolean;
}

/** What to do with an incoming `app_mention` or `message` event. */
export type IncomingDecision =
  | { action: 'consider'; message: IncomingSlackMessage }
  | { action: 'deleted'; ts: string | undefined }
  | { action: 'ignore'; reason: string; level: 'debug' | 'warn' };

/**
 * Message subtypes that carry a person's question. Everything else (edits, joins, topic changes,
 * bot_message, unknown future subtypes) is not a question and is ignored.
 * @see https://docs.slack.dev/reference/events/message#subtypes
 */
const questionSubtypes = new Set(['file_share', 'thread_broadcast']);

const optionalString = (value: unknown) => value === undefined || typeof value === 'string';

/**
 * Decides what an `app_mention` or `message` event is, before any routing: bot-written events
 * (`bot_id`, `bot_profile`, subtype `bot_message`, or the bot's own user) are ignored so bots do not
 * answer each other; `thread_broadcast` is a reply in its thread; `message_deleted` cancels; other
 * subtypes are ignored; malformed events (a field missing or of the wrong type) are ignored with a
 * warn-level reason.
 */
export function classifyIncoming(
  event: Record<string, unknown>,
  body: Record<string, unknown>,
  self: SlackIdentity,
): IncomingDecision {
  const viaMention = event.type === 'app_mention';
  const subtype = event.subtype;
  if (subtype !== undefined && typeof subtype !== 'string')
    return { action: 'ignore', reason: 'subtype is not a string', level: 'warn' };
  if (subtype === 'message_deleted') {
    const previous = event.previous_message as { ts?: unknown } | undefined;
    return { action: 'deleted', ts: typeof previous?.ts === 'string' ? previous.ts : undefined };
  }
  if (subtype === 'bot_message' || (typeof event.bot_id === 'string' && event.bot_id) || event.bot_profile)
    return { action: 'ignore', reason: 'written by a bot', level: 'debug' };
  if (subtype && !questionSubtypes.has(subtype))
    return { action: 'ignore', reason: `subtype ${subtype} is not a question`, level: 'debug' };
  for (const field of ['channel', 'ts', 'user'] as const) {
    if (typeof event[field] !== 'string' || event[field] === '')
      return { action: 'ignore', reason: `${field} is missing or not a string`, level: 'warn' };
  }
  for (const field of ['text', 'thread_ts', 'channel_type', 'team'] as const) {
    if (!optionalString(event[field]))
      return { action: 'ignore', reason: `${field} is not a string`, level: 'warn' };
  }
  if (event.files !== undefined && !Array.isArray(event.files))
    return { action: 'ignore', reason: 'files is not an array', level: 'warn' };
  if (event.user === self.botUserId) return { action: 'ignore', reason: 'the bot itself', level: 'debug' };
  const text = (event.text as string | undefined) ?? '';
  // A mention also arrives as app_mention; it is answered there only.
  if (!viaMention && text.includes(`<@${self.botUserId}>`))
    return { action: 'ignore', reason: 'a mention, answered as app_mention', level: 'debug' };
  const threadTs = event.thread_ts as string | undefined;
  const teamId = typeof body.team_id === 'string' && body.team_id ? body.team_id : (event.team as string);
  return {
    action: 'consider',
    message: {
      teamId: teamId || self.teamId,
      channel: event.channel as string,
      ...(typeof event.channel_type === 'string' ? { channelType: event.channel_type } : {}),
      ts: event.ts as string,
      ...(threadTs && threadTs !== event.ts ? { threadTs } : {}),
      user: event.user as string,
      text,
      hasFiles: Array.isArray(event.files) && event.files.length > 0,
      viaMention,
      broadcast: subtype === 'thread_broadcast',
    },
  };
}
