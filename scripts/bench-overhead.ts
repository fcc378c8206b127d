/**
 * `npm run bench:overhead`: the bot's own cost, with a model that answers instantly (the local
 * OpenAI-compatible server at zero latency). Measures requests/s on cached answers, and the latency
 * the bot adds around the model, cached and uncached. See docs/performance.md.
 *
 *   npm run bench:overhead -- [--duration 15] [--connections 50] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/config/load.ts';
import {
  type BotProcess,
  buildDist,
  drive,
  percentile,
  startBot,
  startLoadEnvironment,
} from './load/harness.ts';
import { readTopics } from './load/workload.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '50' },
    topics: { type: 'string', default: 'test/fixtures/load/topics.jsonl' },
    out: { type: 'string', default: '.data/load/overhead.json' },
  },
});

async function main(): Promise<void> {
  const duration = Number(args.duration);
  const topics = readTopics(path.resolve(projectRoot, args.topics));
  const answerable = topics.filter((topic) => /policy|product/.test(topic.intent));
  const questions = answerable.flatMap((topic) => topic.paraphrases);
  buildDist();
  const environment = await startLoadEnvironment({
    profile: { ttftMs: 0, tokensPerSecond: 0, answerTokens: 300 },
  });
  const env = environment.env;
  const phases: Record<string, unknown>[] = [];
  let pool = questions;
  const measure = async (label: string, bot: BotProcess, connections: number, seconds: number) => {
    let index = 0;
    const { records, responseTimes, wallSeconds } = await drive({
      url: bot.url,
      connections,
      durationSeconds: seconds,
      next: () => {
        const text = pool[index++ % pool.length] as string;
        return { topic: '', intent: '', text, rewording: 'as-is' };
      },
      onTick: (elapsed, done) =>
        process.stderr.write(`\r${label}: ${Math.round(elapsed)}/${seconds} s, ${done} requests`),
    });
    process.stderr.write('\n');
    const phase = {
      label,
      connections,
      requests: records.length,
      errors: records.filter((record) => record.error).length,
      requestsPerSecond: records.length / wallSeconds,
      latencyMs: {
        p50: percentile(responseTimes, 50),
        p99: percentile(responseTimes, 99),
      },
      // Server-side, from the message's arrival to the first answer text: what the bot adds
      // before the model's first token (the model here answers at once).
      firstTextMs: {
        p50: percentile(
          records.flatMap((record) => record.firstTextMs ?? []),
          50,
        ),
        p99: percentile(
          records.flatMap((record) => record.firstTextMs ?? []),
          99,
        ),
      },
      cache: Object.fromEntries(
        ['hit', 'near', 'shared', 'miss', 'bypass'].map((status) => [
          status,
          records.filter((record) => record.cache === status).length,
        ]),
      ),
    };
    phases.push(phase);
    return phase;
  };

  let bot: BotProcess | undefined;
  try {
    bot = await startBot(env);
    // Every question answered once; those whose answer was stored (policy and product questions)
    // are then served from the cache.
    const ask = (text: string) =>
      fetch(`${bot?.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'warm-up', text }),
      }).then((response) => response.text());
    for (const text of questions) await ask(text);
    const cached: string[] = [];
    for (const text of questions) if (/"cache":"hit"/.test(await ask(text))) cached.push(text);
    if (cached.length === 0) throw new Error('no answer was cached: is the cache enabled?');
    pool = cached;
    await measure('cached answers, throughput', bot, Number(args.connections), duration);
    await measure('cached answers, one at a time', bot, 1, Math.max(5, Math.round(duration / 2)));
    await bot.stop();
    bot = await startBot({ ...env, CACHE_ENABLED: 'false' });
    pool = questions;
    await measure('uncached (instant model), one at a time', bot, 1, Math.max(5, Math.round(duration / 2)));
    await measure('uncached (instant model), 10 at once', bot, 10, Math.max(5, Math.round(duration / 2)));
  } finally {
    await bot?.stop();
    await environment.close();
  }
  const report = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
    phases,
  };
  const out = path.resolve(projectRoot, args.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const lines = [
    '| phase | connections | requests/s | latency p50 | latency p99 | to first text p50 / p99 (server) | errors |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...phases.map((phase) => {
      const p = phase as {
        label: string;
        connections: number;
        requestsPerSecond: number;
        latencyMs: { p50: number; p99: number };
        firstTextMs: { p50: number; p99: number };
        errors: number;
      };
      return `| ${p.label} | ${p.connections} | ${p.requestsPerSecond.toFixed(0)} | ${p.latencyMs.p50.toFixed(2)} ms | ${p.latencyMs.p99.toFixed(2)} ms | ${p.firstTextMs.p50.toFixed(2)} / ${p.firstTextMs.p99.toFixed(2)} ms | ${p.errors} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n\nJSON: ${path.relative(process.cwd(), out)}\n`);
}

await main();
