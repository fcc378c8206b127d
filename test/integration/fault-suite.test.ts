import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type FaultRow,
  type FaultWorld,
  faultCases,
  formatFaultTable,
  runFaultCase,
  startFaultWorld,
} from '../support/fault-suite.ts';

/**
 * Each failure shape of Slack, Discord and the model in turn, under light load, through the real
 * SDKs against the fakes: every customer message gets exactly one answer or hand-off. The table
 * is printed for the record (`npm run faults` prints it with more messages per shape).
 */
describe('fault suite: every message answered or handed off once, whatever fails', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'fault-suite-it-'));
  let world: FaultWorld;
  const rows: FaultRow[] = [];

  beforeAll(async () => {
    world = await startFaultWorld({ chromaUrl: inject('chromaUrl'), dataDir });
  }, 180_000);

  afterAll(async () => {
    if (rows.length > 0) console.log(`\n${formatFaultTable(rows)}\n`);
    await world?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const fault of faultCases()) {
    it(`${fault.component}: ${fault.fault} (via ${fault.via})`, async () => {
      const row = await runFaultCase(world, fault, { messages: 3 });
      rows.push(row);
      expect(row.sent).toBe(3);
      expect({ lost: row.lost, doubled: row.doubled }).toEqual({ lost: 0, doubled: 0 });
      expect(row.answered + row.degraded + row.handedOff).toBe(row.sent);
      expect(row.errors).toBe(0);
      // The faults are real: the baseline answers completely, the model's faults show.
      if (fault.fault.startsWith('none')) expect(row.answered).toBe(row.sent);
    }, 120_000);
  }
});
