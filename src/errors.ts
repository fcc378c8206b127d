/**
 * One base error for the whole bot. Every error carries a stable string `code`, says whether a retry
 * could help, and keeps the original failure as `cause`. Unknown throws are wrapped once, at the edge,
 * with {@link toSupportBotError}.
 */
export class SupportBotError extends Error {
  /** A stable, machine-readable code such as `config_invalid` or `chroma_unreachable`. */
  readonly code: string;
  /** Whether the same call may succeed when tried again (timeouts, 429, 5xx, connection errors). */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A configuration value is missing or invalid; the message names the key, the value and the fix. */
export class ConfigError extends SupportBotError {
  readonly key: string;
  constructor(key: string, message: string) {
    super('config_invalid', message);
    this.key = key;
  }
}

/** The vector store could not be reached or answered with an error. */
export class ChromaUnavailableError extends SupportBotError {
  readonly url: string;
  constructor(url: string, message: string, options: { cause?: unknown } = {}) {
    super('chroma_unreachable', message, { ...options, retryable: true });
    this.url = url;
  }
}

/** The knowledge base did not answer within its deadline (a frozen or overloaded Chroma). */
export class KnowledgeBaseTimeoutError extends SupportBotError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('knowledge_timeout', message, { ...options, retryable: true });
  }
}

/** Calls to the knowledge base fail at once: it failed several times in a row and has not answered since. */
export class KnowledgeBaseUnavailableError extends SupportBotError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('knowledge_unavailable', message, { ...options, retryable: true });
  }
}

/** The collection was built by another embedder (or dimension) than the one configured now. */
export class EmbedderMismatchError extends SupportBotError {
  /** What the collection was ingested from, as recorded by the last ingest. */
  readonly source: string;
  constructor(message: string, options: { source?: string } = {}) {
    super('embedder_mismatch', message);
    this.source = options.source ?? '';
  }
}

/**
 * The lexical index's engine could not be opened: PostgreSQL at DATABASE_URL is unreachable or
 * refused us. `location` is the URL with its password masked; the message says what to do.
 */
export class LexicalIndexUnavailableError extends SupportBotError {
  readonly location: string;
  constructor(location: string, message: string, options: { cause?: unknown } = {}) {
    super('lexical_index_unreachable', message, { ...options, retryable: true });
    this.location = location;
  }
}

/**
 * A call to the shared key-value store (Redis) failed: `store_timeout` when it missed its deadline
 * (a frozen or overloaded server), `store_unavailable` when it was refused, the connection is down
 * or the circuit is open. The store degrades instead of passing it on; see `ResilientStore`.
 */
export class StoreUnavailableError extends SupportBotError {
  /** `get`, `set`, `delete`, `claim`, `probe` or `replay`. */
  readonly operation: string;
  constructor(
    code: 'store_timeout' | 'store_unavailable',
    operation: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, { ...options, retryable: true });
    this.operation = operation;
  }
}

/** A document or line of input could not be ingested; `source` names the file and, for JSONL, the line. */
export class IngestInputError extends SupportBotError {
  readonly source: string;
  constructor(source: string, message: string, options: { cause?: unknown } = {}) {
    super('ingest_input_invalid', message, options);
    this.source = source;
  }
}

/** Wraps anything thrown into a {@link SupportBotError}, leaving ours untouched. */
export function toSupportBotError(error: unknown, code = 'internal'): SupportBotError {
  if (error instanceof SupportBotError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SupportBotError(code, message, { cause: error });
}

/**
 * A local Chroma server could not be prepared or started. The message says what failed and what to do
 * instead; `logFile` names the server's log when the server itself was started.
 */
export class ChromaLaunchError extends SupportBotError {
  readonly logFile: string | undefined;
  constructor(message: string, options: { cause?: unknown; logFile?: string; retryable?: boolean } = {}) {
    super('chroma_launch_failed', message, { cause: options.cause, retryable: options.retryable ?? false });
    this.logFile = options.logFile;
  }
}

/** A language-model call failed; `status` is the HTTP status when the API answered. */
export class ModelError extends SupportBotError {
  readonly model: string;
  readonly status: number | undefined;
  constructor(
    message: string,
    options: { model: string; status?: number; retryable?: boolean; cause?: unknown },
  ) {
    super('model_failed', message, { cause: options.cause, retryable: options.retryable ?? false });
    this.model = options.model;
    this.status = options.status;
  }
}

/**
 * A platform connection (Slack, Discord) could not start or was cut off. `retryable` says whether
 * trying again later can help (network, 5xx) or whether an operator must act first (bad token,
 * a privileged intent not enabled, the app uninstalled); the message says what to do.
 */
export class PlatformError extends SupportBotError {
  readonly platform: string;
  constructor(
    platform: string,
    code: string,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, message, { cause: options.cause, retryable: options.retryable ?? false });
    this.platform = platform;
  }
}
