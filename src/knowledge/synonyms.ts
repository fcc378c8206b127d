import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { analyzeTerms } from '../text/analysis.ts';

/**
 * An operator's glossary: groups of words and phrases that mean the same thing to this help
 * center's customers ("money back", "reimburse" and "refund"). Nothing in the code knows any
 * store's vocabulary; a team that needs its customers' words matched to its own writes them here
 * (`knowledge.glossary`). A query that contains one phrase of a group is also searched for the
 * others, on the lexical side.
 */
export class SynonymTable {
  /** Each group as the analysed term sequences of its phrases. */
  readonly #groups: string[][][];

  constructor(groups: readonly (readonly string[])[]) {
    this.#groups = groups
      .map((group) => group.map((phrase) => analyzeTerms(phrase)).filter((terms) => terms.length > 0))
      .filter((group) => group.length > 1);
  }

  /** How many groups are in use. */
  get size(): number {
    return this.#groups.length;
  }

  /** The analysed query terms, followed by the terms of every group whose phrase they contain. */
  expand(terms: readonly string[]): string[] {
    const expanded = [...terms];
    const present = new Set(terms);
    for (const group of this.#groups) {
      if (!group.some((phrase) => containsSequence(terms, phrase))) continue;
      for (const phrase of group) {
        for (const term of phrase) {
          if (present.has(term)) continue;
          present.add(term);
          expanded.push(term);
        }
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
 * Reads a glossary file (`groups: [[phrase, phrase, …], …]`). A missing file is an empty glossary
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
