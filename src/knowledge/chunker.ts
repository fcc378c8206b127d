import { createHash } from 'node:crypto';
import type { KnowledgeChunk, KnowledgeDocument } from './types.ts';

/** Options of {@link chunkDocument}. */
export interface ChunkOptions {
  /** Target size of a chunk in tokens (estimated as characters / 4). @defaultValue 200 */
  chunkTokens?: number;
}

const defaultChunkOptions = { chunkTokens: 200 } as const satisfies Required<ChunkOptions>;

const charactersPerToken = 4;

/** Rough token count used for chunk sizing: about four characters per token for English prose. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / charactersPerToken);
}

interface Section {
  headings: string[];
  blocks: string[];
}

/**
 * Splits a Markdown or plain-text document into passages of about `chunkTokens` tokens. A passage
 * never crosses a heading, so each one sits under a single heading path; paragraphs are packed
 * whole, and only a paragraph larger than a chunk is split, at sentences and then at words. Code
 * fences are kept whole unless they alone exceed the size. Linear in the document's length.
 */
export function chunkDocument(document: KnowledgeDocument, options: ChunkOptions = {}): KnowledgeChunk[] {
  const { chunkTokens } = { ...defaultChunkOptions, ...options };
  const maxCharacters = chunkTokens * charactersPerToken;
  const chunks: KnowledgeChunk[] = [];
  const seenIds = new Map<string, number>();

  for (const section of joinShortLead(splitSections(document.text, document.title), maxCharacters)) {
    const headingPath = section.headings.join(' > ');
    for (const text of packBlocks(section.blocks, maxCharacters)) {
      const baseId = `${document.id}:${hashOf(document.title, headingPath, text)}`;
      // The same passage can repeat inside one document (a shared disclaimer); keep ids unique.
      const occurrence = seenIds.get(baseId) ?? 0;
      seenIds.set(baseId, occurrence + 1);
      chunks.push({
        id: occurrence === 0 ? baseId : `${baseId}-${occurrence}`,
        documentId: document.id,
        title: document.title,
        headingPath,
        text,
        ...(document.url ? { url: document.url } : {}),
        index: chunks.length,
      });
    }
  }
  return chunks;
}

/**
 * A page's lead — the text before its first heading — joins the first section when it is shorter
 * than a quarter of a chunk. Alone, "A freestanding tent for two people. $289." is a passage that
 * outranks the page's own specifications (short, and it names the product) while it answers
 * nothing; joined, the lead sentence that names the subject stays with the facts under it.
 */
function joinShortLead(sections: Section[], maxCharacters: number): Section[] {
  const [lead, first, ...rest] = sections;
  if (!lead || !first || lead.headings.length > 0) return sections;
  const leadLength = lead.blocks.reduce((total, block) => total + block.length + 2, 0);
  if (leadLength >= maxCharacters / 4) return sections;
  return [{ headings: first.headings, blocks: [...lead.blocks, ...first.blocks] }, ...rest];
}

function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16);
}

const headingPattern = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const fencePattern = /^\s*(```|~~~)/;

function splitSections(text: string, title: string): Section[] {
  const sections: Section[] = [];
  const headingStack: { level: number; text: string }[] = [];
  let current: Section = { headings: [], blocks: [] };
  let paragraph: string[] = [];
  let fence: string | undefined;

  const endParagraph = () => {
    const block = paragraph.join('\n').trim();
    if (block) current.blocks.push(block);
    paragraph = [];
  };

  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    const fenceMatch = fencePattern.exec(line);
    if (fence) {
      paragraph.push(line);
      if (fenceMatch && fenceMatch[1] === fence) {
        fence = undefined;
        endParagraph();
      }
      continue;
    }
    if (fenceMatch) {
      endParagraph();
      fence = fenceMatch[1];
      paragraph.push(line);
      continue;
    }
    const heading = headingPattern.exec(line);
    if (heading) {
      endParagraph();
      if (current.blocks.length > 0) sections.push(current);
      const level = heading[1]?.length ?? 1;
      const headingText = heading[2] ?? '';
      while (headingStack.length > 0 && (headingStack.at(-1)?.level ?? 0) >= level) headingStack.pop();
      // The document's own H1 is its title: repeating it in every heading path adds nothing.
      if (!(level === 1 && headingText === title)) headingStack.push({ level, text: headingText });
      current = { headings: headingStack.map((entry) => entry.text), blocks: [] };
      continue;
    }
    if (line.trim() === '') endParagraph();
    else paragraph.push(line);
  }
  endParagraph();
  if (current.blocks.length > 0) sections.push(current);
  return sections;
}

function packBlocks(blocks: string[], maxCharacters: number): string[] {
  const packed: string[] = [];
  let current = '';
  for (const block of blocks.flatMap((candidate) => splitOversized(candidate, maxCharacters))) {
    if (current && current.length + 2 + block.length > maxCharacters) {
      packed.push(current);
      current = '';
    }
    current = current ? `${current}\n\n${block}` : block;
  }
  if (current) packed.push(current);
  return packed;
}

function splitOversized(block: string, maxCharacters: number): string[] {
  if (block.length <= maxCharacters) return [block];
  const sentences = block.match(/[^.!?\n]+(?:[.!?]+|\n|$)\s*/g) ?? [block];
  const pieces: string[] = [];
  let current = '';
  for (const sentence of sentences.flatMap((candidate) => splitWords(candidate, maxCharacters))) {
    if (current && current.length + sentence.length > maxCharacters) {
      pieces.push(current.trim());
      current = '';
    }
    current += sentence;
  }
  if (current.trim()) pieces.push(current.trim());
  return pieces;
}

function splitWords(sentence: string, maxCharacters: number): string[] {
  if (sentence.length <= maxCharacters) return [sentence];
  const pieces: string[] = [];
  let current = '';
  for (const word of sentence.split(/(?<=\s)/)) {
    // A single "word" longer than a chunk (a base64 blob, a URL list) is cut hard.
    for (let start = 0; start < word.length; start += maxCharacters) {
      const part = word.slice(start, start + maxCharacters);
      if (current && current.length + part.length > maxCharacters) {
        pieces.push(current);
        current = '';
      }
      current += part;
    }
  }
  if (current) pieces.push(current);
  return pieces;
}
