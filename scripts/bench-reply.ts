/**
 * The progressive reply engine, measured: `npm run bench:reply`.
 * 1. 50 concurrent 1,500-character answers into one Slack workspace and one Discord channel, on
 *    simulated time: budget violations, exact final texts, first visible text and update interval.
 * 2. The engine's own cost: CPU time per 1,000 deltas (transport calls are instant).
 */
import { ReplyEngine } from '../src/reply/progressive-reply.ts';
import { FakeReplyTransport, type FakeTarget } from '../test/support/fake-reply-transport.ts';
import { runManyAnswers, sampleAnswer } from '../test/support/reply-scenario.ts';
import { SimulatedClock } from '../test/support/simulated-clock.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

process.stdout.write('## 50 concurrent answers of 1,500 characters (simulated time)\n\n');
process.stdout.write(
  '| platform | channels | budget violations | exact final texts | platform calls | first visible p50 / p95 | update interval p50 / p95 | complete p50 / p95 |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n',
);
for (const [platform, channels] of [
  ['slack', 1],
  ['slack', 10],
  ['discord', 1],
] as const) {
  const report = await runManyAnswers({ platform, answers: 50, channels });
  process.stdout.write(
    `| ${platform} | ${channels} | ${report.violations.length} | ${report.exact}/50 | ${report.calls} | ` +
      `${seconds(report.firstVisibleMs.p50)} / ${seconds(report.firstVisibleMs.p95)} | ` +
      `${seconds(report.updateIntervalMs.p50)} / ${seconds(report.updateIntervalMs.p95)} | ` +
      `${seconds(report.completeMs.p50)} / ${seconds(report.completeMs.p95)} |\n`,
  );
}

async function cpuPerThousandDeltas(deltas: number): Promise<number> {
  const clock = new SimulatedClock();
  const transport = new FakeReplyTransport({ clock, platform: 'slack' });
  const engine = new ReplyEngine<FakeTarget>({ transport, clock, editIntervalMs: 1_000 });
  const text = sampleAnswer(0, deltas * 5);
  const reply = engine.open({ workspace: 'T', channel: 'C' });
  const before = process.cpuUsage();
  for (let start = 0; start < text.length; start += 5) {
    reply.append(text.slice(start, start + 5));
    if (start % 500 === 0) await clock.run(() => false, clock.now() + 1_000);
  }
  const done = reply.finish();
  await clock.run(() => clock.pendingTimers === 0);
  await done;
  const used = process.cpuUsage(before);
  return ((used.user + used.system) / 1000 / deltas) * 1000;
}

await cpuPerThousandDeltas(1_000); // warm-up
const runs = [];
for (let run = 0; run < 5; run++) runs.push(await cpuPerThousandDeltas(1_000));
runs.sort((left, right) => left - right);
process.stdout.write(
  `\n## Engine cost\n\nCPU time per 1,000 deltas (5 characters each, one reply, Slack rendering): median ${runs[2]?.toFixed(1)} ms ` +
    `(min ${runs[0]?.toFixed(1)}, max ${runs[4]?.toFixed(1)}) — includes the simulated clock's bookkeeping.\n`,
);
