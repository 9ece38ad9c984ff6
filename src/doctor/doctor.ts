import { readFile, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { docker, engineEndpoint } from '../core/docker.js';
import { errorMessage } from '../core/errors.js';
import { type Arch, hostArch, unameArch } from '../core/platform.js';

export interface DoctorProblem {
  id: string;
  severity: 'error' | 'warning';
  detail: string;
  fix: string;
}

export interface DoctorReport {
  engine: {
    endpoint: string;
    source: string;
    reachable: boolean;
    apiVersion?: string;
    serverVersion?: string;
    storageDriver?: string;
    rootDir?: string;
    os?: string;
    arch?: string;
  };
  host: { arch: Arch };
  emulation: { arch: Arch; handler: string; registered: boolean; fixBinary: boolean }[];
  disk: { path: string; freeBytes: number }[];
  problems: DoctorProblem[];
}

const MIN_FREE = 5 * 1024 ** 3;

/** Inspects the machine the way the later stages need it; every problem comes with its fix. */
export async function runDoctor(): Promise<DoctorReport> {
  const problems: DoctorProblem[] = [];
  const engine = await engineCheck(problems);
  const host = hostArch();
  const emulation = await emulationCheck(host, problems);
  const disk = await diskCheck(engine.rootDir, problems);
  return { engine, host: { arch: host }, emulation, disk, problems };
}

async function engineCheck(problems: DoctorProblem[]): Promise<DoctorReport['engine']> {
  const ep = engineEndpoint();
  const engine: DoctorReport['engine'] = { endpoint: ep.display, source: ep.source, reachable: false };
  try {
    const d = docker();
    const [version, info] = await Promise.all([d.version(), d.info() as Promise<Record<string, unknown>>]);
    Object.assign(engine, {
      reachable: true,
      apiVersion: version.ApiVersion,
      serverVersion: version.Version,
      storageDriver: String(info.Driver ?? ''),
      rootDir: String(info.DockerRootDir ?? ''),
      os: String(info.OperatingSystem ?? ''),
      arch: version.Arch,
    });
  } catch (err) {
    problems.push({
      id: 'engine',
      severity: 'error',
      detail: `no Docker engine answers at ${ep.display} (${ep.source}): ${errorMessage(err)}`,
      fix:
        ep.source === 'DOCKER_HOST'
          ? 'check DOCKER_HOST, or unset it to use /var/run/docker.sock'
          : 'start the engine (e.g. `systemctl start docker`, or `dockerd &` as root), or set DOCKER_HOST',
    });
  }
  return engine;
}

/** The other architecture runs only under a binfmt handler with flag F (it must work inside containers). */
async function emulationCheck(host: Arch, problems: DoctorProblem[]): Promise<DoctorReport['emulation']> {
  const emulation: DoctorReport['emulation'] = [];
  for (const arch of ['amd64', 'arm64'] as Arch[]) {
    if (arch === host) continue;
    const handler = `qemu-${unameArch(arch)}`;
    const state = await binfmt(handler);
    emulation.push({ arch, handler, ...state });
    if (!state.registered) {
      problems.push({
        id: `emulation.${arch}`,
        severity: 'warning',
        detail: `no binfmt handler for ${unameArch(arch)}: linux/${arch} images cannot run here`,
        fix: 'install qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support), or docker run --privileged tonistiigi/binfmt --install all',
      });
    } else if (!state.fixBinary) {
      problems.push({
        id: `emulation.${arch}`,
        severity: 'warning',
        detail: `binfmt handler ${handler} lacks flag F: it will not work inside containers`,
        fix: `re-register ${handler} with the F (fix-binary) flag, e.g. reinstall qemu-user-static`,
      });
    }
  }
  return emulation;
}

async function diskCheck(rootDir: string | undefined, problems: DoctorProblem[]): Promise<DoctorReport['disk']> {
  const disk: DoctorReport['disk'] = [];
  for (const path of [...new Set([rootDir, tmpdir()].filter((p): p is string => !!p))]) {
    try {
      const s = await statfs(path);
      const freeBytes = s.bavail * s.bsize;
      disk.push({ path, freeBytes });
      if (freeBytes < MIN_FREE) {
        problems.push({
          id: 'disk',
          severity: 'warning',
          detail: `${path} has ${(freeBytes / 1024 ** 3).toFixed(1)} GiB free; images and toolkits need about 5 GiB`,
          fix: 'free disk space (docker image prune, docker builder prune) or move the data root',
        });
      }
    } catch {
      // The engine's root dir may be on another machine (remote DOCKER_HOST): nothing to measure.
    }
  }
  return disk;
}

async function binfmt(handler: string): Promise<{ registered: boolean; fixBinary: boolean }> {
  try {
    const text = await readFile(`/proc/sys/fs/binfmt_misc/${handler}`, 'utf8');
    const enabled = /^enabled$/m.test(text);
    const flags = /^flags:\s*(\S*)$/m.exec(text)?.[1] ?? '';
    return { registered: enabled, fixBinary: flags.includes('F') };
  } catch {
    return { registered: false, fixBinary: false };
  }
}
