import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChromaLaunchError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { silentLogger } from '../observability/logger-like.ts';
import { prepareGlibcRuntime } from './glibc-runtime.ts';

/** Options of {@link startChromaServer}. */
export interface ChromaServerOptions {
  /** Chroma's `--path`, e.g. `<DATA_DIR>/chroma`; created when missing. */
  dataDir: string;
  /** Where {@link prepareGlibcRuntime} caches the newer C library, e.g. `<project>/.cache`. */
  runtimeCacheDir: string;
  /** The server's standard output and error are appended here; its folder is created when missing. */
  logFile: string;
  /** Port on 127.0.0.1. @defaultValue a free port chosen by the system */
  port?: number;
  /** How long to wait for the first heartbeat. @defaultValue 60_000 */
  startTimeoutMs?: number;
  /** @defaultValue a logger that drops everything */
  logger?: LoggerLike;
}

/** A running local Chroma server. */
export interface ChromaServer {
  /** Base URL, e.g. `http://127.0.0.1:8123`. */
  readonly url: string;
  readonly port: number;
  /** Process id of the server, which also leads its process group. */
  readonly pid: number;
  /** Settles when the server process has exited, with how it ended (`exit code 1`, `signal SIGKILL`). */
  readonly exited: Promise<string>;
  /** Ends the server's process group; safe to call more than once, later calls share the first's result. */
  stop(): Promise<void>;
}

const defaults = {
  startTimeoutMs: 60_000,
  logger: silentLogger,
} as const satisfies Partial<Required<ChromaServerOptions>>;

/** Chroma logs "shutting down service" on SIGTERM and then spins forever, so SIGKILL follows this soon. */
const stopGraceMs = 2_000;
const heartbeatIntervalMs = 250;
const logTailLines = 20;
/** Written into the data folder while a server runs there, to find it again after a `kill -9` of its parent. */
const pidFileName = 'chroma-launcher.pid';

/**
 * Starts Chroma's own server (the `chroma run` CLI of the installed `chromadb` package) on 127.0.0.1
 * and resolves once it answers `GET /api/v2/heartbeat`.
 *
 * On glibc older than 2.39 (Debian 12) the CLI is run through the dynamic loader of a Debian 13 C
 * library prepared by {@link prepareGlibcRuntime}. The server runs in its own process group, so it can
 * be stopped as a whole. It is killed on every way out of this process: normal exit, SIGINT, SIGTERM,
 * SIGHUP and uncaught errors, because a Chroma left behind keeps a CPU core busy.
 *
 * @throws {@link ChromaLaunchError} when the server exits early or does not answer within
 *   `startTimeoutMs`; the message carries the last lines of the log and the log file's path.
 * @see https://docs.trychroma.com/docs/cli/run
 */
export async function startChromaServer(options: ChromaServerOptions): Promise<ChromaServer> {
  const logger = options.logger ?? defaults.logger;
  const startTimeoutMs = options.startTimeoutMs ?? defaults.startTimeoutMs;
  const logFile = resolve(options.logFile);
  const dataDir = resolve(options.dataDir);

  await mkdir(dirname(logFile), { recursive: true });
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw new ChromaLaunchError(
      `Cannot use ${dataDir} as Chroma's data folder (${(error as Error).message}); the server was not ` +
        `started and its log file ${logFile} was not written. Point the data folder elsewhere.`,
      { cause: error, logFile },
    );
  }

  await reapOrphanedServer(dataDir, logger);
  const runtime = await prepareGlibcRuntime({ cacheDir: options.runtimeCacheDir, logger });
  const port = options.port ?? (await findFreePort());
  const cliArgs = [resolveChromaCli(), 'run', '--path', dataDir, '--port', String(port)];
  const [command, args] =
    runtime === null
      ? [process.execPath, cliArgs]
      : [runtime.loader, ['--library-path', runtime.libraryPath, process.execPath, ...cliArgs]];

  const logStart = await fileSize(logFile);
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // Detached: its own process group, so stop() reaches everything it may fork.
    child = spawn(command, args, { detached: true, stdio: ['ignore', logFd, logFd], env: process.env });
  } finally {
    closeSync(logFd);
  }
  if (!hasPid(child)) {
    const spawnError = await new Promise<Error>((resolveError) => child.once('error', resolveError));
    throw new ChromaLaunchError(
      `Could not start Chroma (${command}): ${spawnError.message}. Log: ${logFile}`,
      {
        cause: spawnError,
        logFile,
      },
    );
  }
  // Registered before anything else can throw, so every exit path of this process reaches it.
  const server = new RunningServer(child, dataDir, port, logger);
  const { pid, url } = server;
  logger.info({ pid, port, dataDir, logFile, glibcWorkaround: runtime !== null }, 'chroma server starting');
  try {
    await writeFile(
      join(dataDir, pidFileName),
      `${JSON.stringify({ pid, parentPid: process.pid, port, startedAt: new Date().toISOString() })}\n`,
    );
  } catch (error) {
    await server.stop();
    throw new ChromaLaunchError(`Cannot write the pid file in ${dataDir}: ${(error as Error).message}`, {
      cause: error,
      logFile,
    });
  }

  const startedAt = Date.now();
  const outcome = await waitForHeartbeat(url, server.exited, startTimeoutMs);
  if (outcome.ready) {
    logger.info({ url, pid, durationMs: Date.now() - startedAt }, 'chroma server ready');
    return server;
  }
  await server.stop();
  const tail = await readLogTail(logFile, logStart);
  throw new ChromaLaunchError(
    `Chroma server ${outcome.reason} (port ${port}, data ${dataDir}). Log file: ${logFile}\n` +
      `Last lines of the log:\n${tail || '(empty)'}\n` +
      'Fix the cause above, or set CHROMA_URL to an existing Chroma server.',
    { logFile },
  );
}

class RunningServer implements ChromaServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #dataDir: string;
  /** Settles when the server process has exited, with how it ended. */
  readonly exited: Promise<string>;
  readonly #logger: LoggerLike;
  #hasExited = false;
  #stopping: Promise<void> | undefined;

  constructor(child: ChildProcess & { pid: number }, dataDir: string, port: number, logger: LoggerLike) {
    this.#child = child;
    this.#dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.port = port;
    this.pid = child.pid;
    this.#logger = logger;
    this.exited = new Promise<string>((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.#hasExited = true;
        runningServers.delete(this);
        resolveExit(signal === null ? `exit code ${code}` : `signal ${signal}`);
      });
    });
    runningServers.add(this);
    installExitHooks();
    // This process may end without calling stop(); the exit hooks then kill the server.
    child.unref();
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // The child was unref'd at start; without this, a caller awaiting stop() in an otherwise idle
    // process would see Node exit before the server's exit is observed.
    this.#child.ref();
    if (!this.#hasExited) {
      signalGroup(this.pid, 'SIGTERM');
      const graceful = await Promise.race([this.exited, sleep(stopGraceMs).then(() => undefined)]);
      if (graceful === undefined) {
        this.#logger.debug(
          { pid: this.pid },
          'chroma ignored SIGTERM (known shutdown hang); sending SIGKILL',
        );
      }
    }
    // Even after the leader exits, anything it forked may linger in the group.
    signalGroup(this.pid, 'SIGKILL');
    await this.exited;
    runningServers.delete(this);
    await rm(join(this.#dataDir, pidFileName), { force: true });
    this.#logger.info({ pid: this.pid, url: this.url }, 'chroma server stopped');
  }

  /** Synchronous last resort for process exit: no waiting possible there. */
  killNow(): void {
    signalGroup(this.pid, 'SIGKILL');
  }
}

const runningServers = new Set<RunningServer>();
let exitHooksInstalled = false;

const signalExitCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAllNow);
  // The monitor sees uncaught exceptions and unhandled rejections without changing how they end the
  // process (a plain 'uncaughtException' listener would keep a crashed process alive).
  process.on('uncaughtExceptionMonitor', killAllNow);
  for (const signal of Object.keys(signalExitCodes) as (keyof typeof signalExitCodes)[]) {
    process.on(signal, () => void onSignal(signal));
  }
}

let signalled = false;

async function onSignal(signal: keyof typeof signalExitCodes): Promise<void> {
  // Listening suppresses Node's default of exiting; keep that default only when nobody else listens,
  // and leave the exit to the application's own handler otherwise (the 'exit' hook still kills).
  const ownsExit = process.listenerCount(signal) === 1;
  if (signalled) {
    killAllNow();
    if (ownsExit) process.exit(signalExitCodes[signal]);
    return;
  }
  signalled = true;
  // The application's own handler stops its servers once its answers have ended (the bot's
  // shutdown gives streaming answers a grace, and they may still search): not before.
  if (!ownsExit) return;
  await Promise.allSettled([...runningServers].map((server) => server.stop()));
  process.exit(signalExitCodes[signal]);
}

function killAllNow(): void {
  for (const server of runningServers) server.killNow();
}

/**
 * A parent killed with SIGKILL runs no exit hook, so its server lives on. The next start on the same
 * data folder finds it through the pid file and ends it; a server whose parent is still alive is
 * someone else's, and two servers on one data folder would fight over its SQLite file.
 */
async function reapOrphanedServer(dataDir: string, logger: LoggerLike): Promise<void> {
  const pidFile = join(dataDir, pidFileName);
  let recorded: { pid?: unknown; parentPid?: unknown };
  try {
    recorded = JSON.parse(await readFile(pidFile, 'utf8')) as typeof recorded;
  } catch {
    return;
  }
  const { pid, parentPid } = recorded;
  if (typeof pid !== 'number' || typeof parentPid !== 'number') return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const isOurServer = cmdline.includes('cli.mjs') && cmdline.split('\0').includes(dataDir);
  if (isOurServer && isAlive(parentPid) && parentPid !== process.pid) {
    throw new ChromaLaunchError(
      `Chroma (pid ${pid}) started by process ${parentPid} is already serving ${dataDir}; stop that process ` +
        'or give this one another data folder.',
    );
  }
  if (isOurServer && parentPid !== process.pid) {
    logger.warn({ pid, parentPid, dataDir }, 'killing a Chroma server left behind by a killed process');
    signalGroup(pid, 'SIGKILL');
  }
  await rm(pidFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function hasPid(child: ChildProcess): child is ChildProcess & { pid: number } {
  return child.pid !== undefined;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitForHeartbeat(
  url: string,
  exited: Promise<string>,
  timeoutMs: number,
): Promise<{ ready: true } | { ready: false; reason: string }> {
  const deadline = Date.now() + timeoutMs;
  let exitReason: string | undefined;
  void exited.then((how) => {
    exitReason = how;
  });
  while (Date.now() < deadline) {
    if (exitReason !== undefined) return { ready: false, reason: `exited before answering (${exitReason})` };
    try {
      const heartbeat = fetch(`${url}/api/v2/heartbeat`, {
        signal: AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - Date.now()))),
      });
      // Something else may hold the port and never answer; the server's exit must not wait for that.
      const response = await Promise.race([heartbeat, exited.then(() => undefined)]);
      if (response?.ok) return { ready: true };
    } catch {
      // Not listening yet.
    }
    await Promise.race([exited, sleep(heartbeatIntervalMs)]);
  }
  if (exitReason !== undefined) return { ready: false, reason: `exited before answering (${exitReason})` };
  return { ready: false, reason: `did not answer ${url}/api/v2/heartbeat within ${timeoutMs} ms` };
}

/** The `chroma` CLI of the installed chromadb package, found from the package itself rather than cwd. */
function resolveChromaCli(): string {
  const require = createRequire(import.meta.url);
  // The package's exports hide package.json and dist/cli.mjs; its entry point leads to the package root.
  let folder = dirname(require.resolve('chromadb'));
  for (;;) {
    const manifest = join(folder, 'package.json');
    try {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name?: string;
        bin?: string | Record<string, string>;
      };
      if (parsed.name === 'chromadb') {
        const bin = typeof parsed.bin === 'string' ? parsed.bin : parsed.bin?.chroma;
        return join(folder, bin ?? 'dist/cli.mjs');
      }
    } catch {
      // No manifest here; keep walking up.
    }
    const parent = dirname(folder);
    if (parent === folder)
      throw new ChromaLaunchError('The chromadb package is installed without a package.json.');
    folder = parent;
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** The last lines this run wrote to the log, without terminal colour codes. */
async function readLogTail(logFile: string, from: number): Promise<string> {
  const maxBytes = 16 * 1024;
  const size = await fileSize(logFile);
  const start = Math.max(from, size - maxBytes);
  const handle = await open(logFile, 'r');
  let text: string;
  try {
    const buffer = Buffer.alloc(Math.max(0, size - start));
    await handle.read(buffer, 0, buffer.length, start);
    text = buffer.toString('utf8');
  } finally {
    await handle.close();
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour escapes from Chroma's log
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
  return plain
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-logTailLines)
    .join('\n');
}
