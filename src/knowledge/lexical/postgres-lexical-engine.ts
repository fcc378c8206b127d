import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { LexicalIndexUnavailableError } from '../../errors.ts';
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
  isUsableTerm,
  maskUrl,
  queryTerms,
  selectQueryTerms,
  toLexicalHit,
  withinEdits,
} from './lexical-terms.ts';

/** Options of {@link PostgresLexicalEngine.open}. */
export interface PostgresLexicalEngineOptions {
  /** `postgres://user:password@host:port/database` (DATABASE_URL). */
  url: string;
  /** Schema holding the tables (created when missing). @defaultValue `supportbot` */
  schema?: string;
  /** The Chroma collection this index mirrors: one table (and its vocabulary) per collection. */
  collection: string;
  analyzer: LexicalAnalyzer;
  /** Field weights (A/B/C) of BM25's term frequencies. @defaultValue title 2, headings 1, body 1 */
  weights?: FieldWeights;
  /**
   * Postings scored per query at most (see `selectQueryTerms`). Lower than SQLite's: each posting
   * is a btree entry (and, until the table is vacuumed, a heap visit), dearer than FTS5's
   * compressed doclists.
   * @defaultValue 6_000
   */
  maxPostings?: number;
  /** Connections in the pool. @defaultValue 4 */
  maxConnections?: number;
  /** How long to wait for a connection at start-up. @defaultValue 5_000 */
  connectTimeoutMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

const similarCandidates = 500;

/** BM25's parameters: FTS5's `bm25()` (and Lucene's) defaults. */
const k1 = 1.2;
const b = 0.75;

/**
 * Postings written or deleted since the last VACUUM of the postings table after which the engine
 * starts another (in the background, one at a time). Until a page is vacuumed it is not marked
 * all-visible, and a search then visits the heap once per posting (~5,500 random pages for two
 * terms at 40,000 chunks, 300 ms cold) instead of reading the index alone (~90 pages); autovacuum
 * may be off or far behind a bulk ingest.
 */
const vacuumEvery = 50_000;

/** See {@link PostgresLexicalEngineOptions.maxPostings}. */
const defaultPostgresMaxPostings = 6_000;

/**
 * The lexical index in PostgreSQL, shared by every bot instance: per collection, in a configurable
 * schema, a table of the chunks (their fields, their analysed terms per field and their length in
 * terms) and a postings table with one row per (term, chunk): the term's field-weighted frequency
 * in that chunk and, denormalised, the chunk's length, under the primary key (term, id). A
 * vocabulary table with document frequencies is kept in step by every write (for typo correction,
 * the query-term budget and IDF), with a `pg_trgm` index for typo candidates when the extension
 * can be created, else a bounded prefix/suffix lookup.
 *
 * Ranking is BM25 (k1 1.2, b 0.75) computed exactly as SQLite FTS5's `bm25()` does, so both
 * engines rank alike: a term's frequency in a chunk is the sum of the field weights of its
 * occurrences (title, headings, body; counted at write time), the chunk's length is its number of
 * terms in all fields, unweighted, against the corpus average (the meta table keeps the sum), and
 * IDF is `ln((N - df + 0.5) / (df + 0.5))` from the vocabulary, floored at 1e-6 as FTS5 does.
 * Not `ts_rank`: it has no IDF (a word in every chunk counts as much as a rare one) and no
 * length normalisation against the corpus, and measurably ranks worse.
 *
 * Why postings rather than a `tsvector` under a GIN index: GIN finds the matching chunks but not
 * a term's frequency in them, so every candidate row's tsvector (~120 lexemes) had to be unnested
 * per query, which dominated the query time (p95 172 ms at 40,000 chunks). A query now reads, per
 * selected term, one contiguous range of the postings btree with everything BM25 needs (no join,
 * nothing unnested), sums per chunk, and only then reads the text of the best k chunks. The terms
 * are bound as array parameters: no customer text ever reaches query syntax.
 *
 * Everything here is derived data (rebuilt from Chroma whenever the recorded version or analyzer
 * does not match), so the tables are created idempotently and carry no migrations: a new layout
 * gets a new table name (`layout` below), and the old one is simply no longer read.
 *
 * @see https://www.sqlite.org/fts5.html#the_bm25_function
 * @see https://www.postgresql.org/docs/current/pgtrgm.html
 */
export class PostgresLexicalEngine implements LexicalEngine {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly analyzer: LexicalAnalyzer;
  readonly #pool: pg.Pool;
  readonly #tables: { chunks: string; postings: string; vocabulary: string; meta: string };
  readonly #weights: Required<FieldWeights>;
  readonly #maxPostings: number;
  readonly #now: () => number;
  /** Schema of pg_trgm when it is usable, else undefined (bounded fallback). */
  #trigramSchema: string | undefined;
  /** Postings written or deleted since the last VACUUM was started (see {@link vacuumEvery}). */
  #unvacuumed = 0;
  /** The VACUUM under way, if any. */
  #vacuuming: Promise<void> | undefined;

  private constructor(
    options: PostgresLexicalEngineOptions,
    pool: pg.Pool,
    tables: PostgresLexicalEngine['tables'],
  ) {
    this.analyzer = options.analyzer;
    this.#pool = pool;
    this.#tables = tables;
    this.location = `${maskUrl(options.url)} (${tables.chunks})`;
    this.#weights = { ...defaultFieldWeights, ...options.weights };
    this.#maxPostings = options.maxPostings ?? defaultPostgresMaxPostings;
    this.#now = options.now ?? Date.now;
  }

  /** The qualified table names (for tests and log lines). */
  get tables(): { chunks: string; postings: string; vocabulary: string; meta: string } {
    return { ...this.#tables };
  }

  /**
   * Connects, creates the schema and tables when missing (idempotent, safe from several processes
   * at once) and checks for pg_trgm.
   * @throws {@link LexicalIndexUnavailableError} when the server cannot be reached or refuses us.
   */
  static async open(options: PostgresLexicalEngineOptions): Promise<PostgresLexicalEngine> {
    const schema = options.schema ?? 'supportbot';
    const masked = maskUrl(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const base = tableBase(options.collection);
    const tables = {
      chunks: `${identifier(schema)}.${identifier(base)}`,
      postings: `${identifier(schema)}.${identifier(`${base}_postings`)}`,
      vocabulary: `${identifier(schema)}.${identifier(`${base}_vocabulary`)}`,
      meta: `${identifier(schema)}.${identifier(`${base}_meta`)}`,
    };
    const engine = new PostgresLexicalEngine(options, pool, tables);
    try {
      await engine.#createTables(schema, base);
    } catch (error) {
      await pool.end().catch(() => undefined);
      const reason = describe(error);
      throw new LexicalIndexUnavailableError(
        masked,
        `PostgreSQL at ${masked} is not usable for the lexical index (${reason}): start it or correct DATABASE_URL, ` +
          'or unset DATABASE_URL (or set KB_LEXICAL_ENGINE=sqlite) to keep the index in the data folder.',
        { cause: error },
      );
    }
    return engine;
  }

  async #createTables(schema: string, base: string): Promise<void> {
    const { chunks, postings, vocabulary, meta } = this.#tables;
    await this.#transaction(async (client) => {
      // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogs: one process at a time.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `supportbot-lexical:${schema}.${base}`,
      ]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${identifier(schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${chunks} (
        id text PRIMARY KEY,
        document_id text NOT NULL,
        title text NOT NULL,
        heading_path text NOT NULL,
        text text NOT NULL,
        url text,
        chunk_index integer NOT NULL,
        title_terms text NOT NULL,
        heading_terms text NOT NULL,
        body_terms text NOT NULL,
        length integer NOT NULL
      )`);
      // `length`: the chunk's number of terms, all fields (BM25's document length); `tf`: the
      // term's field-weighted frequency in the chunk. Ranking reads only this table, and the
      // primary key carries both (INCLUDE), so a term's postings are one btree range, readable
      // index-only once vacuumed. Deletes find a chunk's postings by its stored terms, so no
      // index on `id` is needed.
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${postings} (
          term text COLLATE "C" NOT NULL,
          id text NOT NULL,
          tf float8 NOT NULL,
          length integer NOT NULL,
          PRIMARY KEY (term, id) INCLUDE (tf, length)
        )`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${vocabulary} (term text COLLATE "C" PRIMARY KEY, documents integer NOT NULL)`,
      );
      await client.query(
        `CREATE INDEX IF NOT EXISTS ${identifier(`${base}_vocabulary_reversed`)} ON ${vocabulary} ((reverse(term)) COLLATE "C")`,
      );
      await client.query(`CREATE TABLE IF NOT EXISTS ${meta} (key text PRIMARY KEY, value text NOT NULL)`);
      await client.query(
        `INSERT INTO ${meta} (key, value) VALUES ('chunks', '0'), ('length_sum', '0') ON CONFLICT (key) DO NOTHING`,
      );
    });
    this.#trigramSchema = await this.#prepareTrigrams(base).catch(() => undefined);
  }

  /** pg_trgm's schema once it exists and the vocabulary has its index; undefined when not allowed. */
  async #prepareTrigrams(base: string): Promise<string | undefined> {
    const find = async () =>
      (
        await this.#pool.query<{ schema: string }>(
          `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
           WHERE e.extname = 'pg_trgm'`,
        )
      ).rows[0]?.schema;
    let schema = await find();
    if (!schema) {
      // Needs CREATE on the database (or a trusted extension): without it, the bounded fallback.
      await this.#pool.query('CREATE EXTENSION IF NOT EXISTS pg_trgm').catch(() => undefined);
      schema = await find();
    }
    if (!schema) return undefined;
    await this.#pool.query(
      `CREATE INDEX IF NOT EXISTS ${identifier(`${base}_vocabulary_trigrams`)} ON ${this.#tables.vocabulary}
       USING gin (term ${identifier(schema)}.gin_trgm_ops)`,
    );
    return schema;
  }

  /** Whether typo candidates come from pg_trgm (else from the bounded prefix/suffix lookup). */
  get usesTrigrams(): boolean {
    return this.#trigramSchema !== undefined;
  }

  async state(): Promise<LexicalIndexState> {
    const meta = await this.#readMeta(this.#pool);
    const lease = meta.lease ? (JSON.parse(meta.lease) as { until: number }) : undefined;
    const state: LexicalIndexState = {
      version: meta.version ?? '',
      analyzer: meta.analyzer ?? '',
      chunks: Number(meta.chunks ?? 0),
    };
    if (lease && lease.until > this.#now()) state.rebuildingUntil = lease.until;
    return state;
  }

  async upsert(chunks: readonly KnowledgeChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    await this.#transaction(async (client) => {
      await this.#revokeLease(client);
      await this.#writeChunks(client, chunks);
    });
    this.#vacuumWhenDue();
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#transaction(async (client) => {
      await this.#revokeLease(client);
      await this.#deleteChunks(client, [...new Set(ids)]);
    });
    this.#vacuumWhenDue();
  }

  async markVersion(
    version: string,
    analyzer: string,
    options: { ifVersion?: string } = {},
  ): Promise<boolean> {
    const marked = await this.#transaction(async (client) => {
      await this.#revokeLease(client);
      if (options.ifVersion !== undefined) {
        const current = await client.query<{ value: string }>(
          `SELECT value FROM ${this.#tables.meta} WHERE key = 'version' FOR UPDATE`,
        );
        if ((current.rows[0]?.value ?? '') !== options.ifVersion) return false;
      }
      await this.#setMeta(client, { version, analyzer });
      return true;
    });
    // An ingest ends here: what it wrote below the threshold is vacuumed too.
    if (marked) this.#vacuumWhenDue({ force: true });
    return marked;
  }

  async clear(): Promise<void> {
    await this.#transaction(async (client) => {
      await this.#revokeLease(client);
      await this.#clearContents(client);
    });
  }

  async rebuild(input: LexicalRebuildInput): Promise<LexicalRebuildOutcome> {
    const owner = input.owner ?? randomUUID();
    const leaseMs = input.leaseMs ?? 60_000;
    const { meta } = this.#tables;
    const renew = (client: pg.PoolClient) =>
      this.#setMeta(client, { lease: JSON.stringify({ owner, until: this.#now() + leaseMs }) });
    const holds = async (client: pg.PoolClient) => {
      const row = (
        await client.query<{ value: string }>(`SELECT value FROM ${meta} WHERE key = 'lease' FOR UPDATE`)
      ).rows[0];
      return row !== undefined && (JSON.parse(row.value) as { owner: string }).owner === owner;
    };
    const acquired = await this.#transaction(async (client) => {
      await client.query(`LOCK TABLE ${meta} IN SHARE ROW EXCLUSIVE MODE`);
      const row = (await client.query<{ value: string }>(`SELECT value FROM ${meta} WHERE key = 'lease'`))
        .rows[0];
      const current = row ? (JSON.parse(row.value) as { owner: string; until: number }) : undefined;
      if (current && current.owner !== owner && current.until > this.#now()) return false;
      await renew(client);
      await this.#clearContents(client);
      return true;
    });
    if (!acquired) return 'busy';
    const release = () =>
      this.#transaction(async (client) => {
        if (await holds(client)) await client.query(`DELETE FROM ${meta} WHERE key = 'lease'`);
      }).catch(() => undefined);
    try {
      for await (const page of input.pages) {
        const kept = await this.#transaction(async (client) => {
          if (!(await holds(client))) return false;
          await this.#writeChunks(client, page);
          await renew(client);
          return true;
        });
        if (!kept) return 'superseded';
        this.#vacuumWhenDue();
      }
      const { chunks } = await this.state();
      if (input.confirm && !(await input.confirm(chunks))) {
        await release();
        return 'unconfirmed';
      }
      const recorded = await this.#transaction(async (client) => {
        if (!(await holds(client))) return false;
        await this.#setMeta(client, { version: input.version, analyzer: input.analyzer });
        await client.query(`DELETE FROM ${meta} WHERE key = 'lease'`);
        return true;
      });
      return recorded ? 'rebuilt' : 'superseded';
    } catch (error) {
      await release();
      throw error;
    }
  }

  async search(terms: readonly string[], k: number): Promise<LexicalHit[]> {
    const distinct = queryTerms(terms);
    if (distinct.length === 0 || k <= 0) return [];
    const { chunks, postings, vocabulary, meta } = this.#tables;
    const counts = await this.#pool.query<{ term: string | null; key: string; value: number }>(
      `SELECT term, '' AS key, documents::float8 AS value FROM ${vocabulary} WHERE term = ANY($1::text[])
       UNION ALL SELECT NULL, key, value::float8 FROM ${meta} WHERE key IN ('chunks', 'length_sum')`,
      [distinct],
    );
    let total = 0;
    let lengthSum = 0;
    const frequencies = new Map<string, number>(distinct.map((term) => [term, 0]));
    for (const row of counts.rows) {
      if (row.term !== null) frequencies.set(row.term, row.value);
      else if (row.key === 'chunks') total = row.value;
      else lengthSum = row.value;
    }
    const selected = selectQueryTerms(frequencies, total, this.#maxPostings);
    if (selected.length === 0) return [];
    // FTS5's IDF, floored so that a term in more than half of the chunks still counts a little.
    const idf = selected.map((term) => {
      const documents = frequencies.get(term) ?? 0;
      return Math.max(1e-6, Math.log((total - documents + 0.5) / (documents + 0.5)));
    });
    const averageLength = total > 0 && lengthSum > 0 ? lengthSum / total : 1;
    const result = await this.#pool.query<ChunkRow>(
      // Per selected term, its range of the postings btree; summed per chunk. The best k are
      // chosen on (id, score) alone, so only they are read with their text.
      `WITH best AS (
         SELECT p.id, sum(
                  ($2::float8[])[array_position($1::text[], p.term)] * p.tf * ${k1 + 1}::float8
                  / (p.tf + ${k1}::float8 * (1 - ${b}::float8 + ${b}::float8 * p.length / $3::float8))
                ) AS score
         FROM ${postings} p
         WHERE p.term = ANY($1::text[])
         GROUP BY p.id
         ORDER BY score DESC, p.id LIMIT $4
       )
       SELECT c.id, c.document_id, c.title, c.heading_path, c.text, c.url, c.chunk_index, best.score
       FROM best JOIN ${chunks} c USING (id)
       ORDER BY best.score DESC, c.id`,
      [selected, idf, averageLength, k],
    );
    return result.rows.map(toLexicalHit);
  }

  async documentFrequencies(terms: readonly string[]): Promise<Map<string, number>> {
    const frequencies = new Map<string, number>(terms.map((term) => [term, 0]));
    const usable = [...new Set(terms.filter(isUsableTerm))];
    if (usable.length === 0) return frequencies;
    const result = await this.#pool.query<{ term: string; documents: number }>(
      `SELECT term, documents FROM ${this.#tables.vocabulary} WHERE term = ANY($1::text[])`,
      [usable],
    );
    for (const row of result.rows) frequencies.set(row.term, Math.max(0, row.documents));
    return frequencies;
  }

  async similarTerms(
    term: string,
    options: { maxEdits?: number; limit?: number } = {},
  ): Promise<SimilarTerm[]> {
    const maxEdits = options.maxEdits ?? 1;
    const limit = options.limit ?? 10;
    const length = [...term].length;
    if (!isUsableTerm(term) || length < 3 * maxEdits + 1 || limit <= 0) return [];
    const { vocabulary } = this.#tables;
    const bounds = [term, Math.max(1, length - maxEdits), length + maxEdits, similarCandidates] as const;
    const candidates = this.#trigramSchema
      ? await this.#transaction(async (client) => {
          const trigram = identifier(this.#trigramSchema as string);
          // One edit of a four-letter word leaves few trigrams in common: a low threshold, then the exact check.
          await client.query(`SET LOCAL pg_trgm.similarity_threshold = 0.1`);
          return client.query<{ term: string; documents: number }>(
            `SELECT term, documents FROM ${vocabulary}
             WHERE term OPERATOR(${trigram}.%) $1 AND documents > 0 AND length(term) BETWEEN $2 AND $3
             ORDER BY ${trigram}.similarity(term, $1) DESC LIMIT $4`,
            [...bounds],
          );
        })
      : await this.#pool.query<{ term: string; documents: number }>(
          // Without pg_trgm: words sharing the first or the last two letters (two index ranges).
          `(SELECT term, documents FROM ${vocabulary}
              WHERE term >= left($1, 2) AND term < left($1, 2) || chr(1114111)
                AND documents > 0 AND length(term) BETWEEN $2 AND $3 LIMIT $4)
           UNION
           (SELECT term, documents FROM ${vocabulary}
              WHERE reverse(term) COLLATE "C" >= left(reverse($1), 2) COLLATE "C"
                AND reverse(term) COLLATE "C" < (left(reverse($1), 2) || chr(1114111)) COLLATE "C"
                AND documents > 0 AND length(term) BETWEEN $2 AND $3 LIMIT $4)`,
          [...bounds],
        );
    return candidates.rows
      .filter((row) => row.term !== term && withinEdits(term, row.term, maxEdits))
      .map((row) => ({ term: row.term, documents: row.documents }))
      .sort((left, right) => right.documents - left.documents || left.term.localeCompare(right.term))
      .slice(0, limit);
  }

  async close(): Promise<void> {
    await this.#vacuuming;
    await this.#pool.end();
  }

  /**
   * Starts a VACUUM of the postings table once {@link vacuumEvery} postings have changed (or, with
   * `force`, once any have: at the end of an ingest), so that
   * searches read them index-only. In the background and best effort: it runs outside any
   * transaction, and a failure (no ownership of the table, say) only leaves it to autovacuum.
   */
  #vacuumWhenDue(options: { force?: boolean } = {}): void {
    if (this.#vacuuming || this.#unvacuumed === 0) return;
    if (this.#unvacuumed < vacuumEvery && !options.force) return;
    this.#unvacuumed = 0;
    this.#vacuuming = this.#pool
      .query(`VACUUM ${this.#tables.postings}`)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.#vacuuming = undefined;
      });
  }

  async #writeChunks(client: pg.PoolClient, chunks: readonly KnowledgeChunk[]): Promise<void> {
    const byId = new Map(chunks.map((chunk) => [chunk.id, chunk]));
    if (byId.size === 0) return;
    const ids = [...byId.keys()];
    await this.#deleteChunks(client, ids);
    const columns: (string | number | null)[][] = Array.from({ length: 11 }, () => []);
    const posting = {
      terms: [] as string[],
      ids: [] as string[],
      tf: [] as number[],
      lengths: [] as number[],
    };
    const documents = new Map<string, number>();
    const { title, headings, body } = this.#weights;
    let lengthSum = 0;
    for (const chunk of byId.values()) {
      const terms = analyzeChunk(chunk, this.analyzer);
      // As FTS5 counts a row's size: every term of every field, unweighted.
      const length = terms.title.length + terms.headings.length + terms.body.length;
      const values = [
        chunk.id,
        chunk.documentId,
        chunk.title,
        chunk.headingPath,
        chunk.text,
        chunk.url ?? null,
        chunk.index,
        terms.title.join(' '),
        terms.headings.join(' '),
        terms.body.join(' '),
        length,
      ];
      lengthSum += length;
      for (const [index, value] of values.entries()) columns[index]?.push(value);
      // Field-weighted term frequencies, as FTS5's bm25() weighs each column's occurrences.
      const frequencies = new Map<string, number>();
      const count = (fieldTerms: readonly string[], weight: number) => {
        for (const term of fieldTerms) frequencies.set(term, (frequencies.get(term) ?? 0) + weight);
      };
      count(terms.title, title);
      count(terms.headings, headings);
      count(terms.body, body);
      for (const [term, tf] of frequencies) {
        posting.terms.push(term);
        posting.ids.push(chunk.id);
        posting.tf.push(tf);
        posting.lengths.push(length);
        documents.set(term, (documents.get(term) ?? 0) + 1);
      }
    }
    const { chunks: table, postings, vocabulary, meta } = this.#tables;
    await client.query(
      `INSERT INTO ${table} (id, document_id, title, heading_path, text, url, chunk_index,
                             title_terms, heading_terms, body_terms, length)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[],
                            $8::text[], $9::text[], $10::text[], $11::integer[])`,
      columns,
    );
    if (posting.terms.length > 0) {
      this.#unvacuumed += posting.terms.length;
      await client.query(
        `INSERT INTO ${postings} (term, id, tf, length)
         SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::integer[])`,
        [posting.terms, posting.ids, posting.tf, posting.lengths],
      );
      // In term order, so two concurrent writers lock vocabulary rows in the same order.
      await client.query(
        `INSERT INTO ${vocabulary} (term, documents)
         SELECT term, documents FROM unnest($1::text[], $2::integer[]) AS input(term, documents)
         ORDER BY term COLLATE "C"
         ON CONFLICT (term) DO UPDATE SET documents = ${vocabulary}.documents + excluded.documents`,
        [[...documents.keys()], [...documents.values()]],
      );
    }
    await client.query(
      `UPDATE ${meta} SET value = CASE key WHEN 'chunks' THEN (value::integer + $1)::text
                                          ELSE (value::float8 + $2)::text END
       WHERE key IN ('chunks', 'length_sum')`,
      [ids.length, lengthSum],
    );
  }

  async #deleteChunks(client: pg.PoolClient, ids: readonly string[]): Promise<void> {
    const { chunks, postings, vocabulary, meta } = this.#tables;
    // A chunk's postings are found by its stored terms (through the primary key), and the
    // vocabulary is decremented by the postings actually removed.
    const result = await client.query<{ deleted: number; length: number; postings: number }>(
      `WITH removed AS (
              DELETE FROM ${chunks} WHERE id = ANY($1::text[])
              RETURNING id, length, title_terms || ' ' || heading_terms || ' ' || body_terms AS terms
            ),
            keyed AS (
              SELECT DISTINCT entry.term COLLATE "C" AS term, removed.id
              FROM removed, unnest(string_to_array(removed.terms, ' ')) AS entry(term)
              WHERE entry.term <> ''
            ),
            gone AS (
              DELETE FROM ${postings} p USING keyed WHERE p.term = keyed.term AND p.id = keyed.id
              RETURNING p.term
            ),
            counted AS (SELECT term, count(*)::integer AS documents FROM gone GROUP BY term),
            tally AS (SELECT coalesce(sum(documents), 0)::integer AS postings FROM counted),
            uncounted AS (
              UPDATE ${vocabulary} SET documents = ${vocabulary}.documents - counted.documents
              FROM counted WHERE ${vocabulary}.term = counted.term RETURNING 1
            )
       SELECT (SELECT count(*) FROM removed)::integer AS deleted,
              (SELECT coalesce(sum(length), 0) FROM removed)::float8 AS length,
              (SELECT count(*) FROM uncounted) AS terms,
              (SELECT postings FROM tally) AS postings`,
      [ids],
    );
    const deleted = result.rows[0]?.deleted ?? 0;
    this.#unvacuumed += result.rows[0]?.postings ?? 0;
    if (deleted > 0)
      await client.query(
        `UPDATE ${meta} SET value = CASE key WHEN 'chunks' THEN (value::integer - $1)::text
                                            ELSE greatest(0, value::float8 - $2)::text END
         WHERE key IN ('chunks', 'length_sum')`,
        [deleted, result.rows[0]?.length ?? 0],
      );
  }

  async #clearContents(client: pg.PoolClient): Promise<void> {
    const { chunks, postings, vocabulary } = this.#tables;
    await client.query(`TRUNCATE ${chunks}, ${postings}, ${vocabulary}`);
    await this.#setMeta(client, { version: '', chunks: '0', length_sum: '0' });
  }

  async #revokeLease(client: pg.PoolClient): Promise<void> {
    await client.query(`DELETE FROM ${this.#tables.meta} WHERE key = 'lease'`);
  }

  async #readMeta(client: pg.Pool | pg.PoolClient): Promise<Record<string, string>> {
    const result = await client.query<{ key: string; value: string }>(
      `SELECT key, value FROM ${this.#tables.meta}`,
    );
    return Object.fromEntries(result.rows.map((row) => [row.key, row.value]));
  }

  async #setMeta(client: pg.PoolClient, values: Record<string, string>): Promise<void> {
    const entries = Object.entries(values);
    await client.query(
      `INSERT INTO ${this.#tables.meta} (key, value) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [entries.map(([key]) => key), entries.map(([, value]) => value)],
    );
  }

  /** Runs `work` in a transaction; a deadlock or serialization failure (two ingests) is retried. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (error as { code?: unknown }).code;
        if (attempt < 3 && (code === '40P01' || code === '40001')) continue;
        throw error;
      } finally {
        client.release();
      }
    }
  }
}

/** A quoted identifier: `"name"` with quotes doubled. */
function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Table name for a collection: readable, within PostgreSQL's 63 bytes, and distinct for
 * collections that differ only in characters an identifier would lose. `v4` names the layout
 * (v3: the search table's `length` and the meta table's `length_sum`, for BM25; v4: the postings
 * table replaces the search table's tsvector and GIN index, and the chunks table has `length`).
 */
function tableBase(collection: string): string {
  const readable = collection
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, 32);
  const hash = createHash('sha256').update(collection).digest('hex').slice(0, 8);
  return `lexical_v4_${readable}_${hash}`;
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
