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
      await this.#nextChange(signal);
    }
  }

  /**
   * Resolves at the next push or end, or when `signal` aborts. The abort listener goes with the
   * wait: a follower waits once per delta on its request's signal, and listeners left behind would
   * pile up there (Node warns past 10) until the request ends.
   */
  #nextChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!signal) {
        this.#wake.push(resolve);
        return;
      }
      const wake = () => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      signal.addEventListener('abort', wake, { once: true });
      this.#wake.push(wake);
    });
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const resolve of waiting) resolve();
  }
}
