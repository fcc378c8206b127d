import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { projectRoot } from '../../src/config/load.ts';
import { startChromaServer } from '../../src/knowledge/chroma-launcher.ts';
import { type FakeOpenAIOptions, startFakeOpenAI } from '../../test/fakes/openai-server.ts';

/** A support bot started as its own process, as `npm start` would, for load runs. */
export interface BotProcess {
  url: string;
  pid: number;
  /** Peak resident memory so far (VmHWM), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/**
 * What a load run's bot talks to: the local OpenAI-compatible server with `model`'s latency, and a
 * Chroma server of its own under .data/load. Returns the bot's environment.
 */
export async function startLoadEnvironment(model: FakeOpenAIOptions) {
  const dataDir = path.join(projectRoot, '.data', 'load');
  mkdirSync(dataDir, { recursive: true });
  const fake = await startFakeOpenAI(model);
  const chroma = await startChromaServer({
    dataDir: path.join(dataDir, 'chroma'),
    runtimeCacheDir: path.join(projectRoot, '.cache'),
    logFile: path.join(dataDir, 'chroma.log'),
  }).catch(async (error: unknown) => {
    await fake.close();
    throw error;
  });
  const env: Record<string, string> = {
    CHROMA_URL: chroma.url,
    KB_COLLECTION: 'load-test-kb',
    DATA_DIR: dataDir,
    EMBEDDINGS_PROVIDER: 'offline',
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'load-test-key',
    OPENAI_BASE_URL: fake.url,
    LOG_LEVEL: 'warn',
    // A load test floods the bot on purpose: no message limits or budget.
    LIMITS_ENABLED: 'false',
    REDIS_URL: '',
    SLACK_BOT_TOKEN: '',
    DISCORD_TOKEN: '',
  };
  return {
    env,
    async close() {
      await fake.close();
      await chroma.stop();
    },
  };
}

/** Compiles the bot (`npm run build:dist`), as it runs in production. */
export function buildDist(): void {
  execFileSync(
    process.execPath,
    [path.join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: projectRoot, stdio: 'inherit' },
  );
}

/**
 * Starts the bot with `env` on a free port and waits until /healthz answers: the compiled build
 * (`node dist/src/main.js`, as in production) or, with `runtime: 'tsx'`, the sources as `npm start`
 * runs them. LOAD_NODE_ARGS adds Node flags (e.g. `--cpu-prof` to profile the bot under load).
 */
export async function startBot(
  env: Record<string, string>,
  runtime: 'dist' | 'tsx' = 'dist',
): Promise<BotProcess> {
  const port = await freePort();
  const nodeArgs = (process.env.LOAD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const entry =
    runtime === 'dist'
      ? // As `npm run start:dist` runs it.
        ['--max-old-space-size=192', path.join(projectRoot, 'dist/src/main.js')]
      : ['--import', 'tsx', path.join(projectRoot, 'src/main.ts')];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: projectRoot,
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (part: Buffer) => {
    stderr = (stderr + part.toString()).slice(-4_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the bot exited during start-up:\n${stderr}`);
    const healthy = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() - started > 120_000) {
      child.kill('SIGKILL');
      throw new Error(`the bot did not become healthy in 120 s:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const pid = child.pid as number;
  return {
    url,
    pid,
    peakRssMb() {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        return kb / 1024;
      } catch {
        return Number.NaN;
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** What one request's reply said, from its answer-end event. */
export interface ReplyRecord {
  status: number;
  topic: string;
  intent: string;
  text: string;
  rewording: string;
  cache?: string;
  servedQuestion?: string;
  firstTextMs?: number;
  serverTotalMs?: number;
  costUsd: number;
  error?: string;
}

/** Reads the answer-end event out of an SSE body. */
export function parseReply(body: string): { end?: Record<string, unknown>; error?: string } {
  let event = '';
  for (const line of body.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:') && (event === 'answer-end' || event === 'error')) {
      try {
        const data = JSON.parse(line.slice(5)) as Record<string, unknown>;
        return event === 'error' ? { error: String(data.message ?? 'error') } : { end: data };
      } catch {
        return { error: 'unreadable answer-end event' };
      }
    }
  }
  return { error: 'no answer-end event' };
}

/** Options of {@link drive}. */
export interface DriveOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  next: () => { topic: string; intent: string; text: string; rewording: string };
  onTick?: (elapsedSeconds: number, completed: number) => void;
}

/** Drives POST /v1/messages with autocannon; per-request times come from its 'response' events. */
export async function drive(options: DriveOptions) {
  const records: ReplyRecord[] = [];
  const responseTimes: number[] = [];
  /** Per connection: the request it is waiting for. */
  type Outstanding = { item: unknown; sentAt: number; open: boolean };
  const contexts = new Set<Outstanding>();
  let conversation = 0;
  const run = Math.random().toString(36).slice(2, 8);
  const cannon: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: 120,
    requests: [
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request, context) => {
          const item = options.next();
          contexts.add(context as Outstanding);
          Object.assign(context, { item, sentAt: performance.now(), open: true });
          conversation++;
          return {
            ...request,
            body: JSON.stringify({
              conversationId: `load-${run}-${conversation}`,
              userId: `user-${conversation % 100}`,
              text: item.text,
            }),
          };
        },
        onResponse: (status, body, context) => {
          (context as Outstanding).open = false;
          const item = (
            context as { item: { topic: string; intent: string; text: string; rewording: string } }
          ).item;
          const { end, error } = parseReply(body);
          const timings = end?.timings as { firstTextMs?: number; totalMs?: number } | undefined;
          records.push({
            status,
            ...item,
            ...(typeof end?.cache === 'string' ? { cache: end.cache } : {}),
            ...(typeof end?.servedQuestion === 'string' ? { servedQuestion: end.servedQuestion } : {}),
            ...(timings?.firstTextMs !== undefined ? { firstTextMs: timings.firstTextMs } : {}),
            ...(timings?.totalMs !== undefined ? { serverTotalMs: timings.totalMs } : {}),
            costUsd: Number(end?.costUsd ?? 0),
            ...(status !== 200 || error
              ? { error: error ?? `HTTP ${status}`, ...(process.env.LOAD_DEBUG ? { body } : {}) }
              : {}),
          });
        },
      },
    ],
  };
  const started = Date.now();
  const ticker = setInterval(
    () => options.onTick?.((Date.now() - started) / 1000, responseTimes.length),
    1_000,
  );
  // The callback form: only it exposes the per-request 'response' events.
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(cannon, (error, finished) => (error ? reject(error) : resolve(finished)));
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      responseTimes.push(responseTime);
    });
  });
  clearInterval(ticker);
  // autocannon ends a timed run by closing its connections: answers still streaming then (mostly
  // the slow, uncached ones) count with the time they had taken so far, a lower bound, rather
  // than vanish from the percentiles.
  const endedAt = performance.now();
  const unfinished = [...contexts]
    .filter((context) => context.open)
    .map((context) => endedAt - context.sentAt);
  return { result, records, responseTimes, unfinished, wallSeconds: (Date.now() - started) / 1000 };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}
