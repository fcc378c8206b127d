import { readFileSync } from 'node:fs';

/**
 * Reads the field tables of the Discord API docs excerpts in test/fixtures/discord/spec/ and checks
 * JSON values against them: presence (`field?` may be absent) and JSON type (`?type` may be null).
 * Fields a table does not list are allowed, as Discord adds fields without notice.
 */

/** What a table's Type column says, reduced to what JSON can check. */
export type FieldKind =
  | 'snowflake'
  | 'string'
  | 'timestamp'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'array'
  | 'object'
  | 'integer-or-string'
  | 'primitive'
  | 'any';

export interface FieldSpec {
  name: string;
  /** Written `name?`: the field may be absent. */
  optional: boolean;
  /** Written `?type`: the value may be null. */
  nullable: boolean;
  /** The Type column as written (links reduced to their text). */
  type: string;
  kind: FieldKind;
}

const specFolder = new URL('../../fixtures/discord/spec/', import.meta.url);

/** The text of one of the copied excerpts, e.g. `message-object.md`. */
export function specFile(name: string): string {
  return readFileSync(new URL(name, specFolder), 'utf8');
}

/** The rows of the first table after `heading` (e.g. `###### Message Structure`), as cells. */
export function tableRows(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(heading);
  if (start < 0) throw new Error(`no heading "${heading}" in the excerpt`);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(splitRow(line));
  }
  if (rows.length === 0) throw new Error(`no table rows after "${heading}"`);
  return rows;
}

/** A field table (Field | Type | Description) as {@link FieldSpec}s. */
export function fieldTable(markdown: string, heading: string): FieldSpec[] {
  return tableRows(markdown, heading).map(([field = '', type = '']) => {
    const name = field
      .replace(/\\\[\d+\\\]/g, '')
      .replace(/\\\*/g, '')
      .replace(/\s+/g, '');
    const plainType = type
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/\\\*/g, '')
      .trim();
    const nullable = plainType.startsWith('?');
    const written = nullable ? plainType.slice(1).trim() : plainType;
    return {
      name: name.replace(/\?$/, ''),
      optional: name.endsWith('?'),
      nullable,
      type: written,
      kind: kindOf(written),
    };
  });
}

/** Splits a Markdown table row on the pipes that are not inside a link or escaped. */
function splitRow(line: string): string[] {
  return line
    .slice(1, line.lastIndexOf('|'))
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

/** Maps the docs' type words to a JSON check. Unknown wording fails loudly, so nothing goes unchecked. */
export function kindOf(type: string): FieldKind {
  const text = type.toLowerCase().trim();
  if (text.startsWith('array of')) return 'array';
  if (text === 'snowflake') return 'snowflake';
  if (text === 'string') return 'string';
  if (text === 'iso8601 timestamp') return 'timestamp';
  if (text === 'integer') return 'integer';
  if (text === 'float' || text === 'double') return 'number';
  if (text === 'boolean') return 'boolean';
  if (text === 'integer or string') return 'integer-or-string';
  if (text.startsWith('mixed')) return 'any';
  if (/^string, integer, double,? or boolean$/.test(text)) return 'primitive';
  // "interaction type", "interaction context type": an integer from an enumeration table.
  if (/ type$/.test(text)) return 'integer';
  if (/object|dictionary|map of|data$|^partial |metadata/.test(text)) return 'object';
  throw new Error(`unknown field type wording in the docs table: "${type}"`);
}

/** Problems of `value` against `fields`, each naming the path; empty when it conforms. */
export function checkFields(value: unknown, fields: readonly FieldSpec[], where: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return [`${where} is ${describe(value)}, not an object`];
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of fields) {
    const path = `${where}.${field.name}`;
    if (!(field.name in record)) {
      if (!field.optional) problems.push(`${path} is missing (required by the docs)`);
      continue;
    }
    const fieldValue = record[field.name];
    if (fieldValue === null) {
      if (!field.nullable) problems.push(`${path} is null but the docs type "${field.type}" is not nullable`);
      continue;
    }
    if (!matches(fieldValue, field.kind))
      problems.push(`${path} is ${describe(fieldValue)}, the docs say "${field.type}"`);
  }
  return problems;
}

function matches(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'snowflake':
      return typeof value === 'string' && /^\d{1,20}$/.test(value);
    case 'string':
      return typeof value === 'string';
    case 'timestamp':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'integer-or-string':
      return Number.isInteger(value) || typeof value === 'string';
    case 'primitive':
      return ['string', 'number', 'boolean'].includes(typeof value);
    case 'any':
      return true;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value} (${JSON.stringify(value)?.slice(0, 40)})`;
}

/** The tables the contract tests use, read once. */
export function discordSpec() {
  const messageObject = specFile('message-object.md');
  const messageCreate = specFile('message-create.md');
  const interactions = specFile('interactions.md');
  const flows = specFile('gateway-session-flows.md');
  const rateLimits = specFile('rate-limits.md');
  const closeCodes = specFile('gateway-opcodes-and-close-codes.md');
  return {
    envelope: fieldTable(messageCreate, '### Payload Structure'),
    message: fieldTable(messageObject, '###### Message Structure'),
    messageCreateExtra: fieldTable(messageCreate, '###### Message Create Extra Fields'),
    interaction: fieldTable(interactions, '###### Interaction Structure'),
    applicationCommandData: fieldTable(interactions, '###### Application Command Data Structure'),
    messageComponentData: fieldTable(interactions, '###### Message Component Data Structure'),
    ready: fieldTable(flows, '###### Ready Event Fields'),
    rateLimitBody: fieldTable(rateLimits, '###### Rate Limit Response Structure'),
    /** Header names listed under "Header Format", e.g. `X-RateLimit-Reset-After`. */
    rateLimitHeaders: [...rateLimits.matchAll(/^- \*\*(X-RateLimit-[A-Za-z-]+)\*\*/gm)].map(
      (match) => match[1] as string,
    ),
    /** The close-code table: code → reconnect allowed. */
    closeCodes: new Map(
      tableRows(closeCodes, '###### Gateway Close Event Codes').map(
        ([code, , , reconnect]) => [Number(code), reconnect === 'true'] as const,
      ),
    ),
    /** Opcode → name, from the Gateway Opcodes table. */
    opcodes: new Map(
      tableRows(closeCodes, '###### Gateway Opcodes').map(
        ([code, name]) => [Number(code), name as string] as const,
      ),
    ),
  };
}
