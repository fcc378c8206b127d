import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startChromaServer } from '../../src/knowledge/chroma-launcher.ts';
import { dropSchema } from './helpers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the Chroma server the integration tests share. */
    chromaUrl: string;
  }
}

const repositoryRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * Provides `chromaUrl` to the integration tests: `CHROMA_URL` when set, otherwise one real Chroma
 * server started for the whole run in a fresh temporary folder and stopped (process group killed)
 * in teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dropSchema = isolatePostgres();
  const configuredUrl = process.env.CHROMA_URL;
  if (configuredUrl) {
    project.provide('chromaUrl', configuredUrl);
    return dropSchema;
  }

  const folder = await mkdtemp(join(tmpdir(), 'support-bot-chroma-'));
  // On failure the folder is kept: it holds the log the error points at.
  const server = await startChromaServer({
    dataDir: join(folder, 'chroma'),
    runtimeCacheDir: join(repositoryRoot, '.cache'),
    logFile: join(folder, 'chroma.log'),
  });
  project.provide('chromaUrl', server.url);
  return async () => {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
    await dropSchema();
  };
}

/**
 * With DATABASE_URL set, every bot and `kb` command a test starts would put its lexical index in
 * the `supportbot` schema, which is not the tests' own. The run gets a schema of its own instead
 * (inherited by the test workers and what they spawn; tests that name one keep theirs), dropped at
 * the end.
 */
function isolatePostgres(): () => Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url || process.env.KB_POSTGRES_SCHEMA) return async () => {};
  const schema = `it_run_${process.pid}`;
  process.env.KB_POSTGRES_SCHEMA = schema;
  return async () => {
    // PostgreSQL already gone: nothing of ours is left to drop there.
    await dropSchema(url, schema).catch(() => undefined);
  };
}
