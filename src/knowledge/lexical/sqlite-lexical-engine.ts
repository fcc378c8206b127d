import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { KnowledgeChunk } from '../types.ts';
import {
  defaultFieldWeights,
  type FieldWeights,
  type LexicalAnalyzer,
  type LexicalEngine,
  type LexicalHit,
  type LexicalIndexState,
  type LexicalRebuildInput,
  type LexicalRebuildOutcome,
  type SimilarTerm,
} from './lexical-engine.ts';
import {
  analyzeChunk,
  type ChunkRow,
  defaultMaxPostings,
  isUsableTerm,
  queryTerms,
  selectQueryTerms,
  toLexicalHit,
  withinEdits,
} from './lexical-terms.ts';

/** Options of {@link SqliteLexicalEngine}. */
export interface SqliteLexicalEngineOptions {
  /** The index file, e.g. `DATA_DIR/lexical/<collection>.sqlite`; its folder is created. */
  file: string;
  analyzer: LexicalAnalyzer;
  /** Field weights passed to `bm25()`. @defaultValue title 2, headings 1, body 1 */
  weights?: FieldWeights;
  /** Chunks scored per query at most (see {@link selectQueryTerms}). @defaultValue 25_000 */
  maxPostings?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

// Everything but whitespace (and the two quote characters, which the analysis never leaves in a
// term) is part of a term: the terms arrive pre-analysed, so the tokenizer must not re-split them.
const tokenCharacters = '!#$%&()*+,-./:;<=>?@[\\]^_{|}~`';

const schema = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL,
    title TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT,
    chunk_index INTEGER NOT NULL
  );
  CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(
    title, headings, body,
    content = '', contentless_delete = 1,
    tokenize = "ascii tokenchars '${tokenCharacters}'"
  );
  CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocabulary USING fts5vocab(chunk_terms, 'row');
  CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, documents INTEGER NOT NULL) WITHOUT ROWID;
  CREATE VIRTUAL TABLE IF NOT EXISTS term_trigrams USING fts5(term, tokenize = 'trigram');
`;

/** Candidates read from the trigram index per {@link SqliteLexicalEngine.similarTerms} call. */
const similarCandidates = 500;

interface Lease {
  owner: string;
  until: number;
}

/**
 * The lexical index in one SQLite file per collection: chunk fields in a plain table keyed by
 * chunk id, their analysed terms in a contentless FTS5 table (three columns: title, headings,
 * body) ranked with `bm25()` and field weights, the corpus's vocabulary through `fts5vocab`, and a
 * trigram FTS5 index over that vocabulary for typo candidates. WAL mode, so any number of bot
 * processes read while one writes.
 *
 * A file that turns out to be corrupt is moved aside (`<file>.corrupt-<time>`) and a new, empty one
 * is started; a file deleted under a running process is noticed at the next {@link state}. Either
 * way the index then reads as never built, and the retriever rebuilds it from Chroma.
 *
 * @see https://www.sqlite.org/fts5.html
 */
export class SqliteLexicalEngine implements LexicalEngine {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly analyzer: LexicalAnalyzer;
  readonly #file: string;
  readonly #weights: Required<FieldWeights>;
  readonly #now: () => number;
  readonly #maxPostings: number;
  #database: Database.Database;
  #statements: ReturnType<typeof prepare>;
  #problem: string | undefined;

  constructor(options: SqliteLexicalEngineOptions) {
    this.#file = options.file;
    this.location = options.file;
    this.analyzer = options.analyzer;
    this.#weights = { ...defaultFieldWeights, ...options.weights };
    this.#now = options.now ?? Date.now;
    this.#maxPostings = options.maxPostings ?? defaultMaxPostings;
    mkdirSync(path.dirname(this.#file), { recursive: true });
    const missing = !existsSync(this.#file);
    [this.#database, this.#statements] = this.#openOrRecover();
    if (missing && this.#problem === undefined) this.#problem = `the index file ${this.#file} did not exist`;
  }

  async state(): Promise<LexicalIndexState> {
    if (!existsSync(this.#file)) {
      this.#reopen(`the index file ${this.#file} was deleted`);
    }
    return this.#guard(() => {
      const meta = this.#readMeta();
      const lease = meta.lease ? (JSON.parse(meta.lease) as Lease) : undefined;
      const state: LexicalIndexState = {
        version: meta.version ?? '',
        analyzer: meta.analyzer ?? '',
        chunks: (this.#statements.countChunks.get() as { count: number }).count,
      };
      if (lease && lease.until > this.#now()) state.rebuildingUntil = lease.until;
      if (this.#problem) state.problem = this.#problem;
      return state;
    });
  }

  async upsert(chunks: readonly KnowledgeChunk[]): Promise<void> {
    this.#guard(() =>
      this.#database.transaction(() => {
        this.#statements.deleteMeta.run('lease');
        this.#writeChunks(chunks);
      })(),
    );
  }

  async delete(ids: readonly string[]): Promise<void> {
    this.#guard(() =>
      this.#database.transaction(() => {
        this.#statements.deleteMeta.run('lease');
        for (const id of ids) this.#deleteChunk(id);
      })(),
    );
  }

  async markVersion(
    version: string,
    analyzer: string,
    options: { ifVersion?: string } = {},
  ): Promise<boolean> {
    return this.#guard(() =>
      this.#database
        .transaction(() => {
          this.#statements.deleteMeta.run('lease');
          if (options.ifVersion !== undefined && (this.#readMeta().version ?? '') !== options.ifVersion)
            return false;
          this.#statements.setMeta.run('version', version);
          this.#statements.setMeta.run('analyzer', analyzer);
          this.#problem = undefined;
          return true;
        })
        .immediate(),
    );
  }

  async clear(): Promise<void> {
    this.#guard(() =>
      this.#database.transaction(() => {
        this.#statements.deleteMeta.run('lease');
        this.#clearContents();
      })(),
    );
  }

  async rebuild(input: LexicalRebuildInput): Promise<LexicalRebuildOutcome> {
    const owner = input.owner ?? randomUUID();
    const leaseMs = input.leaseMs ?? 60_000;
    const holds = () => {
      const lease = this.#readMeta().lease;
      return lease !== undefined && (JSON.parse(lease) as Lease).owner === owner;
    };
    const renew = () =>
      this.#statements.setMeta.run('lease', JSON.stringify({ owner, until: this.#now() + leaseMs }));
    const acquired = this.#guard(() =>
      this.#database
        .transaction(() => {
          const lease = this.#readMeta().lease;
          const current = lease ? (JSON.parse(lease) as Lease) : undefined;
          if (current && current.owner !== owner && current.until > this.#now()) return false;
          renew();
          this.#clearContents();
          return true;
        })
        .immediate(),
    );
    if (!acquired) return 'busy';
    const release = () =>
      this.#guard(() =>
        this.#database.transaction(() => {
          if (holds()) this.#statements.deleteMeta.run('lease');
        })(),
      );
    try {
      for await (const page of input.pages) {
        const kept = this.#guard(() =>
          this.#database
            .transaction(() => {
              if (!holds()) return false;
              this.#writeChunks(page);
              renew();
              return true;
            })
            .immediate(),
        );
        if (!kept) return 'superseded';
      }
      const chunks = (this.#statements.countChunks.get() as { count: number }).count;
      if (input.confirm && !(await input.confirm(chunks))) {
        release();
        return 'unconfirmed';
      }
      const recorded = this.#guard(() =>
        this.#database
          .transaction(() => {
            if (!holds()) return false;
            this.#statements.setMeta.run('version', input.version);
            this.#statements.setMeta.run('analyzer', input.analyzer);
            this.#statements.deleteMeta.run('lease');
            return true;
          })
          .immediate(),
      );
      if (recorded) this.#problem = undefined;
      return recorded ? 'rebuilt' : 'superseded';
    } catch (error) {
      release();
      throw error;
    }
  }

  async search(terms: readonly string[], k: number): Promise<LexicalHit[]> {
    const distinct = queryTerms(terms);
    if (distinct.length === 0 || k <= 0) return [];
    const { title, headings, body } = this.#weights;
    return this.#guard(() => {
      const total = (this.#statements.countChunks.get() as { count: number }).count;
      const frequencies = new Map<string, number>();
      for (const term of distinct)
        frequencies.set(
          term,
          (this.#statements.documentFrequency.get(term) as { doc: number } | undefined)?.doc ?? 0,
        );
      const query = matchExpression(selectQueryTerms(frequencies, total, this.#maxPostings));
      if (query === '') return [];
      return (this.#statements.search.all({ query, k, title, headings, body }) as ChunkRow[]).map(
        toLexicalHit,
      );
    });
  }

  async documentFrequencies(terms: readonly string[]): Promise<Map<string, number>> {
    return this.#guard(() => {
      const frequencies = new Map<string, number>();
      for (const term of terms) {
        if (frequencies.has(term)) continue;
        const row = isUsableTerm(term)
          ? (this.#statements.documentFrequency.get(term) as { doc: number } | undefined)
          : undefined;
        frequencies.set(term, row?.doc ?? 0);
      }
      return frequencies;
    });
  }

  async similarTerms(
    term: string,
    options: { maxEdits?: number; limit?: number } = {},
  ): Promise<SimilarTerm[]> {
    const maxEdits = options.maxEdits ?? 1;
    const limit = options.limit ?? 10;
    const padded = [...`^${term}$`];
    // Each edit breaks at most three trigrams of the padded term: shorter terms could share none
    // with a real neighbour, so they are not guessed at.
    if (!isUsableTerm(term) || padded.length - 2 < 3 * maxEdits + 1 || limit <= 0) return [];
    const trigrams = new Set<string>();
    for (let start = 0; start + 3 <= padded.length; start++)
      trigrams.add(padded.slice(start, start + 3).join(''));
    const query = matchExpression([...trigrams]);
    return this.#guard(() => {
      const found: SimilarTerm[] = [];
      for (const row of this.#statements.trigramCandidates.all(query, similarCandidates) as {
        term: string;
      }[]) {
        const candidate = row.term.slice(1, -1);
        if (candidate === term || !withinEdits(term, candidate, maxEdits)) continue;
        const documents =
          (this.#statements.documentFrequency.get(candidate) as { doc: number } | undefined)?.doc ?? 0;
        if (documents > 0) found.push({ term: candidate, documents });
      }
      return found
        .sort((left, right) => right.documents - left.documents || left.term.localeCompare(right.term))
        .slice(0, limit);
    });
  }

  hasTermSync(term: string): boolean {
    if (!isUsableTerm(term)) return false;
    return this.#guard(
      () => ((this.#statements.documentFrequency.get(term) as { doc: number } | undefined)?.doc ?? 0) > 0,
    );
  }

  async close(): Promise<void> {
    if (this.#database.open) this.#database.close();
  }

  #writeChunks(chunks: readonly KnowledgeChunk[]): void {
    for (const chunk of chunks) {
      this.#deleteChunk(chunk.id);
      const terms = analyzeChunk(chunk, this.analyzer);
      const { lastInsertRowid } = this.#statements.insertChunk.run({
        id: chunk.id,
        documentId: chunk.documentId,
        title: chunk.title,
        headingPath: chunk.headingPath,
        text: chunk.text,
        url: chunk.url ?? null,
        index: chunk.index,
      });
      this.#statements.insertTerms.run(
        lastInsertRowid,
        terms.title.join(' '),
        terms.headings.join(' '),
        terms.body.join(' '),
      );
      for (const term of new Set([...terms.title, ...terms.headings, ...terms.body])) {
        if (this.#statements.insertTerm.run(term).changes > 0)
          this.#statements.insertTrigrams.run(`^${term}$`);
        this.#statements.countTerm.run(1, term);
      }
    }
  }

  #deleteChunk(id: string): void {
    const existing = this.#statements.readRow.get(id) as
      | { row: number; title: string; heading_path: string; text: string }
      | undefined;
    if (!existing) return;
    // The FTS5 table is contentless: the terms to uncount are those of the stored fields.
    const terms = analyzeChunk(
      {
        id,
        documentId: '',
        title: existing.title,
        headingPath: existing.heading_path,
        text: existing.text,
        index: 0,
      },
      this.analyzer,
    );
    for (const term of new Set([...terms.title, ...terms.headings, ...terms.body]))
      this.#statements.countTerm.run(-1, term);
    this.#statements.deleteTerms.run(existing.row);
    this.#statements.deleteRow.run(existing.row);
  }

  #clearContents(): void {
    this.#database.exec(`
      DELETE FROM chunks;
      INSERT INTO chunk_terms(chunk_terms) VALUES ('delete-all');
      DELETE FROM terms;
      DELETE FROM term_trigrams;
    `);
    this.#statements.setMeta.run('version', '');
  }

  #readMeta(): Record<string, string> {
    const meta: Record<string, string> = {};
    for (const { key, value } of this.#statements.readMeta.all() as { key: string; value: string }[])
      meta[key] = value;
    return meta;
  }

  /** Runs `operation`; on a corrupt file, moves it aside, starts a new one and runs it once more. */
  #guard<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      if (!isCorruption(error)) throw error;
      this.#recover(error);
      return operation();
    }
  }

  #openOrRecover(): [Database.Database, ReturnType<typeof prepare>] {
    try {
      return open(this.#file);
    } catch (error) {
      if (!isCorruption(error)) throw error;
      this.#moveAside(error);
      return open(this.#file);
    }
  }

  #recover(error: unknown): void {
    if (this.#database.open) this.#database.close();
    this.#moveAside(error);
    [this.#database, this.#statements] = open(this.#file);
  }

  #moveAside(error: unknown): void {
    const aside = `${this.#file}.corrupt-${new Date(this.#now()).toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(this.#file + suffix)) renameSync(this.#file + suffix, aside + suffix);
    }
    const reason = error instanceof Error ? error.message : String(error);
    this.#problem = `the index file ${this.#file} was corrupt (${reason}); it was moved aside to ${aside}`;
  }

  #reopen(problem: string): void {
    if (this.#database.open) this.#database.close();
    [this.#database, this.#statements] = this.#openOrRecover();
    this.#problem ??= problem;
  }
}

function open(file: string): [Database.Database, ReturnType<typeof prepare>] {
  const database = new Database(file);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    // Another process may be writing (an ingest, a rebuild): wait for its transaction, not fail.
    database.pragma('busy_timeout = 10000');
    database.exec(schema);
    return [database, prepare(database)];
  } catch (error) {
    database.close();
    throw error;
  }
}

function prepare(database: Database.Database) {
  return {
    readMeta: database.prepare('SELECT key, value FROM meta'),
    setMeta: database.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    deleteMeta: database.prepare('DELETE FROM meta WHERE key = ?'),
    countChunks: database.prepare('SELECT count(*) AS count FROM chunks'),
    deleteRow: database.prepare('DELETE FROM chunks WHERE row = ?'),
    deleteTerms: database.prepare('DELETE FROM chunk_terms WHERE rowid = ?'),
    insertChunk: database.prepare(
      `INSERT INTO chunks (id, document_id, title, heading_path, text, url, chunk_index)
       VALUES (@id, @documentId, @title, @headingPath, @text, @url, @index)`,
    ),
    insertTerms: database.prepare(
      'INSERT INTO chunk_terms (rowid, title, headings, body) VALUES (?, ?, ?, ?)',
    ),
    insertTerm: database.prepare('INSERT OR IGNORE INTO terms (term, documents) VALUES (?, 0)'),
    countTerm: database.prepare('UPDATE terms SET documents = documents + ? WHERE term = ?'),
    readRow: database.prepare('SELECT row, title, heading_path, text FROM chunks WHERE id = ?'),
    insertTrigrams: database.prepare('INSERT INTO term_trigrams (term) VALUES (?)'),
    documentFrequency: database.prepare('SELECT documents AS doc FROM terms WHERE term = ?'),
    trigramCandidates: database.prepare(
      'SELECT term FROM term_trigrams WHERE term_trigrams MATCH ? ORDER BY rank LIMIT ?',
    ),
    // The best k rows are chosen inside FTS5 first, so only they are joined with their text.
    search: database.prepare(`
      WITH best AS (
        SELECT rowid, bm25(chunk_terms, @title, @headings, @body) AS rank
        FROM chunk_terms WHERE chunk_terms MATCH @query
        ORDER BY rank LIMIT @k
      )
      SELECT c.id, c.document_id, c.title, c.heading_path, c.text, c.url, c.chunk_index, -best.rank AS score
      FROM best JOIN chunks c ON c.row = best.rowid
      ORDER BY best.rank`),
  };
}

/**
 * An FTS5 query matching any of `terms`: each one a string in double quotes (a quote inside
 * doubled), so `"`, `*`, `NEAR(`, `-`, `:`, `AND`, `^` in a term are matched as text, never
 * read as query syntax.
 */
export function matchExpression(terms: readonly string[]): string {
  return terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' OR ');
}

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}
