import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Slack payloads for tests, built from the recorded samples in `test/fixtures/slack/` (java-slack-sdk's
 * json-logs): a sample is copied, its masked placeholders are filled with the ids, text and ts a test
 * needs, and fields that a real payload of that kind never carries are left out. Nothing is invented:
 * every key an event carries exists in its sample, with the same JSON type.
 */

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'slack');

/** An Events API request body (`event_callback`). */
export interface SlackEventBody extends Record<string, unknown> {
  team_id: string;
  event_id: string;
  event: SlackEvent;
}

/** The `event` of a {@link SlackEventBody}. */
export interface SlackEvent extends Record<string, unknown> {
  type: string;
  ts: string;
  channel: string;
}

/** The file names (without `.json`) of the recorded Events API samples. */
export function eventSampleNames(): string[] {
  return readdirSync(path.join(fixtures, 'events'))
    .filter((name) => name.endsWith('Payload.json'))
    .map((name) => name.replace(/\.json$/, ''))
    .sort();
}

/** A recorded Events API sample, parsed (a fresh copy each call). */
export function eventSample(name: string): Record<string, unknown> & { event: Record<string, unknown> } {
  return JSON.parse(readFileSync(path.join(fixtures, 'events', `${name}.json`), 'utf8'));
}

/** A recorded Web API response sample: `chat.update` reads `api/chat.update(.reduced).json`. */
export function apiSample(method: string): Record<string, unknown> {
  for (const file of [`${method}.json`, `${method}.reduced.json`]) {
    try {
      return JSON.parse(readFileSync(path.join(fixtures, 'api', file), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(`no recorded sample for ${method} in test/fixtures/slack/api/`);
}

/** The ids a built payload carries. */
export interface PayloadIds {
  teamId?: string;
  appId?: string;
  /** The bot the app runs as (`authorizations`, `authed_users`). */
  botUserId?: string;
  channel?: string;
  channelType?: string;
  user?: string;
  text?: string;
  ts?: string;
  threadTs?: string;
  eventId?: string;
  /** For bot-written events: the other app's bot. */
  botId?: string;
}

/** What to change in a sample besides the ids. */
export interface BuildOptions extends PayloadIds {
  /** `event` fields to leave out (merged-in fields this kind of payload does not carry). */
  omit?: readonly string[];
  /** `event` fields to set as given (after placeholders are filled). */
  set?: Record<string, unknown>;
}

let sequence = 0;
/** A fresh, increasing message ts. */
export function nextTs(): string {
  sequence++;
  return `${1_700_000_000 + sequence}.${String(sequence % 1_000_000).padStart(6, '0')}`;
}

/** Placeholder → value, for the masked strings of an `event` (and the messages nested in it). */
function fill(
  event: Record<string, unknown>,
  ids: Required<Omit<PayloadIds, 'threadTs'>> & PayloadIds,
): void {
  const values: Record<string, string | undefined> = {
    user: ids.user,
    text: ids.text,
    ts: ids.ts,
    event_ts: ids.ts,
    channel: ids.channel,
    channel_type: ids.channelType,
    team: ids.teamId,
    user_team: ids.teamId,
    source_team: ids.teamId,
    client_msg_id: randomUUID(),
    bot_id: ids.botId,
    app_id: 'A0OTHERAPP',
    username: 'sample-user',
    thread_ts: ids.threadTs,
    parent_user_id: ids.threadTs ? 'U0PARENT' : undefined,
  };
  for (const [key, value] of Object.entries(event)) {
    if (value !== '' || key === 'type') continue;
    const filled = values[key];
    if (filled === undefined) delete event[key];
    else event[key] = filled;
  }
  const profile = event.bot_profile as Record<string, unknown> | undefined;
  if (profile && typeof profile === 'object') {
    profile.id = ids.botId;
    profile.app_id = 'A0OTHERAPP';
    profile.team_id = ids.teamId;
    profile.name = 'other-bot';
  }
}

/**
 * An Events API body from the recorded sample `name` (e.g. `AppMentionPayload`), with ids filled in.
 * Masked empty strings without a value to fill (no thread → no `thread_ts`) are left out.
 */
export function eventFromSample(name: string, options: BuildOptions = {}): SlackEventBody {
  const sample = eventSample(name);
  const ts = options.ts ?? nextTs();
  const ids = {
    teamId: options.teamId ?? 'T0001',
    appId: options.appId ?? 'A0001',
    botUserId: options.botUserId ?? 'U0BOT',
    channel: options.channel ?? 'C0GENERAL',
    channelType: options.channelType ?? 'channel',
    user: options.user ?? 'U0CUSTOMER',
    text: options.text ?? '',
    ts,
    eventId: options.eventId ?? `Ev${randomUUID().replaceAll('-', '').slice(0, 12).toUpperCase()}`,
    botId: options.botId ?? 'B0OTHERBOT',
    ...(options.threadTs ? { threadTs: options.threadTs } : {}),
  };
  const envelope: Record<string, unknown> = {
    token: 'verification-token',
    team_id: ids.teamId,
    api_app_id: ids.appId,
    type: 'event_callback',
    authed_users: [ids.botUserId],
    authed_teams: [ids.teamId],
    authorizations: [
      { team_id: ids.teamId, user_id: ids.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    event_id: ids.eventId,
    event_time: Math.floor(Date.now() / 1000),
    event_context: `EC${ids.eventId}`,
  };
  const body: Record<string, unknown> = { ...sample };
  // Only the envelope fields this sample has: older samples predate `authorizations` and friends.
  for (const [key, value] of Object.entries(envelope)) if (key in sample) body[key] = value;
  // Not an Enterprise Grid install: Slack leaves the enterprise out.
  delete body.enterprise_id;
  const event = structuredClone(sample.event);
  for (const key of options.omit ?? []) delete event[key];
  fill(event, ids);
  for (const nested of ['message', 'previous_message', 'root']) {
    const inner = event[nested];
    if (inner && typeof inner === 'object' && !Array.isArray(inner))
      fill(inner as Record<string, unknown>, { ...ids, user: ids.user });
  }
  Object.assign(event, options.set);
  body.event = event;
  return body as SlackEventBody;
}

/** Fields of the merged message samples that a person's message does not carry. */
const botFields = ['bot_id', 'bot_profile', 'app_id', 'username', 'icons', 'display_as_bot'] as const;

/** A person mentioning the bot: `<@U0BOT> text`. */
export function mention(
  text: string,
  options: Omit<BuildOptions, 'text'> & { botUserId?: string } = {},
): SlackEventBody {
  return eventFromSample('AppMentionPayload', {
    ...options,
    text: `<@${options.botUserId ?? 'U0BOT'}> ${text}`.trimEnd(),
    omit: [...botFields, 'subtype', 'edited', 'upload', ...(options.omit ?? [])],
  });
}

/** Another app's bot mentioning this one: `bot_id` and `bot_profile`, no subtype (as Slack sends it). */
export function botMention(text: string, options: Omit<BuildOptions, 'text'> = {}): SlackEventBody {
  return eventFromSample('AppMentionPayload', {
    user: 'U0OTHERBOT',
    ...options,
    text: `<@U0BOT> ${text}`,
    omit: ['subtype', 'edited', 'upload', ...(options.omit ?? [])],
  });
}

/** A person's message (`message.channels`), top level or in a thread. */
export function message(text: string, options: Omit<BuildOptions, 'text'> = {}): SlackEventBody {
  return eventFromSample('MessagePayload', {
    ...options,
    text,
    omit: [...botFields, 'edited', ...(options.omit ?? [])],
  });
}

/** A follow-up in a thread; `files` makes it a `file_share` with one file. */
export function threadMessage(
  text: string,
  options: Omit<BuildOptions, 'text'> & { threadTs: string; files?: boolean },
): SlackEventBody {
  if (options.files) return eventFromSample('MessageFileSharePayload', { ...options, text });
  return message(text, options);
}

/** A thread reply sent "also to channel": `subtype: thread_broadcast` with `thread_ts` and `root`. */
export function threadBroadcast(
  text: string,
  options: Omit<BuildOptions, 'text'> & { threadTs: string },
): SlackEventBody {
  const body = eventFromSample('MessageThreadBroadcastPayload', { ...options, text });
  const root = body.event.root as Record<string, unknown> | undefined;
  if (root) {
    root.ts = options.threadTs;
    root.thread_ts = options.threadTs;
  }
  return body;
}

/** A message posted by a bot integration (`subtype: bot_message`). */
export function botMessage(text: string, options: Omit<BuildOptions, 'text'> = {}): SlackEventBody {
  return eventFromSample('MessageBotPayload', { ...options, text });
}

/** JSON type names as the contract compares them. */
export type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';

/** The JSON type of a value. */
export function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean' || type === 'object') return type;
  throw new Error(`not a JSON value: ${type}`);
}

/**
 * Where `actual` is not shaped like `sample`: keys the sample does not have, or values of another
 * JSON type, at the top level and inside the nested objects named in `nested` (e.g. `event`,
 * `message`). Empty when it conforms. Keys of the sample that `actual` leaves out are fine (samples
 * merge many payloads).
 */
export function shapeMismatches(
  actual: Record<string, unknown>,
  sample: Record<string, unknown>,
  nested: readonly string[] = [],
  where = '',
): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(actual)) {
    const at = `${where}${key}`;
    if (!(key in sample)) {
      problems.push(`${at}: not in the recorded sample`);
      continue;
    }
    const expected = jsonType(sample[key]);
    const got = jsonType(value);
    if (expected !== got) {
      problems.push(`${at}: ${got}, the sample has ${expected}`);
      continue;
    }
    if (nested.includes(key) && got === 'object') {
      problems.push(
        ...shapeMismatches(
          value as Record<string, unknown>,
          sample[key] as Record<string, unknown>,
          nested,
          `${at}.`,
        ),
      );
    }
  }
  return problems;
}
