import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

const replyNames = [
  'greeting',
  'thanks',
  'other',
  'empty',
  'truncated',
  'orderStatus',
  'orderPlacement',
  'refundRequest',
  'complaint',
  'humanRequested',
  'modelDown',
  'offerHuman',
  'knowledgeDown',
  'interrupted',
  'cutLength',
  'contentFiltered',
  'refusal',
  'failure',
  'restarting',
  'limitedUser',
  'limitedConversation',
  'limitedTenant',
  'overBudget',
] as const;

const promptsSchema = z.strictObject({
  company: z.string().min(1),
  systemPrompt: z.string().min(20),
  toneGuidelines: z.string().min(1),
  replies: z.strictObject(
    Object.fromEntries(replyNames.map((name) => [name, z.string().min(1)])) as Record<
      (typeof replyNames)[number],
      z.ZodString
    >,
  ),
});

/** What the bot says, from config/prompts.yaml, with `{company}` filled in. */
export interface Prompts {
  company: string;
  /** System prompt and tone guidelines, as the answer model receives them. */
  systemPrompt: string;
  replies: Record<(typeof replyNames)[number], string>;
  /** Changes whenever the file changes; part of answer-cache keys. */
  version: string;
}

/** Reads and validates the prompts file. */
export async function loadPrompts(file: string): Promise<Prompts> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new ConfigError(
      'agent.promptsFile',
      `${file} cannot be read (${String(error)}): set agent.promptsFile.`,
    );
  });
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigError('agent.promptsFile', `${file} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = promptsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      'agent.promptsFile',
      `${file}: ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  const { company, systemPrompt, toneGuidelines, replies } = parsed.data;
  const fill = (value: string) => value.replaceAll('{company}', company).trim();
  return {
    company,
    systemPrompt: `${fill(systemPrompt)}\n\nTone:\n${fill(toneGuidelines)}`,
    replies: Object.fromEntries(
      Object.entries(replies).map(([name, value]) => [name, fill(value)]),
    ) as Prompts['replies'],
    version: createHash('sha256').update(text).digest('hex').slice(0, 12),
  };
}
