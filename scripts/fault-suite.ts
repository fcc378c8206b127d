/**
 * `npm run faults [-- --messages 8] [-- --only discord]`: the fault suite. The whole bot against
 * the local stand-ins of Slack, Discord and OpenAI, with an embedded Chroma; each failure shape in
 * turn under light load; prints, per shape, how many customer messages were answered, answered in
 * a degraded mode, handed off, lost or doubled. Exits 1 when any message was lost or doubled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  type FaultRow,
  faultCases,
  formatFaultTable,
  runFaultCase,
  startFaultWorld,
} from '../test/support/fault-suite.ts';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '8' }, only: { type: 'string' } },
});
const messages = Number(values.messages);
const dataDir = mkdtempSync(path.join(tmpdir(), 'fault-suite-'));
const world = await startFaultWorld({
  dataDir,
  ...(process.env.CHROMA_URL ? { chromaUrl: process.env.CHROMA_URL } : {}),
});
const rows: FaultRow[] = [];
try {
  for (const fault of faultCases()) {
    if (values.only && fault.component !== values.only) continue;
    const row = await runFaultCase(world, fault, { messages });
    rows.push(row);
    process.stderr.write(
      `${row.component}: ${row.fault} via ${row.via}: ${row.lost} lost, ${row.doubled} doubled\n`,
    );
  }
} finally {
  await world.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.stdout.write(`${formatFaultTable(rows)}\n`);
const broken = rows.filter((row) => row.lost > 0 || row.doubled > 0);
process.exitCode = broken.length > 0 ? 1 : 0;
