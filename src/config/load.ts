import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { type Config, configSchema, environmentOverrides, secretKeys } from './schema.ts';

/**
 * The project folder (the one with package.json, from src/ or from the compiled dist/src/):
 * relative paths in the configuration are resolved from here.
 */
export const projectRoot = findProjectRoot(fileURLToPath(new URL('.', import.meta.url)));

function findProjectRoot(from: string): string {
  for (let folder = from; ; folder = path.dirname(folder)) {
    if (existsSync(path.join(folder, 'package.json'))) return folder;
    if (path.dirname(folder) === folder) return fileURLToPath(new URL('../../', import.meta.url));
  }
}

/** Options of {@link loadConfig}; everything from outside the process comes in here. */
export interface LoadConfigOptions {
  /** Environment to read overrides and secrets from. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
  /** Folder holding `config/default.yaml` and `.env`. @defaultValue the project folder */
  root?: string;
  /** Read `.env` from `root` (values already in `env` win). @defaultValue true */
  loadDotEnv?: boolean;
}

type Raw = Record<string, unknown>;

/**
 * Reads config/default.yaml, merges CONFIG_FILE over it when set, applies environment overrides
 * (from the process and `.env`), and validates the result.
 *
 * @throws {@link ConfigError} with one line naming the key, the value, where it came from and the fix.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const root = options.root ?? projectRoot;
  const env = { ...(options.loadDotEnv === false ? {} : readDotEnv(root)), ...(options.env ?? process.env) };
  const sources = new Map<string, string>();

  const raw: Raw = {};
  const files = [path.join(root, 'config', 'default.yaml')];
  if (env.CONFIG_FILE) files.push(path.resolve(root, env.CONFIG_FILE));
  for (const file of files) {
    mergeInto(raw, readYamlFile(file), [], path.relative(root, file) || file, sources);
  }

  for (const override of environmentOverrides) {
    const value = env[override.name];
    if (value === undefined || value === '') continue;
    setPath(raw, override.path, value);
    sources.set(override.path.join('.'), `env ${override.name}`);
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) throw describeIssue(result.error.issues[0], raw, sources);

  const config = result.data;
  config.dataDir = path.resolve(root, config.dataDir);
  config.knowledge.source = path.resolve(root, config.knowledge.source);
  return config;
}

function readDotEnv(root: string): Record<string, string> {
  const file = path.join(root, '.env');
  if (!existsSync(file)) return {};
  return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
}

function readYamlFile(file: string): Raw {
  if (!existsSync(file)) {
    throw new ConfigError(
      'CONFIG_FILE',
      `Configuration file ${file} does not exist: create it or unset CONFIG_FILE.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError('CONFIG_FILE', `Configuration file ${file} is not valid YAML: ${reason}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(
      'CONFIG_FILE',
      `Configuration file ${file} must hold a mapping of keys, not ${typeof parsed}.`,
    );
  }
  return parsed as Raw;
}

function mergeInto(
  target: Raw,
  source: Raw,
  prefix: string[],
  origin: string,
  sources: Map<string, string>,
): void {
  for (const [key, value] of Object.entries(source)) {
    const keyPath = [...prefix, key];
    if (secretKeys.has(key)) {
      const variable = environmentOverrides.find((override) => override.path.join('.') === keyPath.join('.'));
      throw new ConfigError(
        keyPath.join('.'),
        `${keyPath.join('.')} must not be set in ${origin}: secrets come only from the environment` +
          (variable ? `; set ${variable.name} in .env or the environment instead.` : '.'),
      );
    }
    if (isPlainObject(value)) {
      if (!isPlainObject(target[key])) target[key] = {};
      mergeInto(target[key] as Raw, value, keyPath, origin, sources);
    } else {
      target[key] = value;
      sources.set(keyPath.join('.'), origin);
    }
  }
}

function setPath(target: Raw, keyPath: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keyPath.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Raw;
  }
  node[keyPath.at(-1) as string] = value;
}

function isPlainObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeIssue(
  issue: z.core.$ZodIssue | undefined,
  raw: Raw,
  sources: Map<string, string>,
): ConfigError {
  if (!issue) return new ConfigError('', 'Invalid configuration.');
  const keys = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const key = keys.map(String).join('.');
  const value = keys.reduce<unknown>(
    (node, part) => (isPlainObject(node) ? node[String(part)] : undefined),
    raw,
  );
  const variable = environmentOverrides.find((override) => override.path.join('.') === key);
  const origin = sources.get(key);

  if (issue.code === 'unrecognized_keys') {
    return new ConfigError(
      key,
      `Invalid configuration: unknown key ${key} in ${origin ?? 'a configuration file'}: remove it or check its spelling.`,
    );
  }
  const shown = variable && 'secret' in variable ? '(hidden)' : (JSON.stringify(value) ?? 'nothing');
  const fix = variable
    ? `set ${variable.name} in .env or the environment, or ${key} in config/default.yaml`
    : `set ${key} in config/default.yaml`;
  return new ConfigError(
    key,
    `Invalid configuration: ${key} is ${value === undefined ? 'missing' : shown}${origin ? ` (from ${origin})` : ''}: ${issue.message}; ${fix}.`,
  );
}
