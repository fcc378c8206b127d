/**
 * `npm run load`: the replaced system's load test, against this bot and against a baseline that
 * reproduces the old pipeline, with the same workload. See docs/performance.md.
 *
 *   npm run load -- [--duration 60] [--connections 100] [--seed 7] [--zipf 1.0] [--no-baseline]
 *                   [--ttft 1500] [--tps 25] [--tokens 300] [--classifier-ttft 400] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/cli/progress.ts';
import { loadConfig, projectRoot } from '../src/config/load.ts';
import { type ChatRequest, defaultRespond, isClassification } from '../test/fakes/openai-server.ts';
import {
  type BotProcess,
  buildDist,
  drive,
  mean,
  percentile,
  type ReplyRecord,
  startBot,
  startLoadEnvironment,
} from './load/harness.ts';
import { createWorkload, readTopics } from './load/workload.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '100' },
    seed: { type: 'string', default: '7' },
    zipf: { type: 'string', default: '1.0' },
    baseline: { type: 'boolean', default: true },
    'no-baseline': { type: 'boolean', default: false },
    ttft: { type: 'string', default: '1500' },
    tps: { type: 'string', default: '25' },
    tokens: { type: 'string', default: '300' },
    'classifier-ttft': { type: 'string', default: '400' },
    topics: { type: 'string', default: 'test/fixtures/load/topics.jsonl' },
    out: { type: 'string', default: '.data/load/latest.json' },
    // Run the TypeScript sources through tsx (like `npm start`) instead of the compiled build.
    tsx: { type: 'boolean', default: false },
  },
});

/** The replaced system's load test (100 concurrent users) and the targets it set itself. */
const oldSystem = {
  measured: {
    p95CompleteS: 76.8,
    meanCompleteS: 14.9,
    throughput: 3.3,
    cacheHitRate: 0.4,
    peakMemoryMb: 5.7 * 1024,
  },
  targets: { p95CompleteS: 8, meanCompleteS: 5, throughput: 10, cacheHitRate: 0.85, peakMemoryMb: 3 * 1024 },
};

interface RunSummary {
  label: string;
  requests: number;
  /** Still streaming when the run ended: in the complete-answer figures with their elapsed time. */
  unfinished: number;
  errors: number;
  throughput: number;
  firstToken: { p50: number; p95: number; p99: number; mean: number };
  complete: { p50: number; p95: number; p99: number; mean: number };
  cache: {
    answerRequests: number;
    exact: number;
    near: number;
    shared: number;
    miss: number;
    hitRate: number;
    storedHitRate: number;
    falseHits: number;
    falseHitRate: number;
    falseHitExamples: { asked: string; served?: string; via?: string }[];
  };
  peakRssMb: number;
  costPer1000Usd: number;
  byRewording: Record<string, { requests: number; served: number }>;
}

function summarize(
  label: string,
  records: ReplyRecord[],
  finishedTimes: number[],
  unfinished: number[],
  wallSeconds: number,
  peakRssMb: number,
  topicOf: Map<string, string>,
): RunSummary {
  const seconds = (ms: number) => ms / 1000;
  const responseTimes = [...finishedTimes, ...unfinished];
  const firstTokens = records.flatMap((record) =>
    record.firstTextMs === undefined ? [] : [record.firstTextMs],
  );
  const answers = records.filter((record) => record.cache && record.cache !== 'bypass');
  const count = (status: string) => answers.filter((record) => record.cache === status).length;
  const served = answers.filter((record) => ['hit', 'near', 'shared'].includes(record.cache ?? ''));
  // A false hit: the answer served was written for a question of another topic.
  const falseHitRecords = served.filter((record) => {
    const servedTopic = record.servedQuestion ? topicOf.get(record.servedQuestion) : undefined;
    return servedTopic !== undefined && servedTopic !== record.topic;
  });
  const falseHits = falseHitRecords.length;
  const byRewording: RunSummary['byRewording'] = {};
  const servedSet = new Set(served);
  for (const record of answers) {
    byRewording[record.rewording] ??= { requests: 0, served: 0 };
    const entry = byRewording[record.rewording] as { requests: number; served: number };
    entry.requests++;
    if (servedSet.has(record)) entry.served++;
  }
  return {
    label,
    requests: records.length,
    unfinished: unfinished.length,
    errors: records.filter((record) => record.error).length,
    throughput: records.length / wallSeconds,
    firstToken: {
      p50: seconds(percentile(firstTokens, 50)),
      p95: seconds(percentile(firstTokens, 95)),
      p99: seconds(percentile(firstTokens, 99)),
      mean: seconds(mean(firstTokens)),
    },
    complete: {
      p50: seconds(percentile(responseTimes, 50)),
      p95: seconds(percentile(responseTimes, 95)),
      p99: seconds(percentile(responseTimes, 99)),
      mean: seconds(mean(responseTimes)),
    },
    cache: {
      answerRequests: answers.length,
      exact: count('hit'),
      near: count('near'),
      shared: count('shared'),
      miss: count('miss'),
      hitRate: answers.length ? served.length / answers.length : 0,
      storedHitRate: answers.length ? (count('hit') + count('near')) / answers.length : 0,
      falseHits,
      falseHitRate: served.length ? falseHits / served.length : 0,
      falseHitExamples: falseHitRecords
        .slice(0, 10)
        .map((record) => ({ asked: record.text, served: record.servedQuestion, via: record.cache })),
    },
    peakRssMb,
    costPer1000Usd:
      (records.reduce((sum, record) => sum + record.costUsd, 0) / Math.max(1, records.length)) * 1000,
    byRewording,
  };
}

async function main(): Promise<void> {
  const duration = Number(args.duration);
  const connections = Number(args.connections);
  const runBaseline = args.baseline && !args['no-baseline'];
  const topics = readTopics(path.resolve(projectRoot, args.topics));
  const config = loadConfig({ env: {}, loadDotEnv: false });
  // The strong model like the old system's (first token 1.5 s, 25 tokens/s, ~300 tokens); the
  // cheap classifier 0.4 s. Answers are padded to the token count from the passages themselves.
  const answerTokens = Number(args.tokens);
  const environment = await startLoadEnvironment({
    profile: { ttftMs: Number(args.ttft), tokensPerSecond: Number(args.tps), answerTokens },
    profiles: {
      [config.llm.classifierModel]: { ttftMs: Number(args['classifier-ttft']), tokensPerSecond: 0 },
    },
    respond: (request: ChatRequest) => {
      const base = defaultRespond(request);
      if (isClassification(request) || !base.trim()) return base;
      let text = base;
      while (text.split(/\s+/).length < answerTokens * 0.8) text = `${text}\n\n${base}`;
      return text;
    },
  });
  const baseEnv = environment.env;

  const runtime = args.tsx ? 'tsx' : 'dist';
  if (runtime === 'dist') buildDist();
  const topicOf = new Map<string, string>();
  const runs: RunSummary[] = [];
  const progress = createProgress();
  const run = async (label: string, env: Record<string, string>) => {
    let bot: BotProcess | undefined;
    try {
      bot = await startBot({ ...baseEnv, ...env }, runtime);
      const next = createWorkload(topics, { seed: Number(args.seed), zipf: Number(args.zipf) });
      const { records, responseTimes, unfinished, wallSeconds } = await drive({
        url: bot.url,
        connections,
        durationSeconds: duration,
        next: () => {
          const item = next();
          if (!topicOf.has(item.text)) topicOf.set(item.text, item.topic);
          return item;
        },
        onTick: (elapsed, completed) =>
          progress.update(
            Math.min(duration, Math.round(elapsed)),
            duration,
            `${label}: ${completed} answers`,
          ),
      });
      progress.done();
      if (process.env.LOAD_SNAPSHOT) {
        process.kill(bot.pid, 'SIGUSR2');
        await new Promise((resolve) => setTimeout(resolve, 15_000));
      }
      if (process.env.LOAD_DEBUG)
        process.stderr.write(
          (await (await fetch(`${bot.url}/metrics`)).text())
            .split('\n')
            .filter((line) =>
              /^supportbot_nodejs_heap_size|^supportbot_process_resident|^supportbot_nodejs_external/.test(
                line,
              ),
            )
            .join('\n'),
        );
      runs.push(summarize(label, records, responseTimes, unfinished, wallSeconds, bot.peakRssMb(), topicOf));
    } finally {
      await bot?.stop();
    }
  };

  try {
    await run('this bot', {});
    if (runBaseline) {
      // The old pipeline: model classification every time, then retrieval, then the whole answer.
      await run('baseline (old pipeline)', {
        AGENT_PIPELINE: 'baseline',
        CACHE_ENABLED: 'false',
        INTENT_FAST_PATH_THRESHOLD: '1.01',
      });
    }
  } finally {
    await environment.close();
  }

  const report = {
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.type()} ${os.release()}`,
    },
    settings: {
      durationSeconds: duration,
      connections,
      seed: Number(args.seed),
      zipf: Number(args.zipf),
      topics: topics.length,
      model: {
        ttftMs: Number(args.ttft),
        tokensPerSecond: Number(args.tps),
        answerTokens,
        classifierTtftMs: Number(args['classifier-ttft']),
      },
      similarity: config.cache.similarity,
      runtime:
        runtime === 'dist' ? 'node dist/src/main.js (npm run build:dist)' : 'tsx src/main.ts (npm start)',
    },
    oldSystem,
    runs,
  };
  const out = path.resolve(projectRoot, args.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${markdown(runs)}\nJSON: ${path.relative(process.cwd(), out)}\n`);
}

function markdown(runs: RunSummary[]): string {
  const [ours, baseline] = runs as [RunSummary, RunSummary | undefined];
  const s = (value: number) => `${value.toFixed(2)} s`;
  const pct = (value: number) => `${(value * 100).toFixed(1)} %`;
  const ratio = (a: number, b: number | undefined) =>
    b === undefined || !Number.isFinite(b) || b === 0 ? '' : `${(a / b).toFixed(2)}×`;
  const rows: [string, string, string, string, string, string][] = [
    [
      'time to first answer token P50',
      '',
      '',
      s(ours.firstToken.p50),
      baseline ? s(baseline.firstToken.p50) : '',
      ratio(ours.firstToken.p50, baseline?.firstToken.p50),
    ],
    [
      'time to first answer token P95',
      '',
      '',
      s(ours.firstToken.p95),
      baseline ? s(baseline.firstToken.p95) : '',
      ratio(ours.firstToken.p95, baseline?.firstToken.p95),
    ],
    [
      'time to first answer token P99',
      '',
      '',
      s(ours.firstToken.p99),
      baseline ? s(baseline.firstToken.p99) : '',
      ratio(ours.firstToken.p99, baseline?.firstToken.p99),
    ],
    [
      'complete answer P50',
      '',
      '',
      s(ours.complete.p50),
      baseline ? s(baseline.complete.p50) : '',
      ratio(ours.complete.p50, baseline?.complete.p50),
    ],
    [
      'complete answer P95',
      s(oldSystem.measured.p95CompleteS),
      `< ${oldSystem.targets.p95CompleteS} s`,
      s(ours.complete.p95),
      baseline ? s(baseline.complete.p95) : '',
      ratio(ours.complete.p95, baseline?.complete.p95),
    ],
    [
      'complete answer P99',
      '',
      '',
      s(ours.complete.p99),
      baseline ? s(baseline.complete.p99) : '',
      ratio(ours.complete.p99, baseline?.complete.p99),
    ],
    [
      'complete answer mean',
      s(oldSystem.measured.meanCompleteS),
      `< ${oldSystem.targets.meanCompleteS} s`,
      s(ours.complete.mean),
      baseline ? s(baseline.complete.mean) : '',
      ratio(ours.complete.mean, baseline?.complete.mean),
    ],
    [
      'throughput',
      `${oldSystem.measured.throughput} req/s`,
      `> ${oldSystem.targets.throughput} req/s`,
      `${ours.throughput.toFixed(1)} req/s`,
      baseline ? `${baseline.throughput.toFixed(1)} req/s` : '',
      ratio(ours.throughput, baseline?.throughput),
    ],
    [
      'cache hits (answers served without a new generation)',
      pct(oldSystem.measured.cacheHitRate),
      `> ${pct(oldSystem.targets.cacheHitRate)}`,
      `${pct(ours.cache.hitRate)} (exact ${ours.cache.exact}, near-duplicate ${ours.cache.near}, in flight ${ours.cache.shared}, miss ${ours.cache.miss})`,
      baseline ? pct(baseline.cache.hitRate) : '',
      '',
    ],
    ['cache hits from stored answers only', '', '', pct(ours.cache.storedHitRate), '', ''],
    [
      "false hits (another question's answer)",
      '',
      '',
      `${ours.cache.falseHits} (${pct(ours.cache.falseHitRate)})`,
      '',
      '',
    ],
    [
      'peak memory (bot process RSS)',
      `${(oldSystem.measured.peakMemoryMb / 1024).toFixed(1)} GB`,
      `< ${oldSystem.targets.peakMemoryMb / 1024} GB`,
      `${ours.peakRssMb.toFixed(0)} MB`,
      baseline ? `${baseline.peakRssMb.toFixed(0)} MB` : '',
      ratio(ours.peakRssMb, baseline?.peakRssMb),
    ],
    [
      'errors',
      '',
      '0',
      `${ours.errors} of ${ours.requests}`,
      baseline ? `${baseline.errors} of ${baseline.requests}` : '',
      '',
    ],
    [
      'still streaming at the end (in the figures as a lower bound)',
      '',
      '',
      String(ours.unfinished),
      baseline ? String(baseline.unfinished) : '',
      '',
    ],
    [
      'cost per 1,000 requests',
      '',
      '',
      `$${ours.costPer1000Usd.toFixed(2)}`,
      baseline ? `$${baseline.costPer1000Usd.toFixed(2)}` : '',
      ratio(ours.costPer1000Usd, baseline?.costPer1000Usd),
    ],
  ];
  const header =
    '| figure | old system | its target | this bot | baseline (old pipeline) | ours / baseline |\n| --- | --- | --- | --- | --- | --- |';
  return `${header}\n${rows.map((row) => `| ${row.join(' | ')} |`).join('\n')}\n`;
}

await main();
