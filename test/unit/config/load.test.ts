import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/errors.ts';

function projectWith(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'config-test-'));
  mkdirSync(path.join(root, 'config'));
  writeFileSync(path.join(root, 'config', 'default.yaml'), files['config/default.yaml'] ?? readDefault());
  for (const [name, content] of Object.entries(files)) {
    if (name !== 'config/default.yaml') writeFileSync(path.join(root, name), content);
  }
  return root;
}

function readDefault(): string {
  return readFileSync(path.join(projectRoot, 'config', 'default.yaml'), 'utf8');
}

describe('loadConfig', () => {
  it('loads the shipped defaults with paths resolved from the project folder', () => {
    const config = loadConfig({ env: {}, loadDotEnv: false });
    expect(config.knowledge.collection).toBe('support-kb');
    expect(config.knowledge.topK).toBe(3);
    expect(config.dataDir).toBe(path.join(projectRoot, '.data'));
    expect(config.openai.apiKey).toBeUndefined();
  });

  it('applies environment overrides and coerces their types', () => {
    const config = loadConfig({
      env: {
        KB_COLLECTION: 'tenant-b',
        KB_TOP_K: '5',
        DATA_DIR: '/tmp/kb-b',
        KB_HYBRID: 'false',
        OPENAI_API_KEY: 'sk-test',
      },
      loadDotEnv: false,
    });
    expect(config.knowledge.collection).toBe('tenant-b');
    expect(config.knowledge.topK).toBe(5);
    expect(config.knowledge.hybrid).toBe(false);
    expect(config.dataDir).toBe('/tmp/kb-b');
    expect(config.openai.apiKey).toBe('sk-test');
  });

  it('reads .env, with the real environment winning', () => {
    const root = projectWith({ '.env': 'KB_COLLECTION=from-dotenv\nKB_TOP_K=7\n' });
    const config = loadConfig({ root, env: { KB_TOP_K: '4' } });
    expect(config.knowledge.collection).toBe('from-dotenv');
    expect(config.knowledge.topK).toBe(4);
  });

  it('names the key, the value, its origin and the fix in one line', () => {
    const load = () => loadConfig({ env: { KB_TOP_K: 'lots' }, loadDotEnv: false });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      'Invalid configuration: knowledge.topK is "lots" (from env KB_TOP_K): expected a number; set KB_TOP_K in .env or the environment, or knowledge.topK in config/default.yaml.',
    );
  });

  it('rejects out-of-range numbers and bad collection names', () => {
    expect(() => loadConfig({ env: { KB_TOP_K: '0' }, loadDotEnv: false })).toThrow(
      /knowledge\.topK is "0".*from 1 to 20/,
    );
    expect(() => loadConfig({ env: { KB_COLLECTION: 'x' }, loadDotEnv: false })).toThrow(
      /knowledge\.collection is "x"/,
    );
    expect(() => loadConfig({ env: { CHROMA_URL: 'localhost:8000' }, loadDotEnv: false })).toThrow(
      /chroma\.url is "localhost:8000".*http:\/\/ or https:\/\//,
    );
  });

  it('refuses secrets in configuration files', () => {
    const root = projectWith({
      'config/default.yaml': `${readDefault()}\n`.replace(
        'maxRetries: 2',
        'maxRetries: 2\n  apiKey: sk-leaked',
      ),
    });
    expect(() => loadConfig({ root, env: {}, loadDotEnv: false })).toThrow(
      'openai.apiKey must not be set in config/default.yaml: secrets come only from the environment; set OPENAI_API_KEY in .env or the environment instead.',
    );
  });

  it('rejects a base URL that is not http(s)', () => {
    expect(() => loadConfig({ env: { OPENAI_BASE_URL: 'nope' }, loadDotEnv: false })).toThrow(
      /openai\.baseUrl is "nope" \(from env OPENAI_BASE_URL\)/,
    );
  });

  it('reports unknown keys (typos) with the file they came from', () => {
    const root = projectWith({
      'config/default.yaml': readDefault().replace('  topK: 3', '  topk: 3\n  topK: 3'),
    });
    expect(() => loadConfig({ root, env: {}, loadDotEnv: false })).toThrow(
      'Invalid configuration: unknown key knowledge.topk in config/default.yaml: remove it or check its spelling.',
    );
  });

  it('merges CONFIG_FILE over the defaults and reports a missing one', () => {
    const root = projectWith({ 'prod.yaml': 'knowledge:\n  topK: 6\n' });
    expect(loadConfig({ root, env: { CONFIG_FILE: 'prod.yaml' }, loadDotEnv: false }).knowledge.topK).toBe(6);
    expect(() => loadConfig({ root, env: { CONFIG_FILE: 'missing.yaml' }, loadDotEnv: false })).toThrow(
      /missing\.yaml does not exist/,
    );
  });
});
