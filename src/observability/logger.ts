import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Lowest level written. @defaultValue 'info' */
  level?: LoggerOptions['level'];
  /** Where lines go. @defaultValue standard error, so command output on standard out stays clean */
  destination?: NodeJS.WritableStream;
}

/**
 * The structured logger: one JSON line per event on standard error. Secrets are redacted by key
 * wherever they appear, so a config or client object logged by mistake does not leak them.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          '*.*.apiKey',
          'token',
          '*.token',
          'authorization',
          '*.authorization',
          '*.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}
