import path from 'node:path';
import pg from 'pg';
import type { SupportBot } from '../../src/app.ts';
import { projectRoot } from '../../src/config/load.ts';
import { syncKnowledgeSource } from '../../src/knowledge/sync-source.ts';
import type { LoggerLike } from '../../src/observability/logger-like.ts';

/** Polls `probe` until it returns something other than `undefined` or `false`, and returns that. */
export async function until<T>(
  probe: () => T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One line a {@link recordingLogger} kept. */
export interface RecordedLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps what it is told, so tests can read the operator's view. */
export function recordingLogger(): { logger: LoggerLike; lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  const write = (level: string) => (fields: object | string, message?: string) => {
    lines.push(
      typeof fields === 'string'
        ? { level, fields: {}, message: fields }
        : { level, fields: fields as Record<string, unknown>, message: message ?? '' },
    );
  };
  const logger: LoggerLike = {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
  return { logger, lines };
}

/** The answer the agent gives `question` now (from the answer cache when it was just asked). */
export async function expectedAnswer(core: SupportBot, question: string): Promise<string> {
  let expected = '';
  for await (const event of core.agent.handle({
    platform: 'check',
    channelId: 'x',
    threadId: `check-${Math.random()}`,
    messageId: 'm',
    userId: 'checker',
    text: question,
  })) {
    if (event.type === 'answer-end') expected = event.text;
  }
  return expected;
}

/** Ingests the demo knowledge base (config/knowledge) into the core's collection. */
export async function ingestDemoKnowledge(core: SupportBot): Promise<void> {
  await syncKnowledgeSource({
    knowledgeBase: core.knowledgeBase,
    source: path.join(projectRoot, 'config', 'knowledge'),
    chunkTokens: 200,
    batchSize: 64,
  });
}

/** Drops the core's collection and closes it: what a test that made its own collection leaves. */
export async function closeCore(core: SupportBot | undefined): Promise<void> {
  if (!core) return;
  await (await core.knowledgeBase.store()).drop().catch(() => undefined);
  await core.close();
}

/** Drops one PostgreSQL schema a test run created (never anything else), with what it holds. */
export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
