/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Where progress goes. @defaultValue process.stderr */
  stream?: NodeJS.WriteStream;
  /** Width of the bar in characters. @defaultValue 30 */
  width?: number;
}

/** Reports progress of a counted task. */
export interface Progress {
  update(done: number, total: number, label: string): void;
  done(): void;
}

/**
 * A progress bar redrawn in place on a terminal; on anything else (CI logs, pipes) plain lines at
 * each tenth of the way, so logs stay readable.
 */
export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const width = options.width ?? 30;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(done, total, label) {
      const ratio = total === 0 ? 1 : Math.min(1, done / total);
      if (stream.isTTY) {
        const filled = Math.round(ratio * width);
        stream.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(ratio * 100)}% ${done}/${total} ${label}`,
        );
        drawn = true;
        return;
      }
      const tenth = Math.floor(ratio * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        stream.write(`${label}: ${done}/${total} (${Math.round(ratio * 100)}%)\n`);
      }
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
      lastTenth = -1;
    },
  };
}
