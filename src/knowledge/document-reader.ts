import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { IngestInputError } from '../errors.ts';
import type { KnowledgeDocument } from './types.ts';

/** What {@link readDocuments} found: the documents it could read and, per input it could not, why. */
export interface ReadDocumentsResult {
  documents: KnowledgeDocument[];
  problems: IngestInputError[];
  /**
   * Ids of documents that exist in the input but could not be read this time (binary, not UTF-8,
   * too large). Their chunks already in the knowledge base are kept rather than deleted as removed.
   */
  unreadableIds: string[];
}

const textExtensions = new Set(['.md', '.markdown', '.txt']);

/** Largest .md/.txt document accepted, in bytes. @defaultValue 20 MiB */
export const maxDocumentBytes = 20 * 1024 * 1024;

/**
 * Largest JSONL line accepted, in bytes: a .jsonl file is read as a stream, a line at a time, so
 * the file itself may be any size. @defaultValue 1 MiB
 */
export const maxJsonlLineBytes = 1024 * 1024;

/**
 * Reads a knowledge-base input: a folder of .md/.txt files (searched recursively; the document id
 * is the path inside the folder without extension) or a .jsonl file of
 * `{"id","text","title"?,"url"?}` lines, streamed a line at a time (each line at most
 * {@link maxJsonlLineBytes}). Bad inputs (empty, binary, non-UTF-8, oversized, malformed or
 * duplicate lines) are reported in `problems` and skipped; the good ones are still returned.
 *
 * @throws {@link IngestInputError} when the path itself does not exist or is neither a folder nor .jsonl.
 */
export async function readDocuments(inputPath: string): Promise<ReadDocumentsResult> {
  const info = await stat(inputPath).catch((error: unknown) => {
    throw new IngestInputError(inputPath, `${inputPath} does not exist or cannot be read`, { cause: error });
  });
  if (info.isDirectory()) return readFolder(inputPath);
  if (inputPath.endsWith('.jsonl')) return readJsonl(inputPath);
  throw new IngestInputError(
    inputPath,
    `${inputPath} is neither a folder of .md/.txt files nor a .jsonl file`,
  );
}

async function readFolder(folder: string): Promise<ReadDocumentsResult> {
  const result: ReadDocumentsResult = { documents: [], problems: [], unreadableIds: [] };
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && textExtensions.has(path.extname(entry.name).toLowerCase()))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();

  for (const file of files) {
    const relative = path.relative(folder, file);
    const id = relative.slice(0, -path.extname(relative).length).split(path.sep).join('/');
    const text = decodeText(await readFile(file), file, result);
    if (text === undefined) {
      result.unreadableIds.push(id);
      continue;
    }
    if (text.trim() === '') {
      // An emptied file is a removed document: its old chunks go.
      result.problems.push(new IngestInputError(file, `${file} is empty; it has no chunks`));
      continue;
    }
    const heading = /^\s*#\s+(.+?)\s*#*\s*$/m.exec(text);
    result.documents.push({ id, title: heading?.[1] ?? titleFromId(id), text, source: file });
  }
  return result;
}

async function readJsonl(file: string): Promise<ReadDocumentsResult> {
  const result: ReadDocumentsResult = { documents: [], problems: [], unreadableIds: [] };
  const firstLineById = new Map<string, number>();
  let lineNumber = 0;
  for await (const line of readLines(file, maxJsonlLineBytes)) {
    lineNumber++;
    const source = `${file}:${lineNumber}`;
    const skip = (problem: string, cause?: unknown) =>
      result.problems.push(
        new IngestInputError(source, `line ${lineNumber}: ${problem}; line skipped`, cause ? { cause } : {}),
      );
    if (line === undefined) {
      skip(`longer than the ${maxJsonlLineBytes}-byte limit per line (split the document)`);
      continue;
    }
    if (line.includes(0)) {
      skip('looks binary (it contains NUL bytes)');
      continue;
    }
    let text: string;
    try {
      text = utf8.decode(line);
    } catch (error) {
      skip('is not valid UTF-8 (convert the file, e.g. iconv -t UTF-8)', error);
      continue;
    }
    if (lineNumber === 1) text = text.replace(/^\uFEFF/, '');
    if (text.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      skip(`not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      continue;
    }
    const problem = checkRecord(record);
    if (problem) {
      skip(problem);
      continue;
    }
    const {
      id,
      text: body,
      title,
      url,
    } = record as { id: string; text: string; title?: string; url?: string };
    const first = firstLineById.get(id);
    if (first !== undefined) {
      skip(`duplicate id "${id}" (first on line ${first})`);
      continue;
    }
    firstLineById.set(id, lineNumber);
    if (body.trim() === '') {
      result.problems.push(
        new IngestInputError(source, `line ${lineNumber}: "text" of "${id}" is empty; it has no chunks`),
      );
      continue;
    }
    result.documents.push({
      id,
      title: title?.trim() || titleFromId(id),
      text: body,
      ...(url ? { url } : {}),
      source,
    });
  }
  return result;
}

/**
 * The lines of a file as bytes (without the newline, and without a CR before it), read as a
 * stream. A line over `maxBytes` yields `undefined` and is never held whole in memory.
 */
async function* readLines(file: string, maxBytes: number): AsyncGenerator<Buffer | undefined> {
  let parts: Buffer[] = [];
  let length = 0;
  let oversized = false;
  const finish = () => {
    const line = oversized ? undefined : trimCarriageReturn(Buffer.concat(parts, length));
    parts = [];
    length = 0;
    oversized = false;
    return line;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      append(chunk.subarray(start, newline));
      yield finish();
      start = newline + 1;
    }
    append(chunk.subarray(start));
  }
  if (length > 0 || oversized) yield finish();

  function append(piece: Buffer): void {
    if (oversized || piece.length === 0) return;
    if (length + piece.length > maxBytes) {
      oversized = true;
      parts = [];
      length = 0;
      return;
    }
    // A copy: the stream's chunk is not kept alive by a short line.
    parts.push(Buffer.from(piece));
    length += piece.length;
  }
}

function trimCarriageReturn(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, -1) : line;
}

function checkRecord(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'expected a JSON object';
  const { id, text, title, url } = record as Record<string, unknown>;
  if (typeof id !== 'string' || id.trim() === '') return '"id" must be a non-empty string';
  if (id.length > 200) return '"id" must be at most 200 characters';
  if (typeof text !== 'string') return '"text" must be a string';
  if (title !== undefined && typeof title !== 'string') return '"title" must be a string';
  if (url !== undefined && typeof url !== 'string') return '"url" must be a string';
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Buffer, file: string, result: ReadDocumentsResult): string | undefined {
  if (bytes.length > maxDocumentBytes) {
    result.problems.push(
      new IngestInputError(
        file,
        `${file} is ${bytes.length} bytes, over the ${maxDocumentBytes}-byte limit; split it`,
      ),
    );
    return undefined;
  }
  if (bytes.includes(0)) {
    result.problems.push(new IngestInputError(file, `${file} looks binary (it contains NUL bytes); skipped`));
    return undefined;
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    result.problems.push(
      new IngestInputError(
        file,
        `${file} is not valid UTF-8; convert it (e.g. iconv -t UTF-8) and ingest again`,
        {
          cause: error,
        },
      ),
    );
    return undefined;
  }
  return text.replace(/^\uFEFF/, '');
}

function titleFromId(id: string): string {
  const base = id.split('/').at(-1) ?? id;
  const words = base.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
