import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/config/load.ts';
import { type FakeDiscord, shardOf, startFakeDiscord } from '../fakes/discord-server.ts';

const botId = '100000000000000001';
const guilds = [
  { id: '200000000000000001', channels: [{ id: '300000000000000001' }] },
  { id: '210000000000000001', channels: [{ id: '310000000000000001' }] },
];
const workDir = mkdtempSync(path.join(tmpdir(), 'discord-shards-it-'));

describe('npm run start:shards: discord.js ShardingManager with two shard processes', () => {
  let fake: FakeDiscord;
  let manager: ChildProcess | undefined;
  let output = '';

  afterAll(async () => {
    if (manager && manager.exitCode === null) {
      manager.kill('SIGTERM');
      await once(manager, 'exit');
    }
    await fake?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('spawns two shards, each answering the server it owns', async () => {
    expect(shardOf(guilds[0]?.id as string, 2)).not.toBe(shardOf(guilds[1]?.id as string, 2));
    fake = await startFakeDiscord({ guilds });
    manager = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/shards.ts')], {
      cwd: projectRoot,
      env: {
        ...process.env,
        CHROMA_URL: inject('chromaUrl'),
        KB_COLLECTION: `it-shards-${process.pid}`,
        DATA_DIR: workDir,
        LLM_PROVIDER: 'offline',
        EMBEDDINGS_PROVIDER: 'offline',
        LOG_LEVEL: 'info',
        DISCORD_TOKEN: 'discord-test-token',
        DISCORD_API_URL: fake.api,
        DISCORD_SHARDS: '2',
        DISCORD_SHARD_SPAWN_DELAY_MS: '0',
        DISCORD_REGISTER_COMMANDS: 'false',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    manager.stdout?.on('data', (part: Buffer) => {
      output += part.toString();
    });
    manager.stderr?.on('data', (part: Buffer) => {
      output += part.toString();
    });
    await expect
      .poll(() => output.includes('all shards ready'), { timeout: 90_000, interval: 200 })
      .toBe(true);
    expect(fake.identifies()).toBe(2);

    for (const guild of guilds) {
      const asked = fake.sendMessage({
        channel_id: guild.channels[0]?.id as string,
        guild_id: guild.id,
        author: { id: '500000000000000005', username: 'customer' },
        content: `<@${botId}> How long is the warranty on your tents?`,
        mentions: [{ id: botId, username: 'supportbot' }],
      });
      await expect
        .poll(
          () =>
            fake.messages.find(
              (message) =>
                message.channel_id === asked.id && message.author.id === botId && message.embeds?.length,
            ),
          { timeout: 30_000, interval: 100 },
        )
        .toBeDefined();
    }
    // Each shard process logged its own shard.
    expect(output).toMatch(/"shards":\[0\],"of":2/);
    expect(output).toMatch(/"shards":\[1\],"of":2/);
  }, 150_000);
});
