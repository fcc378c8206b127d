/**
 * The few logging methods that infrastructure helpers need. A pino `Logger` fits as it is, so helpers
 * take a logger through their options without depending on pino.
 */
export interface LoggerLike {
  /** Logs structured fields (or a bare message) followed by an optional message. */
  info(objectOrMessage: object | string, message?: string): void;
  warn(objectOrMessage: object | string, message?: string): void;
  error(objectOrMessage: object | string, message?: string): void;
  debug(objectOrMessage: object | string, message?: string): void;
}

/** A {@link LoggerLike} that drops everything: the default when no logger is passed. */
export const silentLogger: LoggerLike = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};
