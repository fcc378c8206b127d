import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { analyzeTerms } from '../text/analysis.ts';

/**
 * An operator's glossary: for each of this help center's words, the ways its customers say it
 * ("refund": "money back", "reimburse"). Nothing in the code knows any store's vocabulary; a team
 * that needs its customers' words matched to its own writes them here (`knowledge.glossary`).
 *
 * Each group's first phrase is the help center's own word and the rest are what customers write:
 * a query with one of those is also searched, lexically, for the first. The mapping goes one way
 * (as Elasticsearch's explicit synonym rules `money back, reimburse => refund`): a query that
 * already uses the help center's word is left alone, since expanding "return" into "send back"
 * and "give back" adds only common words ("back", "give") that match the wrong pages.
 */
export class SynonymTable {
  /** Each group as its canonical phrase's terms and its variants' term sequences. */
  readonly #groups: { canonical: string[]; variants: string[][] }[];

  constructor(groups: readonly (readonly string[])[]) {
    this.#groups = groups
      .map((group) => group.map((phrase) => analyzeTerms(phrase)).filter((terms) => terms.length > 0))
      .filter((group) => group.length > 1)
      .map(([canonical, ...variants]) => ({ canonical: canonical as string[], variants }));
  }

  /** How many groups are in use. */
  get size(): number {
    return this.#groups.length;
  }

  /** The analysed query terms, followed by the help center's word for each customer phrase in them. */
  expand(terms: readonly string[]): string[] {
    const expanded = [...terms];
    const present = new Set(terms);
    for (const { canonical, variants } of this.#groups) {
      if (!variants.some((phrase) => containsSequence(terms, phrase))) continue;
      for (const term of canonical) {
        if (present.has(term)) continue;
        present.add(term);
        expanded.push(term);
      }
    }
    return expanded;
  }
}

function containsSequence(terms: readonly string[], phrase: readonly string[]): boolean {
  for (let start = 0; start + phrase.length <= terms.length; start++) {
    if (phrase.every((term, offset) => terms[start + offset] === term)) return true;
  }
  return false;
}

const fileSchema = z.strictObject({
  groups: z.array(z.array(z.string().min(1)).min(2, { message: 'a group needs at least two phrases' })),
});

/**
 * Reads a glossary file (`groups: [[the help center's word, a customer's phrase, …], …]`). A missing file is an empty glossary
 * unless `required` (a path the operator named).
 * @throws {@link ConfigError} naming the file and what is wrong with it.
 */
export async function loadSynonyms(
  file: string,
  options: { required?: boolean } = {},
): Promise<SynonymTable> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !options.required) return new SynonymTable([]);
    throw new ConfigError('knowledge.glossary', `${file} cannot be read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text) ?? { groups: [] };
  } catch (error) {
    throw new ConfigError('knowledge.glossary', `${file} is not valid YAML: ${(error as Error).message}`);
  }
  const result = fileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(
      'knowledge.glossary',
      `${file}: ${issue?.path.join('.') || 'groups'} ${issue?.message ?? 'is invalid'}; expected "groups:" with lists of two or more phrases`,
    );
  }
  return new SynonymTable(result.data.groups);
}

/**
 * The glossary file for a knowledge base ingested from `source` (a path relative to `root`, as
 * ingest records it): with `setting` `auto`, `glossary.yaml` inside a source folder or
 * `NAME.glossary.yaml` beside a `NAME.jsonl`, so a glossary applies to its own knowledge base only;
 * `none` (or `''`) none; anything else that file, whatever the source.
 */
export async function glossaryFileFor(
  setting: string,
  source: string,
  root: string,
): Promise<string | undefined> {
  if (setting === '' || setting === 'none') return undefined;
  if (setting !== 'auto') return path.resolve(root, setting);
  if (source === '') return undefined;
  const resolved = path.resolve(root, source);
  const isFolder = await stat(resolved).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (isFolder) return path.join(resolved, 'glossary.yaml');
  return path.join(
    path.dirname(resolved),
    `${path.basename(resolved, path.extname(resolved))}.glossary.yaml`,
  );
}
