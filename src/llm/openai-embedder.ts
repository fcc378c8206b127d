import type OpenAI from 'openai';
import type { Embedder, EmbedOptions } from './embedder.ts';

/** Options of {@link OpenAIEmbedder}. */
export interface OpenAIEmbedderOptions {
  /** A configured client (base URL, key, timeout and retries are set there). */
  client: OpenAI;
  /** @defaultValue 'text-embedding-3-small' */
  model?: string;
  /**
   * Vector length. text-embedding-3-* accept a smaller `dimensions`; others have a fixed one.
   * @defaultValue 1536
   */
  dimension?: number;
  /** Texts per request (the API accepts up to 2,048). @defaultValue 128 */
  batchSize?: number;
}

const defaults = {
  model: 'text-embedding-3-small',
  dimension: 1536,
  batchSize: 128,
} as const satisfies Omit<Required<OpenAIEmbedderOptions>, 'client'>;

/** The model accepts at most 8,191 tokens per input; longer queries are cut at about that many characters × 3. */
const maxInputCharacters = 24_000;

/**
 * Embeddings from OpenAI or any compatible server, through the `openai` package.
 * @see https://platform.openai.com/docs/api-reference/embeddings
 */
export class OpenAIEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly #client: OpenAI;
  readonly #model: string;
  readonly #batchSize: number;

  constructor(options: OpenAIEmbedderOptions) {
    const settings = { ...defaults, ...options };
    this.#client = settings.client;
    this.#model = settings.model;
    this.#batchSize = settings.batchSize;
    this.dimension = settings.dimension;
    this.id = `openai:${settings.model}:${settings.dimension}`;
  }

  async embedDocuments(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += this.#batchSize) {
      const batch = texts.slice(start, start + this.#batchSize).map(prepareInput);
      const response = await this.#client.embeddings.create(
        {
          model: this.#model,
          input: batch,
          ...(this.#model.startsWith('text-embedding-3') ? { dimensions: this.dimension } : {}),
        },
        options.signal ? { signal: options.signal } : {},
      );
      const ordered = [...response.data].sort((left, right) => left.index - right.index);
      for (const item of ordered) vectors.push(item.embedding);
    }
    return vectors;
  }

  async embedQuery(text: string, options: EmbedOptions = {}): Promise<number[]> {
    const [vector] = await this.embedDocuments([text], options);
    if (!vector) throw new Error('the embeddings endpoint returned no vector');
    return vector;
  }
}

function prepareInput(text: string): string {
  // The API rejects empty input; a single space embeds as "nothing".
  const trimmed = text.slice(0, maxInputCharacters);
  return trimmed.trim() === '' ? ' ' : trimmed;
}
