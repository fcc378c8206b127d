/**
 * An append-only stream that any number of readers can follow from the start: the generation of one
 * answer, watched by every customer who asked the same question at the same time (single-flight).
 */
export class SharedStream<T> {
  readonly #items: T[] = [];
  #done = false;
  #error: unknown;
  #wake: (() => void)[] = [];

  /** Adds an item for every reader. */
  push(item: T): void {
    if (this.#done) throw new Error('SharedStream: push after end');
    this.#items.push(item);
    this.#notify();
  }

  /** Ends the stream; readers finish after the last item, or throw `error` when given. */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#notify();
  }

  get ended(): boolean {
    return this.#done;
  }

  /** Every item from the first, then new ones as they come, until the end. */
  async *read(signal?: AbortSignal): AsyncGenerator<T> {
    let position = 0;
    while (true) {
      while (position < this.#items.length) yield this.#items[position++] as T;
      if (this.#done) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const resolve of waiting) resolve();
  }
}
