/** A document of the knowledge base, as read from a file or a JSONL line. */
export interface KnowledgeDocument {
  /** Stable id: the file's path without extension, or the JSONL `id`. Answers cite it. */
  id: string;
  title: string;
  text: string;
  url?: string;
  /** Where it came from, for error messages: a path, or `path:line` for JSONL. */
  source: string;
}

/** A passage of a document: the unit that is embedded, stored and retrieved. */
export interface KnowledgeChunk {
  /** `documentId:hash`: derived from the content, so unchanged chunks keep their id across ingests. */
  id: string;
  documentId: string;
  title: string;
  /** Headings above the passage inside the document, joined with " > " (empty at the top). */
  headingPath: string;
  text: string;
  url?: string;
  /** Position of the chunk inside its document. */
  index: number;
}

/** A chunk returned by a search, with its score (higher is better). */
export interface RetrievedChunk extends KnowledgeChunk {
  score: number;
}

/** The text an embedder sees for a chunk: title and headings give short passages their context. */
export function embeddingText(chunk: Pick<KnowledgeChunk, 'title' | 'headingPath' | 'text'>): string {
  return `${chunk.title}\n${chunk.headingPath}\n${chunk.text}`;
}
