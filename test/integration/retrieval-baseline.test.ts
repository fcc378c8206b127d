import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ChromaClient } from 'chromadb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/config/load.ts';

const run = promisify(execFile);
const chromaUrl = inject('chromaUrl');
const workDir = mkdtempSync(path.join(tmpdir(), 'retrieval-baseline-it-'));
const fixtures = path.join(projectRoot, 'test', 'fixtures', 'retrieval-baseline');
const collections: string[] = [];

interface Figures {
  recallAtK: number;
  hitRateAtK: number;
  mrr: number;
}

async function kb(collection: string, ...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'scripts/kb.ts', ...args], {
    cwd: projectRoot,
    env: {
      ...process.env,
      CHROMA_URL: chromaUrl,
      KB_COLLECTION: collection,
      DATA_DIR: workDir,
      LOG_LEVEL: 'warn',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** Ingests a slice and evaluates it with the bot and with plain BM25, through the kb command. */
async function evaluateSlice(
  name: string,
): Promise<Figures & { queries: number; baseline: Figures & { method: string } }> {
  const collection = `it-baseline-${name}-${process.pid}`;
  collections.push(collection);
  await kb(collection, 'ingest', path.join(fixtures, `${name}-passages.jsonl`), '--json');
  const { stdout } = await kb(
    collection,
    'eval',
    path.join(fixtures, `${name}-queries.jsonl`),
    '--baseline',
    '--json',
  );
  return JSON.parse(stdout);
}

afterAll(async () => {
  const client = new ChromaClient({
    host: new URL(chromaUrl).hostname,
    port: Number(new URL(chromaUrl).port),
  });
  for (const name of collections) await client.deleteCollection({ name }).catch(() => undefined);
  rmSync(workDir, { recursive: true, force: true });
});

describe('kb eval --baseline on slices of the dev sets, through a real Chroma', () => {
  it('prints plain BM25 beside the bot, and the bot beats it on help-page dialogue turns', async () => {
    const report = await evaluateSlice('doc2dial');
    expect(report.queries).toBe(300);
    expect(report.baseline.method).toMatch(/^plain BM25 \(k1 1\.2, b 0\.75/);
    // Plain BM25 over the ingested documents is deterministic: 186 of 300 found in the top 3.
    expect(report.baseline.hitRateAtK).toBe(0.62);
    expect(report.hitRateAtK).toBeGreaterThanOrEqual(report.baseline.hitRateAtK + 0.04);
    expect(report.recallAtK).toBeGreaterThanOrEqual(report.baseline.recallAtK + 0.04);
    expect(report.mrr).toBeGreaterThanOrEqual(report.baseline.mrr + 0.04);
  });

  it('beats it on device-manual how-to questions', async () => {
    const report = await evaluateSlice('samsung');
    expect(report.queries).toBe(250);
    expect(report.baseline.hitRateAtK).toBe(0.848);
    expect(report.hitRateAtK).toBeGreaterThan(report.baseline.hitRateAtK);
    expect(report.mrr).toBeGreaterThanOrEqual(report.baseline.mrr + 0.02);
  });
});
