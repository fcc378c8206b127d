import type { KnowledgeStore } from '../knowledge-store.ts';
import type { LexicalEngine, LexicalRebuildOutcome } from './lexical-engine.ts';

/** Options of {@link rebuildLexicalIndex}. */
export interface RebuildLexicalIndexOptions {
  store: Pick<KnowledgeStore, 'chunkPages' | 'info' | 'count'>;
  engine: LexicalEngine;
  /** The collection's version being mirrored. */
  version: string;
  /** Chunks read from Chroma and written per step: memory stays at one page. @defaultValue 1000 */
  pageSize?: number;
  /** Stops the rebuild after the current page (shutting down); nothing is recorded then. */
  signal?: AbortSignal;
}

/**
 * Rebuilds the lexical index from the Chroma collection, a page at a time, and records `version`
 * only if the collection still has that version and as many chunks as were indexed (another
 * process may have ingested meanwhile: then the next check rebuilds again).
 */
export function rebuildLexicalIndex(options: RebuildLexicalIndexOptions): Promise<LexicalRebuildOutcome> {
  const { store, engine, version, signal } = options;
  async function* pages() {
    for await (const page of store.chunkPages(options.pageSize ?? 1000)) {
      if (signal?.aborted) return;
      yield page;
    }
  }
  return engine.rebuild({
    version,
    analyzer: engine.analyzer.id,
    pages: pages(),
    confirm: async (chunks) => {
      if (signal?.aborted) return false;
      const [info, count] = await Promise.all([store.info(), store.count()]);
      return info.version === version && count === chunks;
    },
  });
}
