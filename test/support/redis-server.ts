import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';

/**
 * A redis-server of a test's own on a spare loopback port, never the machine's shared one: the test
 * may freeze, kill and restart it. Nothing is persisted (`--save ''`, no AOF), so a restart is empty.
 */
export interface OwnRedis {
  port: number;
  url: string;
  /** SIGSTOP: the socket stays open and the kernel accepts connections, but nothing answers. */
  freeze(): void;
  /** SIGCONT after {@link freeze}. */
  thaw(): void;
  /** SIGKILL, resolved when the process is gone: connections are refused from then on. */
  kill(): Promise<void>;
  /** A new server on the same port (empty). */
  restart(): Promise<void>;
  /** Kills it if it runs (thawing first). Safe to call twice. */
  stop(): Promise<void>;
}

/** A port nothing listens on now: bound on 0 and closed again. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `/usr/bin/redis-server` on a free port (or `port`) and waits until it answers PING. */
export async function startRedisServer(port?: number): Promise<OwnRedis> {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined;
  let frozen = false;

  const launch = async () => {
    child = spawn(
      '/usr/bin/redis-server',
      ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    frozen = false;
    await waitForPong(chosen);
  };
  const kill = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    if (frozen) running.kill('SIGCONT');
    running.kill('SIGKILL');
    await exited;
    frozen = false;
  };

  await launch();
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    freeze() {
      child?.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      child?.kill('SIGCONT');
      frozen = false;
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    stop: kill,
  };
}

async function waitForPong(port: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setTimeout(500, () => socket.destroy());
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        resolve(data.toString().startsWith('+PONG'));
        socket.destroy();
      });
      socket.once('close', () => resolve(false));
      socket.once('error', () => resolve(false));
    });
    if (answered) return;
    if (Date.now() - started > timeoutMs) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A loopback TCP proxy in front of a server that holds each chunk of the server's replies `delayMs`. */
export interface SlowProxy {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts a {@link SlowProxy} to `127.0.0.1:targetPort`: a Redis that answers each command after `delayMs`. */
export async function startSlowProxy(targetPort: number, delayMs: number): Promise<SlowProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    // The same delay for every chunk keeps them in order.
    upstream.on('data', (chunk) => {
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, delayMs);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
