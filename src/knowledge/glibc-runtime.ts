import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ChromaLaunchError } from '../errors.ts';
import type { LoggerLike } from '../observability/logger-like.ts';
import { silentLogger } from '../observability/logger-like.ts';

/** Runs a program without a shell and resolves with its output; rejects when it cannot start or fails. */
export type RunCommand = (
  file: string,
  args: readonly string[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv },
) => Promise<{ stdout: string; stderr: string }>;

/** Options of {@link prepareGlibcRuntime}. */
export interface GlibcRuntimeOptions {
  /** Folder for the prepared runtime; it goes into `<cacheDir>/glibc-trixie/`. */
  cacheDir: string;
  /** @defaultValue a logger that drops everything */
  logger?: LoggerLike;
  /** Runs apt-get, dpkg and the smoke test. @defaultValue `execFile` from node:child_process */
  exec?: RunCommand;
  /**
   * The glibc version of this process, or `null` when it does not run on glibc.
   * @defaultValue `process.report.getReport().header.glibcVersionRuntime`
   */
  glibcVersion?: string | null;
  /**
   * The OpenPGP keyring that verifies the Debian 13 (trixie) archive. When it lacks the trixie keys,
   * `debian-archive-keyring` is fetched from the system's own Debian release (verified with this
   * keyring) and its newer keyring is used instead.
   * @defaultValue '/usr/share/keyrings/debian-archive-keyring.gpg'
   */
  keyring?: string;
  /** Where `etc/os-release` and `etc/apt/sources.list*` are read from; tests point it at a fixture. @defaultValue '/' */
  systemRoot?: string;
}

/** How to run a program against the prepared C library. */
export interface GlibcRuntime {
  /** The dynamic loader (`ld-linux-*.so`) to run the program with. */
  loader: string;
  /** The value for the loader's `--library-path`: the prepared library folders, `:`-separated. */
  libraryPath: string;
}

/** One entry of an apt sources file, whichever format it came in. */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
}

/** The oldest glibc that chromadb-js-bindings-linux-*-gnu loads with. */
export const requiredGlibcVersion = '2.39';

/** The Debian release whose C library is new enough; its archive is read from the system's apt sources. */
const donorSuite = 'trixie';
const donorPackages = ['libc6', 'libstdc++6', 'libgcc-s1'] as const;
const runtimeFolderName = 'glibc-trixie';
const markerFileName = 'ready.json';

const defaults = {
  logger: silentLogger,
  keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
  systemRoot: '/',
} as const satisfies Partial<Required<GlibcRuntimeOptions>>;

/** Per-architecture names: the multiarch folder and the dynamic loader's file name. */
const architectures: Record<string, { triplet: string; loader: string; debian: string }> = {
  x64: { triplet: 'x86_64-linux-gnu', loader: 'ld-linux-x86-64.so.2', debian: 'amd64' },
  arm64: { triplet: 'aarch64-linux-gnu', loader: 'ld-linux-aarch64.so.1', debian: 'arm64' },
};

const preparations = new Map<string, Promise<GlibcRuntime>>();

/**
 * Makes Chroma's native binding loadable on a system whose glibc is older than
 * {@link requiredGlibcVersion} (Debian 12 has 2.36): downloads libc6, libstdc++6 and libgcc-s1 from
 * Debian 13 with `apt-get download` (private apt state, signatures verified, the system's apt setup left
 * untouched), unpacks them into `<cacheDir>/glibc-trixie/`, and says how to run a program with them.
 *
 * Prepared once: later calls, in this process or others, reuse the cache. The runtime is assembled in a
 * private temporary folder and renamed into place only when complete, so a crash half-way leaves
 * nothing that looks usable, and concurrent first uses across processes cannot see each other's work.
 *
 * @returns `null` when this process's glibc is new enough (or it is not glibc), so no workaround is needed.
 * @throws {@link ChromaLaunchError} when apt-get is missing, no Debian apt source is configured, or the
 *   download fails; the message says to point `CHROMA_URL` at an existing server instead.
 */
export async function prepareGlibcRuntime(options: GlibcRuntimeOptions): Promise<GlibcRuntime | null> {
  const glibcVersion = options.glibcVersion === undefined ? detectGlibcVersion() : options.glibcVersion;
  if (process.platform !== 'linux' || glibcVersion === null) return null;
  if (compareVersions(glibcVersion, requiredGlibcVersion) >= 0) return null;

  const key = resolve(options.cacheDir);
  let preparation = preparations.get(key);
  if (preparation === undefined) {
    preparation = prepare(key, glibcVersion, options).catch((error: unknown) => {
      preparations.delete(key);
      throw error;
    });
    preparations.set(key, preparation);
  }
  return preparation;
}

/** The glibc version this process runs on, or `null` on another C library or platform. */
export function detectGlibcVersion(): string | null {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: unknown } } | undefined;
  const version = report?.header?.glibcVersionRuntime;
  return typeof version === 'string' && version !== '' ? version : null;
}

/**
 * Compares dotted numeric versions (`2.36` < `2.39` < `2.41.1`); missing parts count as 0 and any
 * non-numeric tail of a part is ignored.
 * @returns a negative number, 0 or a positive number, like a sort comparator.
 */
export function compareVersions(left: string, right: string): number {
  const leftParts = left.trim().split('.');
  const rightParts = right.trim().split('.');
  for (let index = 0; index < Math.max(leftParts.length, rightParts.length); index++) {
    const difference =
      Number.parseInt(leftParts[index] ?? '0', 10) - Number.parseInt(rightParts[index] ?? '0', 10);
    if (Number.isNaN(difference)) throw new Error(`Not a dotted version: "${left}" or "${right}"`);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * Parses deb822 sources (`/etc/apt/sources.list.d/*.sources`): stanzas separated by blank lines,
 * `#` comments, continuation lines starting with a space. Stanzas with `Enabled: no` are dropped.
 * @see https://manpages.debian.org/bookworm/apt/sources.list.5.en.html
 */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\r?\n(?:[ \t]*\r?\n)+/)) {
    const fields = new Map<string, string>();
    let currentField: string | undefined;
    for (const line of stanza.split(/\r?\n/)) {
      if (line.startsWith('#')) continue;
      if (/^[ \t]/.test(line)) {
        if (currentField !== undefined)
          fields.set(currentField, `${fields.get(currentField)} ${line.trim()}`);
        continue;
      }
      const match = /^([A-Za-z0-9-]+):(.*)$/.exec(line);
      if (match === null) continue;
      currentField = (match[1] ?? '').toLowerCase();
      fields.set(currentField, (match[2] ?? '').trim());
    }
    if (!fields.has('uris')) continue;
    if (/^(no|false|0)$/i.test(fields.get('enabled') ?? 'yes')) continue;
    const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter((word) => word !== '');
    sources.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
    });
  }
  return sources;
}

/**
 * Parses one-line sources (`/etc/apt/sources.list`, `*.list`): `deb [options] URI suite component...`.
 * @see https://manpages.debian.org/bookworm/apt/sources.list.5.en.html
 */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine
      .replace(/#.*$/, '')
      .replace(/\[[^\]]*\]/, ' ')
      .trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (type === undefined || uri === undefined || suite === undefined) continue;
    if (type !== 'deb' && type !== 'deb-src') continue;
    sources.push({ types: [type], uris: [uri], suites: [suite], components });
  }
  return sources;
}

/**
 * Picks the Debian archive among the system's apt sources: a binary (`deb`) source over http(s)
 * carrying `main` for the system's own release (`codename`, e.g. `bookworm`). Security, updates and
 * backports suites, and third-party repositories (whose suites are not the release name), are skipped.
 * @returns the archive's base URI without a trailing slash, or `undefined` when none qualifies.
 */
export function pickDebianMirror(sources: readonly AptSource[], codename: string): string | undefined {
  for (const source of sources) {
    if (!source.types.includes('deb')) continue;
    if (!source.components.includes('main')) continue;
    if (!source.suites.some((suite) => suite === codename)) continue;
    for (const uri of source.uris) {
      if (!/^https?:\/\//.test(uri)) continue;
      if (/security/i.test(uri)) continue;
      return uri.replace(/\/+$/, '');
    }
  }
  return undefined;
}

/** Reads `VERSION_CODENAME` (falling back to the codename in `VERSION`) from os-release text. */
export function parseOsReleaseCodename(text: string): string | undefined {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match !== null) values.set(match[1] ?? '', (match[2] ?? '').replace(/^["']|["']$/g, ''));
  }
  const codename = values.get('VERSION_CODENAME') ?? /\(([a-z]+)\)/.exec(values.get('VERSION') ?? '')?.[1];
  return codename === '' ? undefined : codename;
}

interface Marker {
  loader: string;
  libraryDirs: string[];
  packages: string[];
  preparedAt: string;
}

async function prepare(
  cacheDir: string,
  glibcVersion: string,
  options: GlibcRuntimeOptions,
): Promise<GlibcRuntime> {
  const logger = options.logger ?? defaults.logger;
  const exec = options.exec ?? runCommand;
  const runtimeDir = join(cacheDir, runtimeFolderName);

  const cached = await readMarker(runtimeDir);
  if (cached !== undefined) return toRuntime(runtimeDir, cached);

  const architecture = architectures[process.arch];
  if (architecture === undefined) {
    throw new ChromaLaunchError(
      `Chroma's native binding needs glibc >= ${requiredGlibcVersion} but this system has ${glibcVersion}, ` +
        `and the Debian 13 workaround supports x64 and arm64 only, not ${process.arch}. ` +
        'Set CHROMA_URL to an existing Chroma server.',
    );
  }

  const workDir = join(cacheDir, `${runtimeFolderName}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const startedAt = Date.now();
  logger.info(
    { glibcVersion, required: requiredGlibcVersion, cacheDir },
    'glibc too old for Chroma: preparing the Debian 13 C library (first use only)',
  );
  try {
    await mkdir(cacheDir, { recursive: true });
    await removeAbandonedWorkDirs(cacheDir, logger);
    await mkdir(workDir);
    const marker = await assembleRuntime(workDir, architecture, { ...options, exec, logger });
    await installWorkDir(workDir, runtimeDir);
    logger.info({ durationMs: Date.now() - startedAt, runtimeDir }, 'glibc runtime for Chroma ready');
    const installed = await readMarker(runtimeDir);
    return toRuntime(runtimeDir, installed ?? marker);
  } catch (error) {
    if (error instanceof ChromaLaunchError) throw error;
    throw new ChromaLaunchError(
      `Preparing the Debian 13 C library for Chroma in ${cacheDir} failed: ${errorText(error)}. ` +
        'Make that folder writable, or set CHROMA_URL to an existing Chroma server.',
      { cause: error },
    );
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function assembleRuntime(
  workDir: string,
  architecture: { triplet: string; loader: string; debian: string },
  options: GlibcRuntimeOptions & { exec: RunCommand; logger: LoggerLike },
): Promise<Marker> {
  const { exec, logger } = options;
  await checkAptGet(exec);
  const { mirror, codename } = await findDebianMirror(options.systemRoot ?? defaults.systemRoot);
  logger.debug({ mirror, codename }, 'Debian archive read from the system apt sources');

  let keyring = options.keyring ?? defaults.keyring;
  const apt = privateApt(join(workDir, 'apt-donor'), exec, architecture.debian);
  try {
    await apt.update(mirror, donorSuite, keyring);
  } catch (error) {
    // A current Debian 12 keyring verifies Debian 13 (it ships the trixie keys, and trixie's Release is
    // also signed with the bookworm keys); an outdated one may not. Rather than switching verification
    // off, fetch the newer keyring from the system's own release, which the installed keyring does
    // verify, and verify trixie with that.
    if (!isSignatureFailure(commandOutput(error))) throw downloadFailed(error);
    logger.warn({ keyring }, 'keyring lacks the Debian 13 keys; fetching debian-archive-keyring first');
    keyring = await fetchNewerKeyring(workDir, mirror, codename, keyring, exec, architecture.debian);
    await apt.update(mirror, donorSuite, keyring).catch((retryError: unknown) => {
      throw downloadFailed(retryError);
    });
  }

  const debsDir = join(workDir, 'debs');
  await mkdir(debsDir);
  await apt.download(debsDir, donorPackages).catch((error: unknown) => {
    throw downloadFailed(error);
  });
  const debs = (await readdir(debsDir)).filter((name) => name.endsWith('.deb')).sort();
  const rootDir = join(workDir, 'root');
  for (const deb of debs) {
    await exec('dpkg', ['-x', join(debsDir, deb), rootDir]).catch((error: unknown) => {
      throw new ChromaLaunchError(
        `Unpacking ${deb} with dpkg -x failed: ${errorText(error)}. Set CHROMA_URL to an existing Chroma server.`,
        { cause: error },
      );
    });
  }

  const libraryDirs: string[] = [];
  for (const candidate of [`lib/${architecture.triplet}`, `usr/lib/${architecture.triplet}`]) {
    if (await exists(join(rootDir, candidate))) libraryDirs.push(join('root', candidate));
  }
  let loader: string | undefined;
  for (const candidate of libraryDirs.map((dir) => join(dir, architecture.loader))) {
    if (await exists(join(workDir, candidate))) {
      loader = candidate;
      break;
    }
  }
  const hasLibc = await Promise.all(libraryDirs.map((dir) => exists(join(workDir, dir, 'libc.so.6'))));
  if (loader === undefined || !hasLibc.includes(true)) {
    throw new ChromaLaunchError(
      `The Debian 13 packages (${debs.join(', ')}) did not contain ${architecture.loader} and libc.so.6 ` +
        `under lib/${architecture.triplet} or usr/lib/${architecture.triplet}. ` +
        'Set CHROMA_URL to an existing Chroma server.',
    );
  }

  await Promise.all([
    rm(join(workDir, 'apt-donor'), { recursive: true, force: true }),
    rm(join(workDir, 'apt-keyring'), { recursive: true, force: true }),
    rm(debsDir, { recursive: true, force: true }),
  ]);

  const marker: Marker = {
    loader,
    libraryDirs,
    packages: debs.map((deb) => deb.replace(/\.deb$/, '')),
    preparedAt: new Date().toISOString(),
  };
  await smokeTest(toRuntime(workDir, marker), exec);
  // Written last: its presence is what marks the runtime as complete.
  await writeFile(join(workDir, markerFileName), `${JSON.stringify(marker, null, 2)}\n`);
  return marker;
}

/** Runs this very Node binary on the prepared libraries and checks it reports the newer glibc. */
async function smokeTest(runtime: GlibcRuntime, exec: RunCommand): Promise<void> {
  const { stdout } = await exec(runtime.loader, [
    '--library-path',
    runtime.libraryPath,
    process.execPath,
    '-p',
    'process.report.getReport().header.glibcVersionRuntime',
  ]).catch((error: unknown) => {
    throw new ChromaLaunchError(
      `Node does not start on the downloaded Debian 13 C library: ${errorText(error)}. ` +
        'Set CHROMA_URL to an existing Chroma server.',
      { cause: error },
    );
  });
  if (compareVersions(stdout.trim(), requiredGlibcVersion) < 0) {
    throw new ChromaLaunchError(
      `The downloaded C library reports glibc ${stdout.trim()}, older than ${requiredGlibcVersion}. ` +
        'Set CHROMA_URL to an existing Chroma server.',
    );
  }
}

/**
 * apt-get with its own sources, lists, cache and (empty) dpkg status, so neither the system's apt
 * configuration nor its locks are touched. The system's apt.conf.d still applies (proxies, transports).
 */
function privateApt(stateDir: string, exec: RunCommand, debianArchitecture: string) {
  const sourcesFile = join(stateDir, 'sources.sources');
  const aptOptions = [
    `Dir::Etc::SourceList=${sourcesFile}`,
    'Dir::Etc::SourceParts=/dev/null',
    'Dir::Etc::Preferences=/dev/null',
    'Dir::Etc::PreferencesParts=/dev/null',
    `Dir::State::Lists=${join(stateDir, 'lists')}`,
    `Dir::State::status=${join(stateDir, 'status')}`,
    `Dir::Cache=${join(stateDir, 'cache')}`,
    'Debug::NoLocking=true',
    `APT::Architecture=${debianArchitecture}`,
    `APT::Architectures=${debianArchitecture}`,
    'Acquire::Languages=none',
    // Without this, apt-get update exits 0 after a failed signature check or download.
    'APT::Update::Error-Mode=any',
  ].flatMap((option) => ['-o', option]);
  const env = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };

  return {
    async update(mirror: string, suite: string, keyring: string): Promise<void> {
      await mkdir(join(stateDir, 'lists', 'partial'), { recursive: true });
      await mkdir(join(stateDir, 'cache', 'archives', 'partial'), { recursive: true });
      await writeFile(join(stateDir, 'status'), '');
      await writeFile(
        sourcesFile,
        `Types: deb\nURIs: ${mirror}\nSuites: ${suite}\nComponents: main\nSigned-By: ${keyring}\n`,
      );
      await exec('apt-get', ['-q', ...aptOptions, 'update'], { env });
    },
    async download(targetDir: string, packages: readonly string[]): Promise<void> {
      await exec('apt-get', ['-q', ...aptOptions, 'download', ...packages], { cwd: targetDir, env });
    },
  };
}

async function fetchNewerKeyring(
  workDir: string,
  mirror: string,
  codename: string,
  systemKeyring: string,
  exec: RunCommand,
  debianArchitecture: string,
): Promise<string> {
  const stateDir = join(workDir, 'apt-keyring');
  const apt = privateApt(stateDir, exec, debianArchitecture);
  try {
    await apt.update(mirror, codename, systemKeyring);
    const debsDir = join(stateDir, 'debs');
    await mkdir(debsDir);
    await apt.download(debsDir, ['debian-archive-keyring']);
    const [deb] = (await readdir(debsDir)).filter((name) => name.endsWith('.deb'));
    if (deb === undefined) throw new Error('apt-get download wrote no debian-archive-keyring .deb');
    await exec('dpkg', ['-x', join(debsDir, deb), join(stateDir, 'root')]);
  } catch (error) {
    throw new ChromaLaunchError(
      `The keyring ${systemKeyring} cannot verify Debian 13 and fetching a newer debian-archive-keyring ` +
        `from ${codename} failed: ${errorText(error)}. Install a current debian-archive-keyring, ` +
        'or set CHROMA_URL to an existing Chroma server.',
      { cause: error },
    );
  }
  return join(stateDir, 'root', 'usr', 'share', 'keyrings', 'debian-archive-keyring.gpg');
}

async function checkAptGet(exec: RunCommand): Promise<void> {
  try {
    await exec('apt-get', ['--version']);
  } catch (error) {
    throw new ChromaLaunchError(
      `Chroma's native binding needs glibc >= ${requiredGlibcVersion}, which this system lacks, and the ` +
        `workaround needs apt-get, which could not run (${errorText(error)}). Set CHROMA_URL to an ` +
        'existing Chroma server, or run on a system with glibc >= 2.39 (e.g. Debian 13, Ubuntu 24.04).',
      { cause: error },
    );
  }
}

async function findDebianMirror(systemRoot: string): Promise<{ mirror: string; codename: string }> {
  const osRelease = await readFile(join(systemRoot, 'etc/os-release'), 'utf8').catch(() => '');
  const codename = parseOsReleaseCodename(osRelease);
  const sources: AptSource[] = parseOneLineSources(
    await readFile(join(systemRoot, 'etc/apt/sources.list'), 'utf8').catch(() => ''),
  );
  const partsDir = join(systemRoot, 'etc/apt/sources.list.d');
  const parts = (await readdir(partsDir).catch(() => [] as string[])).sort();
  for (const name of parts) {
    if (name.endsWith('.sources'))
      sources.push(...parseDeb822Sources(await readFile(join(partsDir, name), 'utf8')));
    else if (name.endsWith('.list'))
      sources.push(...parseOneLineSources(await readFile(join(partsDir, name), 'utf8')));
  }
  const mirror = codename === undefined ? undefined : pickDebianMirror(sources, codename);
  if (codename === undefined || mirror === undefined) {
    throw new ChromaLaunchError(
      `Chroma's native binding needs glibc >= ${requiredGlibcVersion}, and the workaround downloads it from ` +
        `the Debian archive named in the system's apt sources, but none was found (release ` +
        `"${codename ?? 'unknown'}"; looked in ${join(systemRoot, 'etc/apt/sources.list')} and ${partsDir}/*.sources|*.list for a ` +
        '"deb" source of that release with component "main"). Set CHROMA_URL to an existing Chroma server.',
    );
  }
  return { mirror, codename };
}

function downloadFailed(error: unknown): ChromaLaunchError {
  if (error instanceof ChromaLaunchError) return error;
  return new ChromaLaunchError(
    `Downloading ${donorPackages.join(', ')} from Debian 13 with apt-get failed: ${errorText(error)}. ` +
      'Check network access to the Debian archive, or set CHROMA_URL to an existing Chroma server.',
    { cause: error, retryable: true },
  );
}

/** What a failed command printed, from our runner or an injected one (execFile-style errors). */
function commandOutput(error: unknown): string {
  if (error instanceof CommandError) return error.output;
  const failure = error as { stdout?: unknown; stderr?: unknown } | null;
  return [failure?.stdout, failure?.stderr, errorText(error)]
    .filter((part) => typeof part === 'string')
    .join('\n');
}

function isSignatureFailure(output: string): boolean {
  return /NO_PUBKEY|EXPKEYSIG|is not signed|signatures? (?:couldn't|could not|were invalid)|not be verified/i.test(
    output,
  );
}

/** Moves a complete work folder into place; if another process got there first, keeps theirs. */
async function installWorkDir(workDir: string, runtimeDir: string): Promise<void> {
  // A folder without a marker is an older, unfinished attempt that predates the rename scheme.
  if ((await exists(runtimeDir)) && (await readMarker(runtimeDir)) === undefined) {
    await rm(runtimeDir, { recursive: true, force: true });
  }
  try {
    await rename(workDir, runtimeDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await readMarker(runtimeDir)) !== undefined) return;
    throw error;
  }
}

/** Removes work folders left by processes that died while preparing. */
async function removeAbandonedWorkDirs(cacheDir: string, logger: LoggerLike): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const match = new RegExp(`^${runtimeFolderName}\\.tmp-(\\d+)-`).exec(name);
    if (match === null || isProcessAlive(Number(match[1]))) continue;
    logger.debug({ folder: name }, 'removing an abandoned glibc runtime work folder');
    await rm(join(cacheDir, name), { recursive: true, force: true });
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readMarker(runtimeDir: string): Promise<Marker | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(runtimeDir, markerFileName), 'utf8')) as Marker;
    if (typeof marker.loader !== 'string' || !Array.isArray(marker.libraryDirs)) return undefined;
    if (!(await exists(join(runtimeDir, marker.loader)))) return undefined;
    return marker;
  } catch {
    return undefined;
  }
}

function toRuntime(runtimeDir: string, marker: Marker): GlibcRuntime {
  return {
    loader: join(runtimeDir, marker.loader),
    libraryPath: marker.libraryDirs.map((dir) => join(runtimeDir, dir)).join(':'),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** A command that ran and failed; `output` holds its standard output and error. */
class CommandError extends Error {
  readonly output: string;
  constructor(message: string, output: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'CommandError';
    this.output = output;
  }
}

const execFileAsync = promisify(execFile);

const runCommand: RunCommand = async (file, args, options = {}) => {
  try {
    const { stdout, stderr } = await execFileAsync(file, [...args], {
      cwd: options.cwd,
      env: options.env,
      maxBuffer: 16 * 1024 * 1024,
      encoding: 'utf8',
    });
    return { stdout, stderr };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new CommandError(`${file} not found on PATH`, '', { cause: error });
    const output = `${failure.stdout ?? ''}\n${failure.stderr ?? ''}`;
    const lastLines = output.trim().split('\n').slice(-6).join(' | ');
    throw new CommandError(
      `${file} ${args.at(-1) ?? ''} failed (exit ${failure.code}): ${lastLines}`,
      output,
      {
        cause: error,
      },
    );
  }
};

/** An error's message without a final full stop, for embedding in a sentence. */
function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
}
