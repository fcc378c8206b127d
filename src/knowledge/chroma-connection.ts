import path from 'node:path';
import { ChromaClient } from 'chromadb';
import { ChromaUnavailableError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { type ChromaServer, startChromaServer } from './chroma-launcher.ts';

/** Options of {@link ChromaConnection}. */
export interface ChromaConnectionOptions {
  /** A running server to use. Empty: start a local one under `dataDir`. */
  url: string;
  /** Local state folder: the embedded server keeps its data in `chroma/` and its log in `logs/`. */
  dataDir: string;
  /** Where the Debian 12 C-library runtime for the embedded server is cached. */
  runtimeCacheDir: string;
  /** @defaultValue 60_000 */
  startTimeoutMs?: number;
  logger?: LoggerLike;
  /** Starts the embedded server; injected by tests. @defaultValue {@link startChromaServer} */
  startServer?: typeof startChromaServer;
}

/** A connected client and where it points. */
export interface ChromaHandle {
  client: ChromaClient;
  url: string;
}

/**
 * The process's one Chroma client. The first call to {@link connect} starts the embedded server
 * (or checks the configured one) and creates the client; every concurrent and later caller gets
 * the same one. The old system created a client per request and fell over at 100 users.
 */
export class ChromaConnection {
  readonly #options: ChromaConnectionOptions;
  #handle: Promise<ChromaHandle> | undefined;
  #server: ChromaServer | undefined;
  #closed = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: ChromaConnectionOptions) {
    this.#options = options;
  }

  /** The shared client, connected and answering heartbeats. */
  connect(): Promise<ChromaHandle> {
    this.#handle ??= this.#connect().catch((error: unknown) => {
      this.#handle = undefined;
      throw error;
    });
    return this.#handle;
  }

  async #connect(): Promise<ChromaHandle> {
    const { logger } = this.#options;
    let url = this.#options.url;
    if (!url) {
      this.#closed = false;
      this.#server = await this.#startServer();
      url = this.#server.url;
    }
    const client = createClient(url);
    try {
      await client.heartbeat();
    } catch (error) {
      throw new ChromaUnavailableError(
        url,
        `Chroma at ${url} is not reachable: start it, fix CHROMA_URL, or unset CHROMA_URL to run a local one.`,
        { cause: error },
      );
    }
    logger?.info({ url, embedded: Boolean(this.#server) }, 'chroma connected');
    return { client, url };
  }

  /** Starts the embedded server, on `port` when given (a restart keeps the clients' URL). */
  async #startServer(port?: number): Promise<ChromaServer> {
    const { dataDir, runtimeCacheDir, logger } = this.#options;
    const startServer = this.#options.startServer ?? startChromaServer;
    const server = await startServer({
      dataDir: path.join(dataDir, 'chroma'),
      runtimeCacheDir,
      logFile: path.join(dataDir, 'logs', 'chroma.log'),
      startTimeoutMs: this.#options.startTimeoutMs ?? 60_000,
      ...(port ? { port } : {}),
      ...(logger ? { logger } : {}),
    });
    void server.exited.then((how) => this.#onExit(server, how));
    return server;
  }

  /**
   * The embedded server died under us (killed, out of memory): it is started again on the same
   * port, so every client keeps working once it is up; meanwhile questions are handed over as
   * during any outage. Attempts back off from 1 s to 30 s.
   */
  #onExit(server: ChromaServer, how: string): void {
    if (this.#closed || this.#server !== server) return;
    const delayMs = Math.min(30_000, 1_000 * 2 ** this.#restarts);
    this.#restarts++;
    this.#options.logger?.warn(
      { url: server.url, how, retryInMs: delayMs },
      `the embedded Chroma server stopped (${how}); starting it again in ${delayMs} ms`,
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed || this.#server !== server) return;
      this.#startServer(server.port).then(
        (restarted) => {
          if (this.#closed) return void restarted.stop();
          this.#server = restarted;
          this.#restarts = 0;
          this.#options.logger?.info(
            { url: restarted.url, pid: restarted.pid },
            'embedded Chroma server restarted',
          );
        },
        (error: unknown) => {
          this.#options.logger?.error(
            { err: error },
            `the embedded Chroma server could not be restarted: ${error instanceof Error ? error.message : String(error)}`,
          );
          this.#onExit(server, how);
        },
      );
    }, delayMs);
    this.#restartTimer.unref();
  }

  /** Stops the embedded server, if this connection started one. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    const server = this.#server;
    this.#server = undefined;
    this.#handle = undefined;
    await server?.stop();
  }
}

function createClient(url: string): ChromaClient {
  const parsed = new URL(url);
  const ssl = parsed.protocol === 'https:';
  return new ChromaClient({
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : ssl ? 443 : 80,
    ssl,
  });
}
