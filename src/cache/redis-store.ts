import KeyvRedis, { createClient } from '@keyv/redis';
import { toSupportBotError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import type { RemoteStore } from './resilient-store.ts';

/** Options of {@link connectRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://`, with credentials if any. */
  url: string;
  /** How long one connection attempt may take. @defaultValue 2_000 */
  connectTimeoutMs?: number;
  /** The longest pause between reconnection attempts. @defaultValue 2_000 */
  maxReconnectDelayMs?: number;
  /** How long start-up waits for the first connection before going on without it. @defaultValue 250 */
  readyTimeoutMs?: number;
  logger?: LoggerLike;
}

/**
 * Redis for a {@link ResilientStore}: KeyvRedis (keys `namespace::key`, as before) over a node-redis
 * client set up so that no call ever waits on the connection:
 *
 * - `disableOfflineQueue`: while disconnected, commands fail at once (node-redis would otherwise
 *   queue them until a reconnection that may never come, which stalled every message);
 * - the client is connected here, once, and reconnects forever with a capped backoff in the
 *   background (KeyvRedis would otherwise await `connect()` inside the first call);
 * - KeyvRedis `throwOnErrors`, so failures reach the circuit breaker instead of reading as misses.
 *
 * Start-up waits up to `readyTimeoutMs` for the first connection, never longer.
 *
 * @see https://github.com/redis/node-redis/blob/master/docs/client-configuration.md
 */
export async function connectRedisStore(options: RedisStoreOptions): Promise<RemoteStore> {
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2_000;
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, maxReconnectDelayMs) + Math.floor(Math.random() * 50),
    },
  });
  const adapter = new KeyvRedis(client, { throwOnErrors: true, throwOnConnectError: true });
  // Every failed reconnection attempt emits an error; the outage itself is reported once by the
  // ResilientStore, so these stay at debug, and the latest one explains the commands that fail.
  let connectionError: unknown;
  adapter.on('error', (error: unknown) => {
    connectionError = error;
    options.logger?.debug({ err: toSupportBotError(error) }, 'Redis connection error');
  });
  client.on('ready', () => {
    connectionError = undefined;
  });
  /** "The client is offline" says little: while disconnected, add why (ECONNREFUSED, WRONGPASS…). */
  const explained = <T>(call: Promise<T>): Promise<T> =>
    call.catch((error: unknown) => {
      if (client.isReady || connectionError === undefined) throw error;
      throw new Error(`${messageOf(error)} (${messageOf(connectionError)})`, { cause: error });
    });
  // Rejects only when the reconnect strategy gives up, which this one never does.
  const connected = client.connect().then(
    () => true,
    () => false,
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    connected,
    new Promise((resolve) => {
      timer = setTimeout(resolve, options.readyTimeoutMs ?? 250);
    }),
  ]);
  clearTimeout(timer);

  return {
    get namespace() {
      return adapter.namespace;
    },
    set namespace(namespace: string | undefined) {
      adapter.namespace = namespace;
    },
    get: (key) => explained(adapter.get(key)),
    // Keyv hands its stores serialized strings.
    set: (key, value, ttlMs) => explained(adapter.set(key, value as string, ttlMs)),
    delete: (key) => explained(adapter.delete(key)),
    clear: () => explained(adapter.clear()),
    async claim(key, ttlMs) {
      const reply = await explained(
        client.set(adapter.createKeyPrefix(key, adapter.namespace), '1', {
          condition: 'NX',
          expiration: { type: 'PX', value: ttlMs },
        }),
      );
      return reply === 'OK';
    },
    ping: () => explained(client.ping()),
    async disconnect() {
      // QUIT would wait for replies a frozen server never sends: drop the connection instead.
      if (client.isOpen) client.destroy();
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
