import path from 'node:path';
import type { Config } from '../../config/schema.ts';
import { ConfigError } from '../../errors.ts';
import { lexicalAnalyzer } from '../hybrid-ranking.ts';
import type { FieldWeights, LexicalAnalyzer, LexicalEngine } from './lexical-engine.ts';
import { PostgresLexicalEngine } from './postgres-lexical-engine.ts';
import { SqliteLexicalEngine } from './sqlite-lexical-engine.ts';

/** Options of {@link createLexicalEngine}. */
export interface CreateLexicalEngineOptions {
  /** @defaultValue `lexicalAnalyzer` of src/knowledge/hybrid-ranking.ts */
  analyzer?: LexicalAnalyzer;
  /** Field weights of the ranking. @defaultValue title 2, headings 1, body 1 */
  weights?: FieldWeights;
  /** Another collection than the configured one (the index mirrors exactly one). */
  collection?: string;
}

/**
 * The lexical engine the configuration asks for: PostgreSQL when `database.url` (DATABASE_URL) is
 * set, else a SQLite file per collection in `dataDir/lexical/`; `knowledge.lexicalEngine` forces
 * one. PostgreSQL is connected (and its tables created) before this resolves.
 *
 * @throws {@link LexicalIndexUnavailableError} when PostgreSQL cannot be reached (one line, password masked).
 * @throws {@link ConfigError} when `postgres` is forced without a DATABASE_URL.
 */
export async function createLexicalEngine(
  config: Config,
  options: CreateLexicalEngineOptions = {},
): Promise<LexicalEngine> {
  const analyzer = options.analyzer ?? lexicalAnalyzer;
  const collection = options.collection ?? config.knowledge.collection;
  const { lexicalEngine, postgresSchema } = config.knowledge;
  const url = config.database.url;
  if (lexicalEngine === 'postgres' || (lexicalEngine === 'auto' && url)) {
    if (!url) {
      throw new ConfigError(
        'database.url',
        'knowledge.lexicalEngine is postgres but DATABASE_URL is not set: set DATABASE_URL in .env or the ' +
          'environment, or KB_LEXICAL_ENGINE=sqlite to keep the index in the data folder.',
      );
    }
    return PostgresLexicalEngine.open({
      url,
      schema: postgresSchema,
      collection,
      analyzer,
      ...(options.weights ? { weights: options.weights } : {}),
    });
  }
  return new SqliteLexicalEngine({
    file: path.join(config.dataDir, 'lexical', `${collection}.sqlite`),
    analyzer,
    ...(options.weights ? { weights: options.weights } : {}),
  });
}
