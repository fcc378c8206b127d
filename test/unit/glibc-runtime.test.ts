import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChromaLaunchError } from '../../src/errors.ts';
import {
  compareVersions,
  parseDeb822Sources,
  parseOneLineSources,
  parseOsReleaseCodename,
  pickDebianMirror,
  prepareGlibcRuntime,
  type RunCommand,
} from '../../src/knowledge/glibc-runtime.ts';

const debianContainerSources = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('parseDeb822Sources', () => {
  it('reads every stanza with its fields, ignoring comments', () => {
    expect(parseDeb822Sources(debianContainerSources)).toEqual([
      {
        types: ['deb'],
        uris: ['http://deb.debian.org/debian'],
        suites: ['bookworm', 'bookworm-updates'],
        components: ['main'],
      },
      {
        types: ['deb'],
        uris: ['http://deb.debian.org/debian-security'],
        suites: ['bookworm-security'],
        components: ['main'],
      },
    ]);
  });

  it('folds continuation lines, reads fields case-insensitively and drops disabled stanzas', () => {
    const text = [
      'types: deb deb-src',
      'URIs: https://mirror.example.org/debian',
      '  https://other.example.org/debian/',
      'Suites: trixie',
      'Components: main contrib',
      'Signed-By:',
      ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
      ' .',
      ' mQINBF...',
      '',
      '',
      'Enabled: no',
      'Types: deb',
      'URIs: http://disabled.example.org/debian',
      'Suites: trixie',
      'Components: main',
    ].join('\n');
    expect(parseDeb822Sources(text)).toEqual([
      {
        types: ['deb', 'deb-src'],
        uris: ['https://mirror.example.org/debian', 'https://other.example.org/debian/'],
        suites: ['trixie'],
        components: ['main', 'contrib'],
      },
    ]);
  });
});

describe('parseOneLineSources', () => {
  it('reads deb lines with and without options, skipping comments and blank lines', () => {
    const text = [
      '# main archive',
      'deb http://ftp.example.org/debian bookworm main contrib',
      '',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://packages.example.com/apt cloud-sdk-bookworm main',
      'deb-src http://ftp.example.org/debian bookworm main # sources too',
      'not a source line',
    ].join('\n');
    expect(parseOneLineSources(text)).toEqual([
      {
        types: ['deb'],
        uris: ['http://ftp.example.org/debian'],
        suites: ['bookworm'],
        components: ['main', 'contrib'],
      },
      {
        types: ['deb'],
        uris: ['https://packages.example.com/apt'],
        suites: ['cloud-sdk-bookworm'],
        components: ['main'],
      },
      {
        types: ['deb-src'],
        uris: ['http://ftp.example.org/debian'],
        suites: ['bookworm'],
        components: ['main'],
      },
    ]);
  });
});

describe('pickDebianMirror', () => {
  it('picks the release archive, not the security archive', () => {
    expect(pickDebianMirror(parseDeb822Sources(debianContainerSources), 'bookworm')).toBe(
      'http://deb.debian.org/debian',
    );
  });

  it('skips security, updates and third-party suites and sources without main, and trims the trailing slash', () => {
    const sources = parseOneLineSources(
      [
        'deb http://security.example.org/debian-security bookworm-security main',
        'deb http://updates.example.org/debian bookworm-updates main',
        'deb https://packages.example.com/apt cloud-sdk-bookworm main',
        'deb https://deb.example.com/node_20.x nodistro main',
        'deb-src http://src.example.org/debian bookworm main',
        'deb http://contrib-only.example.org/debian bookworm contrib',
        'deb http://archive.example.org/debian/ bookworm main',
      ].join('\n'),
    );
    expect(pickDebianMirror(sources, 'bookworm')).toBe('http://archive.example.org/debian');
  });

  it('skips a URI that names security even under the release suite, and non-http transports', () => {
    const sources = parseOneLineSources(
      [
        'deb http://security.example.org/debian bookworm main',
        'deb cdrom:[Debian GNU/Linux 12]/ bookworm main',
        'deb file:/srv/mirror bookworm main',
      ].join('\n'),
    );
    expect(pickDebianMirror(sources, 'bookworm')).toBeUndefined();
  });

  it('returns undefined when no source is for the given release', () => {
    expect(pickDebianMirror(parseDeb822Sources(debianContainerSources), 'trixie')).toBeUndefined();
  });
});

describe('parseOsReleaseCodename', () => {
  it('reads VERSION_CODENAME, quoted or not', () => {
    expect(parseOsReleaseCodename('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')).toBe('bookworm');
    expect(parseOsReleaseCodename('VERSION_CODENAME="trixie"')).toBe('trixie');
  });

  it('falls back to the codename in VERSION, and to undefined', () => {
    expect(parseOsReleaseCodename('VERSION="11 (bullseye)"')).toBe('bullseye');
    expect(parseOsReleaseCodename('NAME=Alpine')).toBeUndefined();
  });
});

describe('compareVersions', () => {
  it('orders glibc versions numerically, not as strings', () => {
    expect(compareVersions('2.36', '2.39')).toBeLessThan(0);
    expect(compareVersions('2.39', '2.39')).toBe(0);
    expect(compareVersions('2.41', '2.39')).toBeGreaterThan(0);
    expect(compareVersions('2.4', '2.39')).toBeLessThan(0);
    expect(compareVersions('3.0', '2.39')).toBeGreaterThan(0);
    expect(compareVersions('2.39.1', '2.39')).toBeGreaterThan(0);
    expect(compareVersions('2.39', '2.39.0')).toBe(0);
  });

  it('rejects something that is not a version', () => {
    expect(() => compareVersions('unknown', '2.39')).toThrow(/Not a dotted version/);
  });
});

describe('prepareGlibcRuntime', () => {
  const failingExec = async () => {
    throw new Error('exec must not be called');
  };

  let folder: string;
  let systemRoot: string;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'glibc-runtime-test-'));
    systemRoot = join(folder, 'system');
    await mkdir(join(systemRoot, 'etc/apt/sources.list.d'), { recursive: true });
    await writeFile(join(systemRoot, 'etc/os-release'), 'ID=debian\nVERSION_CODENAME=bookworm\n');
    await writeFile(join(systemRoot, 'etc/apt/sources.list.d/debian.sources'), debianContainerSources);
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  /** What apt-get, dpkg and the loader would do, recorded: enough for the orchestration, no network. */
  function fakeSystem(behaviour: { trixieKeysInSystemKeyring: boolean }) {
    const calls: { file: string; args: readonly string[]; sources?: string }[] = [];
    const exec: RunCommand = async (file, args, options = {}) => {
      const sourcesOption = args.find((arg) => arg.startsWith('Dir::Etc::SourceList='));
      const sources = sourcesOption ? readFileSync(sourcesOption.split('=')[1] ?? '', 'utf8') : undefined;
      calls.push({ file, args, ...(sources === undefined ? {} : { sources }) });
      const command = args.at(-1);
      if (file === 'apt-get' && command === '--version') return { stdout: 'apt 2.6.1 (amd64)', stderr: '' };
      if (file === 'apt-get' && command === 'update') {
        const verifiesTrixie =
          behaviour.trixieKeysInSystemKeyring ||
          !sources?.includes('Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg');
        if (sources?.includes('Suites: trixie') && !verifiesTrixie) {
          throw Object.assign(new Error('Command failed: apt-get update'), {
            stdout: '',
            stderr: 'W: GPG error: NO_PUBKEY 762F67A0B2C39DE4\nE: The repository is not signed.',
          });
        }
        return { stdout: '', stderr: '' };
      }
      if (file === 'apt-get' && args.includes('download')) {
        const packages = args.slice(args.indexOf('download') + 1);
        for (const name of packages) await writeFile(join(options.cwd ?? '.', `${name}_1.0_amd64.deb`), name);
        return { stdout: '', stderr: '' };
      }
      if (file === 'dpkg') {
        const [, deb = '', target = ''] = args;
        const name = readFileSync(deb, 'utf8');
        if (name === 'debian-archive-keyring') {
          await mkdir(join(target, 'usr/share/keyrings'), { recursive: true });
          await writeFile(join(target, 'usr/share/keyrings/debian-archive-keyring.gpg'), 'keys');
        } else if (name === 'libc6') {
          await mkdir(join(target, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
          await writeFile(join(target, 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), '');
          await writeFile(join(target, 'usr/lib/x86_64-linux-gnu/libc.so.6'), '');
        }
        return { stdout: '', stderr: '' };
      }
      if (file.endsWith('ld-linux-x86-64.so.2')) return { stdout: '2.41\n', stderr: '' };
      throw new Error(`unexpected command ${file} ${args.join(' ')}`);
    };
    return { exec, calls };
  }

  it('downloads the three Debian 13 packages with a private apt setup and caches the result', async () => {
    const { exec, calls } = fakeSystem({ trixieKeysInSystemKeyring: true });
    const cacheDir = join(folder, 'cache');
    const runtime = await prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot });

    const libraryDir = join(cacheDir, 'glibc-trixie/root/usr/lib/x86_64-linux-gnu');
    expect(runtime).toEqual({ loader: join(libraryDir, 'ld-linux-x86-64.so.2'), libraryPath: libraryDir });
    const update = calls.find((call) => call.args.at(-1) === 'update');
    expect(update?.sources).toBe(
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\n' +
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
    expect(update?.args).toEqual(
      expect.arrayContaining([
        'Dir::Etc::SourceParts=/dev/null',
        'Debug::NoLocking=true',
        'APT::Update::Error-Mode=any',
      ]),
    );
    const download = calls.find((call) => call.args.includes('download'));
    expect(download?.args.slice(-3)).toEqual(['libc6', 'libstdc++6', 'libgcc-s1']);
    expect(JSON.parse(await readFile(join(cacheDir, 'glibc-trixie/ready.json'), 'utf8')).packages).toEqual([
      'libc6_1.0_amd64',
      'libgcc-s1_1.0_amd64',
      'libstdc++6_1.0_amd64',
    ]);
    // Only the finished runtime is left: no work folders, no apt lists or .deb files.
    expect(await readdir(cacheDir)).toEqual(['glibc-trixie']);
    expect(existsSync(join(cacheDir, 'glibc-trixie/debs'))).toBe(false);

    const secondCalls = fakeSystem({ trixieKeysInSystemKeyring: true });
    const again = await prepareGlibcRuntime({
      cacheDir,
      glibcVersion: '2.36',
      exec: secondCalls.exec,
      systemRoot,
    });
    expect(again).toEqual(runtime);
    expect(secondCalls.calls).toEqual([]);
  });

  it('shares one preparation among concurrent callers in a process', async () => {
    const { exec, calls } = fakeSystem({ trixieKeysInSystemKeyring: true });
    const cacheDir = join(folder, 'cache');
    const [first, second] = await Promise.all([
      prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot }),
      prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot }),
    ]);
    expect(second).toEqual(first);
    expect(calls.filter((call) => call.args.includes('download'))).toHaveLength(1);
  });

  it('redoes a preparation that stopped before writing its marker', async () => {
    const cacheDir = join(folder, 'cache');
    await mkdir(join(cacheDir, 'glibc-trixie/root'), { recursive: true });
    const { exec, calls } = fakeSystem({ trixieKeysInSystemKeyring: true });
    const runtime = await prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot });
    expect(runtime?.loader).toBe(
      join(cacheDir, 'glibc-trixie/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
    );
    expect(calls.filter((call) => call.args.includes('download'))).toHaveLength(1);
    expect(existsSync(join(cacheDir, 'glibc-trixie/ready.json'))).toBe(true);
  });

  it('verifies Debian 13 with a keyring fetched from the system release when the system keyring lacks its keys', async () => {
    const { exec, calls } = fakeSystem({ trixieKeysInSystemKeyring: false });
    const cacheDir = join(folder, 'cache');
    await expect(
      prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot }),
    ).resolves.not.toBeNull();

    const updates = calls.filter((call) => call.args.at(-1) === 'update').map((call) => call.sources ?? '');
    expect(updates).toHaveLength(3);
    expect(updates[1]).toContain('Suites: bookworm\n');
    expect(updates[1]).toContain('Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
    expect(updates[2]).toContain('Suites: trixie\n');
    expect(updates[2]).toMatch(
      /Signed-By: \S+\/apt-keyring\/root\/usr\/share\/keyrings\/debian-archive-keyring\.gpg\n/,
    );
  });

  it('says what to do when apt-get is missing', async () => {
    const exec: RunCommand = async (file) => {
      throw new Error(`${file} not found on PATH`);
    };
    const preparation = prepareGlibcRuntime({
      cacheDir: join(folder, 'cache'),
      glibcVersion: '2.36',
      exec,
      systemRoot,
    });
    await expect(preparation).rejects.toBeInstanceOf(ChromaLaunchError);
    await expect(preparation).rejects.toThrow(/needs apt-get, which could not run.*Set CHROMA_URL/s);
  });

  it('says what to do when no Debian source is configured', async () => {
    await rm(join(systemRoot, 'etc/apt/sources.list.d/debian.sources'));
    await writeFile(
      join(systemRoot, 'etc/apt/sources.list'),
      'deb https://packages.example.com/apt cloud-sdk-bookworm main\n',
    );
    const { exec } = fakeSystem({ trixieKeysInSystemKeyring: true });
    await expect(
      prepareGlibcRuntime({ cacheDir: join(folder, 'cache'), glibcVersion: '2.36', exec, systemRoot }),
    ).rejects.toThrow(/none was found \(release "bookworm".*Set CHROMA_URL/s);
  });

  it('reports a failed download as retryable, and a later call tries again', async () => {
    const { exec: working } = fakeSystem({ trixieKeysInSystemKeyring: true });
    let failDownloads = true;
    const exec: RunCommand = async (file, args, options) => {
      if (failDownloads && args.includes('download')) {
        throw Object.assign(new Error('Command failed'), { stderr: 'E: Failed to fetch libc6: 503' });
      }
      return working(file, args, options);
    };
    const cacheDir = join(folder, 'cache');
    const failure = await prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ChromaLaunchError);
    expect((failure as ChromaLaunchError).retryable).toBe(true);
    expect((failure as Error).message).toMatch(
      /Downloading libc6, libstdc\+\+6, libgcc-s1 .* failed.*CHROMA_URL/s,
    );
    expect(await readdir(cacheDir)).toEqual([]);

    failDownloads = false;
    await expect(
      prepareGlibcRuntime({ cacheDir, glibcVersion: '2.36', exec, systemRoot }),
    ).resolves.not.toBeNull();
  });

  it('needs nothing on glibc 2.39 or newer, or without glibc', async () => {
    for (const glibcVersion of ['2.39', '2.41', null]) {
      await expect(
        prepareGlibcRuntime({ cacheDir: '/nonexistent', glibcVersion, exec: failingExec }),
      ).resolves.toBe(null);
    }
  });
});
