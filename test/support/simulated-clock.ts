import type { Clock } from '../../src/reply/clock.ts';

interface Timer {
  at: number;
  sequence: number;
  resolve(): void;
}

/**
 * Simulated time: `sleep` waits for {@link SimulatedClock.run} to move time forward. `run` lets
 * pending promise work settle, then jumps to the next timer, until a condition holds or nothing is
 * left to do — minutes of pacing in milliseconds of real time.
 */
export class SimulatedClock implements Clock {
  #now = 0;
  #sequence = 0;
  #timers: Timer[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer: Timer = { at: this.#now + Math.max(0, ms), sequence: this.#sequence++, resolve };
      this.#timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.#timers = this.#timers.filter((candidate) => candidate !== timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Timers waiting. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Advances time until `until()` is true or no timer is left; returns the simulated time. */
  async run(until: () => boolean = () => false, maxMs = 24 * 3_600_000): Promise<number> {
    for (;;) {
      await settle();
      if (until()) return this.#now;
      const next = this.#timers.sort(
        (left, right) => left.at - right.at || left.sequence - right.sequence,
      )[0];
      if (!next || next.at > maxMs) return this.#now;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.resolve();
    }
  }
}

/** Lets every promise callback that is ready run. */
async function settle(): Promise<void> {
  for (let round = 0; round < 20; round++) await new Promise<void>((resolve) => setImmediate(resolve));
}
