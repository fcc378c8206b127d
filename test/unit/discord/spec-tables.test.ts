import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFields, discordSpec, fieldTable, kindOf } from './spec-tables.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/discord/${name}`, import.meta.url), 'utf8'));

describe('the Discord docs tables, parsed from the copied excerpts', () => {
  const spec = discordSpec();

  it('reads field names, optional fields and nullable types as the docs write them', () => {
    const byName = new Map(spec.message.map((field) => [field.name, field]));
    expect(byName.get('id')).toMatchObject({ optional: false, nullable: false, kind: 'snowflake' });
    expect(byName.get('edited_timestamp')).toMatchObject({
      optional: false,
      nullable: true,
      kind: 'timestamp',
    });
    expect(byName.get('author')).toMatchObject({ optional: false, kind: 'object' });
    expect(byName.get('content')).toMatchObject({ optional: false, kind: 'string' });
    expect(byName.get('referenced_message')).toMatchObject({
      optional: true,
      nullable: true,
      kind: 'object',
    });
    expect(byName.get('nonce')).toMatchObject({ optional: true, kind: 'integer-or-string' });
    expect(spec.message).toHaveLength(37);
    expect(spec.messageCreateExtra.map((field) => field.name)).toEqual([
      'guild_id',
      'member',
      'mentions',
      'channel_type',
    ]);
    expect(spec.envelope.find((field) => field.name === 's')).toMatchObject({
      nullable: true,
      kind: 'integer',
    });
    expect(spec.interaction.find((field) => field.name === 'type')).toMatchObject({ kind: 'integer' });
    expect(
      spec.rateLimitBody.map((field) => `${field.name}${field.optional ? '?' : ''}:${field.kind}`),
    ).toEqual(['message:string', 'retry_after:number', 'global:boolean', 'code?:integer']);
    expect(spec.rateLimitHeaders).toEqual([
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'X-RateLimit-Reset-After',
      'X-RateLimit-Bucket',
      'X-RateLimit-Global',
      'X-RateLimit-Scope',
    ]);
  });

  it('reads the close-code table: 14 codes, 6 of them not to be reconnected', () => {
    expect(spec.closeCodes.size).toBe(14);
    expect([...spec.closeCodes].filter(([, reconnect]) => !reconnect).map(([code]) => code)).toEqual([
      4004, 4010, 4011, 4012, 4013, 4014,
    ]);
    expect(fixture('gateway-close-codes.json')).toHaveLength(14);
    expect(spec.opcodes.get(9)).toBe('Invalid Session');
  });

  it("accepts the docs' own examples", () => {
    expect(checkFields(fixture('message.example.json'), spec.message, 'message')).toEqual([]);
    for (const scope of ['user', 'shared', 'global'])
      expect(
        checkFields(fixture(`rate-limit-429.${scope}.example.json`).body, spec.rateLimitBody, scope),
      ).toEqual([]);
    expect(checkFields(fixture('gateway.dispatch.example.json'), spec.envelope, 'dispatch')).toEqual([]);
  });

  it('catches a missing field, a wrong type and a null where the docs allow none', () => {
    const example = fixture('message.example.json');
    const { channel_id: _removed, ...withoutChannel } = example;
    expect(checkFields(withoutChannel, spec.message, 'message')).toEqual([
      'message.channel_id is missing (required by the docs)',
    ]);
    expect(checkFields({ ...example, tts: 'no' }, spec.message, 'message')).toEqual([
      'message.tts is a string ("no"), the docs say "boolean"',
    ]);
    expect(checkFields({ ...example, timestamp: null }, spec.message, 'message')).toEqual([
      'message.timestamp is null but the docs type "ISO8601 timestamp" is not nullable',
    ]);
    expect(checkFields({ ...example, id: 42 }, spec.message, 'message')).toHaveLength(1);
    expect(checkFields({ ...example, mentions: {} }, spec.message, 'message')).toHaveLength(1);
    expect(checkFields([], spec.message, 'message')).toEqual(['message is an array, not an object']);
    // The slash-command example predates fields the Interaction table now requires.
    expect(
      checkFields(fixture('interaction.slash-command.example.json'), spec.interaction, 'interaction'),
    ).toEqual(expect.arrayContaining(['interaction.application_id is missing (required by the docs)']));
  });

  it('refuses type wording it does not know instead of passing it unchecked', () => {
    expect(() => kindOf('a brand new kind of thing')).toThrow(/unknown field type wording/);
    expect(() =>
      fieldTable(
        '###### T\n\n| Field | Type | Description |\n|---|---|---|\n| x | wibble | y |\n',
        '###### T',
      ),
    ).toThrow(/wibble/);
  });
});
