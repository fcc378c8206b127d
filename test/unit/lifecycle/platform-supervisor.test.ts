import { describe, expect, it } from 'vitest';
import { PlatformError } from '../../../src/errors.ts';
import { PlatformSupervisor, type SupervisedPlatform } from '../../../src/lifecycle/platform-supervisor.ts';
import { HealthRegistry } from '../../../src/observability/health.ts';
import { SimulatedClock } from '../../support/simulated-clock.ts';

interface Line {
  level: string;
  message: string | undefined;
}

function recordingLogger(lines: Line[]) {
  const write = (level: string) => (fields: object | string, message?: string) =>
    lines.push({ level, message: typeof fields === 'string' ? fields : message });
  return { info: write('info'), warn: write('warn'), error: write('error'), debug: write('debug') };
}

/** A platform whose attempts fail with the scripted errors, then connect. */
function scriptedPlatform(failures: unknown[]): SupervisedPlatform & { starts: number; stops: number } {
  const platform = {
    name: 'discord',
    starts: 0,
    stops: 0,
    async start() {
      platform.starts++;
      const failure = failures.shift();
      if (failure) throw failure;
    },
    async stop() {
      platform.stops++;
    },
  };
  return platform;
}

describe('PlatformSupervisor', () => {
  it('retries a failure that may pass with growing waits, one warn line, then reports up', async () => {
    const clock = new SimulatedClock();
    const health = new HealthRegistry();
    const lines: Line[] = [];
    const platform = scriptedPlatform([
      new Error('connect ECONNREFUSED 127.0.0.1:1'),
      new PlatformError('discord', 'platform_unavailable', 'Discord answered 502', { retryable: true }),
    ]);
    const supervisor = new PlatformSupervisor({
      platform,
      health,
      clock,
      logger: recordingLogger(lines),
      random: () => 0.5,
    });
    await supervisor.start();
    expect(health.get('discord')).toMatchObject({ state: 'retrying', attempts: 1 });
    await clock.run(() => health.get('discord')?.state === 'up');
    await supervisor.settled;
    expect(platform.starts).toBe(3);
    // Waits of 1 s then 2 s (jitter centred), and a cleanup before each retry.
    expect(clock.now()).toBe(3_000);
    expect(platform.stops).toBe(2);
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(lines.find((line) => line.level === 'warn')?.message).toMatch(
      /discord could not connect: .*ECONNREFUSED.*retrying in 1 s \(the rest of the bot keeps running\)/,
    );
  });

  it('gives up at once on a failure only an operator can fix, and says what to do', async () => {
    const clock = new SimulatedClock();
    const health = new HealthRegistry();
    const lines: Line[] = [];
    const platform = scriptedPlatform([
      new PlatformError('discord', 'invalid_token', 'DISCORD_TOKEN was refused: reset it in the portal'),
    ]);
    const supervisor = new PlatformSupervisor({ platform, health, clock, logger: recordingLogger(lines) });
    await supervisor.start();
    await supervisor.settled;
    expect(platform.starts).toBe(1);
    expect(health.get('discord')).toMatchObject({
      state: 'down',
      code: 'invalid_token',
      reason: expect.stringMatching(/reset it/),
    });
    expect(lines).toEqual([
      {
        level: 'warn',
        message:
          'discord is off: DISCORD_TOKEN was refused: reset it in the portal (the rest of the bot keeps running)',
      },
    ]);
  });

  it('keeps a degraded state the platform reported while starting', async () => {
    const health = new HealthRegistry();
    const platform: SupervisedPlatform = {
      name: 'discord',
      async start() {
        health.report('discord', 'degraded', { code: 'disallowed_intents', reason: 'no message content' });
      },
      async stop() {},
    };
    await new PlatformSupervisor({ platform, health }).start();
    expect(health.get('discord')?.state).toBe('degraded');
  });

  it('stops retrying when stopped', async () => {
    const clock = new SimulatedClock();
    const health = new HealthRegistry();
    const platform = scriptedPlatform([new Error('down'), new Error('down'), new Error('down')]);
    const supervisor = new PlatformSupervisor({ platform, health, clock });
    await supervisor.start();
    await supervisor.stop();
    await clock.run();
    expect(platform.starts).toBe(1);
    expect(health.get('discord')?.state).toBe('stopped');
  });
});
