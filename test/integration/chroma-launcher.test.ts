import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ChromaLaunchError } from '../../src/errors.ts';
import { type ChromaServer, startChromaServer } from '../../src/knowledge/chroma-launcher.ts';

const runtimeCacheDir = resolve(fileURLToPath(new URL('../../.cache', import.meta.url)));

let folder: string;
const started: ChromaServer[] = [];

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'chroma-launcher-test-'));
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function start(name: string, extra: { port?: number; startTimeoutMs?: number } = {}) {
  const server = await startChromaServer({
    dataDir: join(folder, name, 'chroma'),
    runtimeCacheDir,
    logFile: join(folder, name, 'logs', 'chroma.log'),
    ...extra,
  });
  started.push(server);
  return server;
}

async function heartbeat(url: string): Promise<number> {
  const response = await fetch(`${url}/api/v2/heartbeat`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as Record<string, unknown>;
  return Number(body['nanosecond heartbeat']);
}

/** Process ids in a process group, read from ps: empty once the whole group is gone. */
function processGroupMembers(pgid: number): number[] {
  const output = execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' });
  return output
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([, group]) => group === pgid)
    .map(([pid]) => pid ?? 0);
}

async function canConnect(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/api/v2/heartbeat`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

describe('startChromaServer', () => {
  it('starts a server that answers the heartbeat, in its own process group', async () => {
    const server = await start('single');

    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(await heartbeat(server.url)).toBeGreaterThan(0);
    expect(processGroupMembers(server.pid)).toContain(server.pid);
    const pidFile = JSON.parse(
      await readFile(join(folder, 'single', 'chroma', 'chroma-launcher.pid'), 'utf8'),
    );
    expect(pidFile).toMatchObject({ pid: server.pid, parentPid: process.pid, port: server.port });
  });

  it('runs two servers side by side on separate data folders', async () => {
    const [first, second] = await Promise.all([start('side-a'), start('side-b')]);

    expect(first.port).not.toBe(second.port);
    expect(first.pid).not.toBe(second.pid);
    expect(await heartbeat(first.url)).toBeGreaterThan(0);
    expect(await heartbeat(second.url)).toBeGreaterThan(0);

    await first.stop();
    expect(await heartbeat(second.url)).toBeGreaterThan(0);
  });

  it('stop() ends the whole process group and closes the port within a few seconds, and can be repeated', async () => {
    const server = await start('stopping');
    const stoppedAt = Date.now();

    await Promise.all([server.stop(), server.stop()]);
    const elapsedMs = Date.now() - stoppedAt;

    expect(elapsedMs).toBeLessThan(5_000);
    expect(processGroupMembers(server.pid)).toEqual([]);
    expect(await canConnect(server.port)).toBe(false);
    await expect(server.stop()).resolves.toBeUndefined();
  });

  it('rejects with the log file and its last lines when the server exits early (port taken)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const failure = await start('port-taken', { port }).catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(ChromaLaunchError);
      const logFile = join(folder, 'port-taken', 'logs', 'chroma.log');
      expect((failure as ChromaLaunchError).logFile).toBe(logFile);
      expect((failure as Error).message).toContain(`Log file: ${logFile}`);
      expect((failure as Error).message).toMatch(/exited before answering/);
      expect((failure as Error).message).toMatch(/Last lines of the log:\n.*\S/s);
    } finally {
      blocker.close();
    }
  });

  it('rejects naming the log file when the data folder is a file', async () => {
    const notAFolder = join(folder, 'plain-file');
    await writeFile(notAFolder, 'not a folder');
    const logFile = join(folder, 'plain-file-logs', 'chroma.log');

    const starting = startChromaServer({ dataDir: notAFolder, runtimeCacheDir, logFile });

    await expect(starting).rejects.toBeInstanceOf(ChromaLaunchError);
    await expect(starting).rejects.toThrow(logFile);
    await expect(starting).rejects.toThrow(/Cannot use .*plain-file as Chroma's data folder/);
  });

  it('rejects naming the log file when the heartbeat does not answer in time', async () => {
    const failure = await start('too-slow', { startTimeoutMs: 1 }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ChromaLaunchError);
    const logFile = join(folder, 'too-slow', 'logs', 'chroma.log');
    expect((failure as Error).message).toContain(`did not answer`);
    expect((failure as Error).message).toContain(`Log file: ${logFile}`);
  });
});

describe('global setup', () => {
  it('provides the URL of a Chroma server that answers', async () => {
    const url = inject('chromaUrl');
    expect(url).toMatch(/^https?:\/\//);
    expect(await heartbeat(url)).toBeGreaterThan(0);
  });
});
