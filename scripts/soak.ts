/**
 * `npm run soak`: a long run at a steady load that fails when the bot's memory keeps growing.
 * Starts the compiled bot (as `npm run start:dist` runs it) against the local OpenAI stand-in and a
 * Chroma server of its own, or drives a bot already running (`--url`), prints resident memory and
 * heap every minute, counts MaxListenersExceededWarning in the bot's stderr, and exits 1 when the
 * least-squares slope of RSS or heap after the warm-up is above the tolerance, or when a warning was
 * seen. See docs/performance.md.
 *
 *   npm run soak -- [--minutes 30] [--connections 10] [--warmup 5] [--tolerance 0.5] [--unique 0.2]
 *                   [--store-mb 8] [--url http://127.0.0.1:3000] [--seed 7] [--limits] [--no-build]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { buildDist, drive, freePort, startLoadEnvironment } from './load/harness.ts';
import { createWorkload, readTopics, seededRandom } from './load/workload.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    connections: { type: 'string', default: '10' },
    // Minutes left out of the slope: caches, JIT and the heap settle first.
    warmup: { type: 'string' },
    // MB per minute either slope may rise by and still pass: noise, not a leak.
    tolerance: { type: 'string', default: '0.5' },
    // Share of questions made one of a kind (an order number), so caches and indexes see new keys.
    unique: { type: 'string', default: '0.2' },
    url: { type: 'string' },
    seed: { type: 'string', default: '7' },
    // Keep the configured message limits (they are switched off by default, see below).
    limits: { type: 'boolean', default: false },
    // The in-memory store's bound (cache.memoryMaxMegabytes) for the soaked bot: small enough that
    // it fills during the warm-up, so what grows after it is a leak and not a cache filling up.
    'store-mb': { type: 'string', default: '8' },
    build: { type: 'boolean', default: true },
    'no-build': { type: 'boolean', default: false },
  },
});

/** One row of the table: memory at the end of a minute. */
export interface SoakSample {
  minute: number;
  rssMb: number;
  heapMb: number;
  requests: number;
}

/** Least-squares slope of `y` over `x`; NaN with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / points.length;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const point of points) {
    covariance += (point.x - meanX) * (point.y - meanY);
    variance += (point.x - meanX) ** 2;
  }
  return variance === 0 ? Number.NaN : covariance / variance;
}

/** RSS and heap in use, from the bot's own /metrics (prom-client's default process metrics). */
async function readMemory(url: string): Promise<{ rssMb: number; heapMb: number }> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    rssMb: value('supportbot_process_resident_memory_bytes') / 1_048_576,
    heapMb: value('supportbot_nodejs_heap_size_used_bytes') / 1_048_576,
  };
}

interface SoakBot {
  url: string;
  warnings(): number;
  firstWarning(): string;
  stop(): Promise<void>;
}

/** The compiled bot in its own process, its stderr watched for listener warnings. */
async function startSoakBot(env: Record<string, string>): Promise<SoakBot> {
  const port = await freePort();
  const nodeArgs = (process.env.LOAD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, '--max-old-space-size=192', path.join(projectRoot, 'dist/src/main.js')],
    {
      cwd: projectRoot,
      env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let warnings = 0;
  /** The first warning and the lines after it: its stack with LOAD_NODE_ARGS=--trace-warnings. */
  const firstWarning: string[] = [];
  let tail = '';
  let pending = '';
  child.stderr?.on('data', (part: Buffer) => {
    const text = pending + part.toString('utf8');
    const lines = text.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('MaxListenersExceededWarning')) warnings++;
      if (warnings > 0 && firstWarning.length < 16 && !line.startsWith('{')) firstWarning.push(line);
    }
    tail = (tail + text).slice(-4_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the bot exited during start-up:\n${tail}`);
    const healthy = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() - started > 120_000) {
      child.kill('SIGKILL');
      throw new Error(`the bot did not become healthy in 120 s:\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    warnings: () => warnings,
    firstWarning: () => firstWarning.join('\n'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function main(): Promise<number> {
  const minutes = Number(args.minutes);
  const connections = Number(args.connections);
  const warmup = args.warmup === undefined ? Math.min(5, Math.floor(minutes / 2)) : Number(args.warmup);
  const tolerance = Number(args.tolerance);
  const unique = Number(args.unique);
  const topics = readTopics(path.join(projectRoot, 'test/fixtures/load/topics.jsonl'));
  const pairs = readFileSync(path.join(projectRoot, 'test/fixtures/load/distinct-pairs.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .flatMap((line) => {
      const pair = JSON.parse(line) as { a: string; b: string };
      return [pair.a, pair.b];
    });
  const random = seededRandom(Number(args.seed) + 1);
  const workload = createWorkload(topics, { seed: Number(args.seed), zipf: 1 });
  let serial = 0;
  const next = () => {
    const item =
      random() < 0.25
        ? {
            topic: 'pair',
            intent: 'unknown',
            text: pairs[Math.floor(random() * pairs.length)] as string,
            rewording: 'as-is',
          }
        : workload();
    if (random() < unique)
      return { ...item, text: `${item.text} (order #${100_000 + serial++})`, rewording: 'unique' };
    return item;
  };

  let environment: Awaited<ReturnType<typeof startLoadEnvironment>> | undefined;
  let bot: SoakBot | undefined;
  try {
    let url = args.url;
    if (!url) {
      const config = loadConfig();
      environment = await startLoadEnvironment({
        profile: { ttftMs: 150, tokensPerSecond: 400, answerTokens: 80 },
        profiles: { [config.llm.classifierModel]: { ttftMs: 60, tokensPerSecond: 0 } },
      });
      if (args.build && !args['no-build']) buildDist();
      bot = await startSoakBot({
        ...environment.env,
        CACHE_MEMORY_MAX_MB: String(args['store-mb']),
        ...(args.limits
          ? {}
          : {
              // One load generator is one "tenant" sending far past the message limits: every
              // reply would be the polite refusal, and the answer path would not be soaked at all.
              LIMIT_USER_MESSAGES: '0',
              LIMIT_USER_BURST: '0',
              LIMIT_CONVERSATION_MESSAGES: '0',
              LIMIT_TENANT_MESSAGES: '0',
              LIMIT_BUDGET_USD_PER_HOUR: '0',
            }),
      });
      url = bot.url;
    }
    const samples: SoakSample[] = [];
    const first = await readMemory(url);
    samples.push({ minute: 0, ...first, requests: 0 });
    process.stdout.write(`soak: ${minutes} min at ${connections} connections against ${url}\n`);
    process.stdout.write('(heap: the lowest of 12 readings in each minute; RSS: the last)\n');
    process.stdout.write('minute  rss MB  heap MB  requests  warnings\n');
    const print = (sample: SoakSample) =>
      process.stdout.write(
        `${String(sample.minute).padStart(6)}  ${sample.rssMb.toFixed(1).padStart(6)}  ${sample.heapMb.toFixed(1).padStart(7)}  ${String(sample.requests).padStart(8)}  ${String(bot?.warnings() ?? '-').padStart(8)}\n`,
      );
    print(samples[0] as SoakSample);
    let completed = 0;
    // Heap in use swings by tens of MB between collections: each minute's figure is its lowest
    // reading of twelve, close to what survives a collection, so the slope follows live data.
    const readingsPerMinute = 12;
    let minuteHeap: number[] = [];
    let readings = 0;
    const sampler = setInterval(() => {
      const reading = ++readings;
      readMemory(url).then(
        (memory) => {
          minuteHeap.push(memory.heapMb);
          if (reading % readingsPerMinute !== 0) return;
          const sample = {
            minute: reading / readingsPerMinute,
            rssMb: memory.rssMb,
            heapMb: Math.min(...minuteHeap),
            requests: completed,
          };
          minuteHeap = [];
          samples.push(sample);
          print(sample);
        },
        (error: unknown) => process.stderr.write(`soak: /metrics unreadable: ${String(error)}\n`),
      );
    }, 60_000 / readingsPerMinute);
    const { records } = await drive({
      url,
      connections,
      durationSeconds: minutes * 60,
      next,
      onTick: (_elapsed, done) => {
        completed = done;
      },
    });
    clearInterval(sampler);
    // The last minute's sample may still be on its way.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const errors = records.filter((record) => record.error).length;
    const settled = samples.filter((sample) => sample.minute >= warmup);
    const rssSlope = slope(settled.map((sample) => ({ x: sample.minute, y: sample.rssMb })));
    const heapSlope = slope(settled.map((sample) => ({ x: sample.minute, y: sample.heapMb })));
    const warnings = bot?.warnings() ?? 0;
    process.stdout.write(
      `\nrequests ${records.length}, errors ${errors}, MaxListenersExceededWarning ${bot ? warnings : 'not watched (--url)'}\n` +
        `slope after minute ${warmup}: RSS ${rssSlope.toFixed(2)} MB/min, heap ${heapSlope.toFixed(2)} MB/min (tolerance ${tolerance})\n`,
    );
    const growing = !(rssSlope <= tolerance) || !(heapSlope <= tolerance);
    if (growing) process.stdout.write('FAIL: memory keeps growing after the warm-up\n');
    if (warnings > 0) {
      process.stdout.write(
        `FAIL: listener warnings in the bot's stderr; the first (LOAD_NODE_ARGS=--trace-warnings for its stack):\n${bot?.firstWarning()}\n`,
      );
    }
    if (!growing && warnings === 0) process.stdout.write('PASS\n');
    return growing || warnings > 0 ? 1 : 0;
  } finally {
    await bot?.stop();
    await environment?.close();
  }
}

process.exitCode = await main();
