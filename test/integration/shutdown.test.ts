import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadPrompts } from '../../src/agent/prompts.ts';
import { loadConfig, projectRoot } from '../../src/config/load.ts';
import { balanceMarkdown } from '../../src/reply/markdown.ts';
import {
  type ChatRequest,
  defaultRespond,
  type FakeOpenAI,
  isClassification,
  startFakeOpenAI,
} from '../fakes/openai-server.ts';

const chromaUrl = inject('chromaUrl');
const bodyTimeoutMs = 1_500;
const maxConnections = 3;
const shutdownGraceMs = 1_000;

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A raw TCP connection to the bot, with what it received and when it closed. */
interface RawConnection {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
}

function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const opened = performance.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (part: Buffer) => {
      received += part.toString('utf8');
    });
    socket.on('error', () => undefined);
    const closed = new Promise<number>((settle) =>
      socket.once('close', () => settle(performance.now() - opened)),
    );
    socket.once('connect', () => resolve({ socket, received: () => received, closed }));
    socket.once('error', reject);
  });
}

/** Resolves with `value`, or with 'pending' when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([
    promise,
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);
}

/**
 * The HTTP API's limits and its shutdown, on the whole bot as an operator runs it (`src/main.ts` in
 * its own process) with the OpenAI stand-in streaming slowly: a body dripped byte by byte is cut
 * off with 408, connections beyond the cap are closed, and SIGTERM during an answer ends the stream
 * with the text so far, the restart note and a final `answer-end` before the process exits.
 */
describe('the bot process: HTTP limits and graceful shutdown', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shutdown-'));
  const lines: LogLine[] = [];
  let fake: FakeOpenAI;
  let child: ChildProcess;
  let exited: Promise<{ code: number | null; at: number }>;
  let url: URL;

  const waitFor = async (predicate: (line: LogLine) => boolean, timeoutMs = 120_000): Promise<LogLine> => {
    const started = Date.now();
    for (;;) {
      const found = lines.find(predicate);
      if (found) return found;
      if (child.exitCode !== null) throw new Error(`the bot exited: ${JSON.stringify(lines.slice(-5))}`);
      if (Date.now() - started > timeoutMs) throw new Error('log line not seen in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    const classifierModel = loadConfig({ env: {}, loadDotEnv: false }).llm.classifierModel;
    fake = await startFakeOpenAI({
      // Slow enough that an answer is still streaming when the signal comes.
      profile: { ttftMs: 100, tokensPerSecond: 8, answerTokens: 400 },
      profiles: { [classifierModel]: { ttftMs: 10, tokensPerSecond: 0 } },
      respond: (request: ChatRequest) => {
        const base = defaultRespond(request);
        if (isClassification(request) || !base.trim()) return base;
        let text = base;
        while (text.split(/\s+/).length < 300) text = `${text}\n\n${base}`;
        return text;
      },
    });
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATA_DIR: dataDir,
        CHROMA_URL: chromaUrl,
        KB_COLLECTION: `it-shutdown-${process.pid}`,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        LLM_PROVIDER: 'openai',
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: fake.url,
        EMBEDDINGS_PROVIDER: 'offline',
        CACHE_ENABLED: 'false',
        HTTP_BODY_TIMEOUT_MS: String(bodyTimeoutMs),
        HTTP_MAX_CONNECTIONS: String(maxConnections),
        HTTP_SHUTDOWN_GRACE_MS: String(shutdownGraceMs),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve({ code, at: performance.now() })));
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
    url = new URL(String((await waitFor((line) => line.msg === 'ready')).url));
  }, 180_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`closes connections beyond the cap (${maxConnections}) on arrival, and takes new ones once a slot frees`, async () => {
    const port = Number(url.port);
    const held = [];
    for (let index = 0; index < maxConnections; index++) held.push(await openRaw(port));
    // The server counts a connection once it has accepted it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const extra = await openRaw(port);
    expect(await within(extra.closed, 2_000)).not.toBe('pending');
    expect(extra.received()).toBe('');
    for (const connection of held) expect(connection.socket.destroyed).toBe(false);

    held[0]?.socket.destroy();
    await held[0]?.closed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await openRaw(port);
    next.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    expect(await within(next.closed, 5_000)).not.toBe('pending');
    expect(next.received()).toMatch(/^HTTP\/1\.1 200 /);
    for (const connection of held) connection.socket.destroy();
    await Promise.all(held.map((connection) => connection.closed));
  });

  it('answers 408 and closes the connection when a body is dripped one byte at a time', async () => {
    const connection = await openRaw(Number(url.port));
    const body = JSON.stringify({ userId: 'drip', text: 'How long do refunds take?' });
    connection.socket.write(
      `POST /v1/messages HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // One byte now, and the next one "ten seconds" later: long after the configured deadline.
    connection.socket.write(body.slice(0, 1));
    const drip = setTimeout(() => connection.socket.write(body.slice(1, 2)), 10_000);
    const closedAfterMs = await within(connection.closed, bodyTimeoutMs + 3_000);
    clearTimeout(drip);
    connection.socket.destroy();
    expect(closedAfterMs).not.toBe('pending');
    expect(closedAfterMs).toBeGreaterThanOrEqual(bodyTimeoutMs - 100);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(connection.received()).toMatch(/"code":"body_timeout"/);
  });

  it('on SIGTERM ends a streaming answer with its text so far, the note and answer-end, then exits', async () => {
    const note = (await loadPrompts(path.join(projectRoot, 'config', 'prompts.yaml'))).replies.restarting;
    const response = await fetch(new URL('/v1/messages', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'customer-1', text: 'How long do refunds take?' }),
    });
    expect(response.status).toBe(200);
    const events: { event: string; data: Record<string, unknown>; at: number }[] = [];
    let signalledAt: number | undefined;
    let probed: Promise<number | 'refused'> | undefined;
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const part of response.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(part, { stream: true });
        for (let boundary = buffer.indexOf('\n\n'); boundary !== -1; boundary = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
          events.push({ event, data, at: performance.now() });
          if (event === 'answer-delta' && signalledAt === undefined) {
            // A few words in, far from the end of a 300-word answer at 8 tokens a second.
            if (events.filter((item) => item.event === 'answer-delta').length >= 3) {
              signalledAt = performance.now();
              child.kill('SIGTERM');
              // During the grace: no new work is taken.
              probed = new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
                fetch(new URL('/healthz', url)).then(
                  (probe) => probe.status,
                  () => 'refused' as const,
                ),
              );
            }
          }
        }
      }
    })().catch(() => undefined);
    // Bounded waits: a bot that never exits fails here rather than at the test's timeout.
    const exit = await within(exited, 40_000);
    await within(reading, 1_000);
    expect(signalledAt).toBeDefined();
    expect(exit).not.toBe('pending');
    const { code, at: exitedAt } = exit as Awaited<typeof exited>;
    const streamed = events
      .filter((item) => item.event === 'answer-delta')
      .map((item) => String(item.data.text))
      .join('');
    const ends = events.filter((item) => item.event === 'answer-end');
    expect(ends).toHaveLength(1);
    const end = ends[0] as (typeof events)[number];
    expect(events.at(-1)?.event).toBe('answer-end');
    expect(streamed.length).toBeGreaterThan(0);
    expect(end.data.text).toBe(`${balanceMarkdown(streamed).trimEnd()}\n\n${note}`);
    expect(end.data.degraded).toBe('shutdown');
    expect([503, 'refused']).toContain(await probed);
    // Cut at the grace, not at the end of the answer (which would take ~40 s).
    expect(end.at - (signalledAt as number)).toBeLessThan(shutdownGraceMs + 1_500);
    expect(code).toBe(143);
    expect(exitedAt - (signalledAt as number)).toBeLessThan(shutdownGraceMs + 8_000);
  });
});
