/**
 * `npm run bench:stall`: what customers get while Chroma is frozen. The bot (offline provider) runs
 * against a Chroma server of this script's own; autocannon sends greetings, cached questions and
 * fresh questions at a steady rate; Chroma is stopped with SIGSTOP for `--freeze` seconds and then
 * continued. Prints, per kind of message and per phase (before / frozen / after), how many replies
 * arrived and their latency, and how long /healthz took while frozen.
 *
 *   npm run bench:stall -- [--connections 10] [--before 5] [--freeze 25] [--after 10] [--dist]
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { projectRoot } from '../src/config/load.ts';
import { startChromaServer } from '../src/knowledge/chroma-launcher.ts';
import { buildDist, percentile, startBot } from './load/harness.ts';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10' },
    before: { type: 'string', default: '5' },
    freeze: { type: 'string', default: '25' },
    after: { type: 'string', default: '10' },
    dist: { type: 'boolean', default: false },
  },
});
const seconds = (name: 'before' | 'freeze' | 'after') => Number(args[name]);

type Kind = 'greeting' | 'cached' | 'fresh';
const cachedQuestions = [
  'How many days after delivery can I return something?',
  'Do you ship to Canada?',
  'What is the warranty on tents?',
];
const greetings = ['hello there!', 'hi', 'thanks a lot!'];

const dataDir = path.join(projectRoot, '.data', 'stall-bench');
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true });
const chroma = await startChromaServer({
  dataDir: path.join(dataDir, 'chroma'),
  runtimeCacheDir: path.join(projectRoot, '.cache'),
  logFile: path.join(dataDir, 'chroma.log'),
});
if (args.dist) buildDist();
const bot = await startBot(
  {
    CHROMA_URL: chroma.url,
    DATA_DIR: dataDir,
    KB_COLLECTION: 'stall-bench',
    LLM_PROVIDER: 'offline',
    EMBEDDINGS_PROVIDER: 'offline',
    LOG_LEVEL: 'warn',
    // The bench is one synthetic crowd: its limits are not what is measured.
    LIMITS_ENABLED: 'false',
  },
  args.dist ? 'dist' : 'tsx',
);

const ask = (text: string, conversationId: string) =>
  fetch(new URL('/v1/messages', bot.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ conversationId, userId: 'warm-up', text }),
  }).then((response) => response.text());
for (const question of cachedQuestions) await ask(question, `warm-${question.length}`);

interface Sample {
  kind: Kind;
  sentAt: number;
  ms: number;
  handedOver: boolean;
}
const samples: Sample[] = [];
const health: { at: number; ms: number; status: number }[] = [];
let sent = 0;
const t0 = performance.now();
const freezeAt = seconds('before') * 1000;
const thawAt = freezeAt + seconds('freeze') * 1000;

const pollHealth = setInterval(async () => {
  const at = performance.now() - t0;
  const started = performance.now();
  const status = await fetch(new URL('/healthz', bot.url), { signal: AbortSignal.timeout(30_000) }).then(
    (response) => response.status,
    () => 0,
  );
  health.push({ at, ms: performance.now() - started, status });
}, 1_000);
const freezeTimer = setTimeout(() => process.kill(-chroma.pid, 'SIGSTOP'), freezeAt);
const thawTimer = setTimeout(() => process.kill(-chroma.pid, 'SIGCONT'), thawAt);

await autocannon({
  url: bot.url,
  connections: Number(args.connections),
  duration: seconds('before') + seconds('freeze') + seconds('after'),
  timeout: 120,
  requests: [
    {
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request, context) => {
        const n = sent++;
        const kind: Kind = (['greeting', 'cached', 'fresh'] as const)[n % 3] as Kind;
        const text =
          kind === 'greeting'
            ? (greetings[n % greetings.length] as string)
            : kind === 'cached'
              ? (cachedQuestions[n % cachedQuestions.length] as string)
              : `How do I clean my tent number ${n}?`;
        Object.assign(context, { kind, sentAt: performance.now() - t0 });
        return {
          ...request,
          body: JSON.stringify({ conversationId: `stall-${n}`, userId: `user-${n}`, text }),
        };
      },
      onResponse: (_status, body, context) => {
        const { kind, sentAt } = context as { kind: Kind; sentAt: number };
        samples.push({
          kind,
          sentAt,
          ms: performance.now() - t0 - sentAt,
          handedOver: body.includes('"knowledge_unavailable"'),
        });
      },
    },
  ],
});
clearInterval(pollHealth);
clearTimeout(freezeTimer);
clearTimeout(thawTimer);
process.kill(-chroma.pid, 'SIGCONT');

const phaseOf = (at: number) => (at < freezeAt ? 'before' : at < thawAt ? 'frozen' : 'after');
const rows: string[][] = [];
for (const phase of ['before', 'frozen', 'after']) {
  for (const kind of ['greeting', 'cached', 'fresh'] as const) {
    const picked = samples.filter((sample) => sample.kind === kind && phaseOf(sample.sentAt) === phase);
    const times = picked.map((sample) => sample.ms);
    rows.push([
      phase,
      kind,
      String(picked.length),
      String(picked.filter((sample) => sample.handedOver).length),
      times.length ? (percentile(times, 50) / 1000).toFixed(2) : '-',
      times.length ? (percentile(times, 95) / 1000).toFixed(2) : '-',
      times.length ? (Math.max(...times) / 1000).toFixed(2) : '-',
    ]);
  }
}
const frozenHealth = health.filter((probe) => phaseOf(probe.at) === 'frozen').map((probe) => probe.ms);
console.log(
  `\nChroma frozen for ${seconds('freeze')} s at ${args.connections} connections (${samples.length} replies):\n`,
);
console.log('| phase | message | replies | handed over | p50 s | p95 s | max s |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
if (frozenHealth.length)
  console.log(
    `\n/healthz while frozen: ${frozenHealth.length} probes, p95 ${(percentile(frozenHealth, 95) / 1000).toFixed(2)} s, statuses ${[...new Set(health.filter((probe) => phaseOf(probe.at) === 'frozen').map((probe) => probe.status))].join(', ')}`,
  );
await bot.stop();
await chroma.stop();
rmSync(dataDir, { recursive: true, force: true });
