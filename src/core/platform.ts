import { arch as osArch } from 'node:os';
import { InputError } from './errors.js';

/**
 * The one place that maps a platform to every naming scheme we meet: Docker (`amd64`), Node.js
 * (`x64`), uv and Alpine (`x86_64`). Only the two architectures Memoh builds for exist here.
 */
export type Arch = 'amd64' | 'arm64';
export const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

export interface Platform {
  os: 'linux';
  arch: Arch;
  /** Docker's variant: `v8` is the only arm64 one, amd64 has none. */
  variant?: string;
}

const names: Record<Arch, { node: string; uv: string; alpine: string; uname: string }> = {
  amd64: { node: 'x64', uv: 'x86_64', alpine: 'x86_64', uname: 'x86_64' },
  arm64: { node: 'arm64', uv: 'aarch64', alpine: 'aarch64', uname: 'aarch64' },
};

export const nodeArch = (a: Arch): string => names[a].node;
export const uvArch = (a: Arch): string => names[a].uv;
export const alpineArch = (a: Arch): string => names[a].alpine;
export const unameArch = (a: Arch): string => names[a].uname;

export function hostArch(): Arch {
  const a = osArch();
  if (a === 'x64') return 'amd64';
  if (a === 'arm64') return 'arm64';
  throw new InputError('host', `unsupported host architecture ${a}`, 'run on an amd64 or arm64 machine');
}

export function parseArch(value: string, input: string): Arch {
  const v = value.trim().toLowerCase();
  const alias: Record<string, Arch> = {
    amd64: 'amd64',
    x64: 'amd64',
    x86_64: 'amd64',
    arm64: 'arm64',
    aarch64: 'arm64',
  };
  const a = alias[v];
  if (!a) throw new InputError(input, `unknown architecture "${value}"`, 'use amd64 or arm64');
  return a;
}

/** `linux/amd64`, `linux/arm64`, `linux/arm64/v8`; the bare arch is accepted too. */
export function parsePlatform(value: string, input: string): Platform {
  const parts = value.trim().split('/');
  if (parts.length === 1) return platformOf(parseArch(parts[0] ?? '', input));
  const [os, arch, variant] = parts;
  if (os !== 'linux' || parts.length > 3) {
    throw new InputError(input, `unsupported platform "${value}"`, 'use linux/amd64 or linux/arm64');
  }
  const p = platformOf(parseArch(arch ?? '', input));
  if (variant !== undefined && variant !== (p.variant ?? '')) {
    throw new InputError(input, `unsupported variant "${variant}" in "${value}"`, 'use linux/amd64 or linux/arm64/v8');
  }
  return p;
}

export function platformOf(arch: Arch): Platform {
  return arch === 'arm64' ? { os: 'linux', arch, variant: 'v8' } : { os: 'linux', arch };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.arch}`;
}
