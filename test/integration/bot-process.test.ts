import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config/load.ts';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord-server.ts';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-server.ts';
import { postMessage } from '../support/sse.ts';

const guildId = '200000000000000001';
const channelId = '300000000000000001';
const botId = '100000000000000001';
const customer = { id: '500000000000000005', username: 'customer' };

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * The whole bot as an operator runs it (`src/main.ts` in its own process, embedded Chroma), on the
 * commonest first-day mistakes: Discord's Message Content intent not enabled (close 4014) and a
 * Slack token that is refused. Neither may take the process, the web chat or the other platform
 * down, and the Chroma server the bot started must go when the bot goes.
 */
describe('the bot process, with one platform misconfigured and the other degraded', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bot-process-'));
  let discord: FakeDiscord;
  let slack: FakeSlack;
  let child: ChildProcess;
  const lines: LogLine[] = [];
  let exited: Promise<number | null>;

  const waitFor = async (predicate: (line: LogLine) => boolean, timeoutMs = 120_000): Promise<LogLine> => {
    const started = Date.now();
    for (;;) {
      const found = lines.find(predicate);
      if (found) return found;
      if (Date.now() - started > timeoutMs) throw new Error('log line not seen in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    discord = await startFakeDiscord({ botId, privilegedIntents: [] });
    slack = await startFakeSlack({ botToken: 'xoxb-the-real-one' });
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATA_DIR: dataDir,
        KB_COLLECTION: `it-process-${process.pid}`,
        PORT: '0',
        LOG_LEVEL: 'info',
        LLM_PROVIDER: 'offline',
        EMBEDDINGS_PROVIDER: 'offline',
        DISCORD_TOKEN: 'discord-test-token',
        DISCORD_API_URL: discord.api,
        DISCORD_REGISTER_COMMANDS: 'false',
        SLACK_BOT_TOKEN: 'xoxb-revoked-long-ago',
        SLACK_SIGNING_SECRET: 'secret',
        SLACK_MODE: 'http',
        SLACK_PORT: '0',
        SLACK_API_URL: slack.apiUrl,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let buffer = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) {
        if (!part.startsWith('{')) continue;
        try {
          lines.push(JSON.parse(part) as LogLine);
        } catch {
          // Not a log line.
        }
      }
    });
    await waitFor((line) => line.msg === 'ready');
  }, 180_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await discord.close();
    await slack.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps serving: the web chat answers, /healthz names each platform with its state and fix', async () => {
    const ready = await waitFor((line) => line.msg === 'ready');
    const url = String(ready.url);
    const reply = await postMessage(url, { text: 'How long do refunds take?' });
    expect(reply.status).toBe(200);
    expect(String(reply.end?.text)).toMatch(/refund/i);

    const health = await fetch(new URL('/healthz', url));
    expect(health.status).toBe(200);
    const body = (await health.json()) as {
      status: string;
      components: Record<string, { state: string; code?: string; reason?: string }>;
    };
    expect(body.status).toBe('degraded');
    expect(body.components.discord).toMatchObject({ state: 'degraded', code: 'disallowed_intents' });
    expect(body.components.slack).toMatchObject({ state: 'down' });
    expect(body.components.slack?.reason).toMatch(/SLACK_BOT_TOKEN/);

    // One warn line per platform, each saying what to do.
    const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings.filter((message) => /Message Content/i.test(message))).toHaveLength(1);
    expect(warnings.filter((message) => /SLACK_BOT_TOKEN/.test(message))).toHaveLength(1);
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
  });

  it('still answers a mention on Discord without the Message Content intent', async () => {
    discord.sendMessage({
      channel_id: channelId,
      guild_id: guildId,
      content: `<@${botId}> Do you ship to Canada?`,
      author: customer,
      mentions: [{ id: botId, username: 'supportbot' }],
    });
    await expect
      .poll(
        () =>
          discord.messages.some(
            (message) => message.author.id === botId && /Canada|ship/i.test(message.content),
          ),
        {
          timeout: 30_000,
        },
      )
      .toBe(true);
  });

  it('stops on SIGTERM and takes its Chroma server with it', async () => {
    const starting = lines.find((line) => line.msg === 'chroma server starting');
    const chromaPid = Number(starting?.pid);
    expect(chromaPid).toBeGreaterThan(0);
    expect(isAlive(chromaPid)).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await expect.poll(() => isAlive(chromaPid), { timeout: 10_000 }).toBe(false);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
