/** Options accepted by every embedding call. */
export interface EmbedOptions {
  /** Cancels the call; a cancelled call rejects. */
  signal?: AbortSignal;
}

/**
 * Turns text into vectors. One interface for the OpenAI embedder and the offline one, so the
 * knowledge base does not care which built it; the collection records {@link Embedder.id} and
 * {@link Embedder.dimension} and refuses to mix vectors of two embedders.
 */
export interface Embedder {
  /** Names the model and its version, e.g. `openai:text-embedding-3-small` or `offline:hash-v3`. */
  readonly id: string;
  /** Length of every vector this embedder returns. */
  readonly dimension: number;
  /** Embeds passages for storage (may batch internally). Returns one vector per text, in order. */
  embedDocuments(texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
  /** Embeds a search query. */
  embedQuery(text: string, options?: EmbedOptions): Promise<number[]>;
}
