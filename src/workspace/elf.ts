import { type FileHandle, open } from 'node:fs/promises';
import { errorCode, InputError } from '../core/errors.js';
import type { Arch } from '../core/platform.js';

/** ELF e_machine values of the two architectures Memoh builds its bridge for. */
const MACHINES: Record<number, Arch> = { 62: 'amd64', 183: 'arm64' };
const MACHINE_NAMES: Record<number, string> = {
  3: 'x86 (32-bit)',
  40: 'arm (32-bit)',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv',
};

export interface ElfInfo {
  arch: Arch;
  /** No PT_INTERP: needs no dynamic loader, so it runs on glibc, musl and shell-less images alike. */
  static: boolean;
}

/**
 * Reads the ELF header (and program headers) of `path` and refuses anything that is not a 64-bit
 * little-endian Linux executable for `arch`, before any container is started with it.
 */
export async function checkElf(path: string, arch: Arch, input = '--bridge'): Promise<ElfInfo> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = errorCode(err);
    throw new InputError(
      input,
      `cannot read the bridge binary ${path} (${code})`,
      'give the path of the bridge executable',
    );
  }
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    if (bytesRead < 64 || head.readUInt32BE(0) !== 0x7f454c46) {
      throw new InputError(
        input,
        `${path} is not an ELF executable`,
        `give the bridge binary built for linux/${arch} (Memoh's cmd/bridge)`,
      );
    }
    if (head[4] !== 2 || head[5] !== 1) {
      throw new InputError(
        input,
        `${path} is a ${head[4] === 1 ? '32-bit' : 'big-endian'} ELF file`,
        `give the 64-bit bridge built for linux/${arch}`,
      );
    }
    const type = head.readUInt16LE(16);
    if (type !== 2 && type !== 3) {
      throw new InputError(
        input,
        `${path} is an ELF ${type === 1 ? 'object file' : 'core/other file'}, not an executable`,
        'give the linked bridge binary',
      );
    }
    const machine = head.readUInt16LE(18);
    const found = MACHINES[machine];
    if (found !== arch) {
      const name = MACHINE_NAMES[machine] ?? `machine ${machine}`;
      throw new InputError(
        input,
        `${path} is an ELF for ${name}, not for linux/${arch}`,
        `give the bridge built for linux/${arch} (GOARCH=${arch})`,
      );
    }
    return { arch: found, static: !(await hasInterp(fh, head)) };
  } finally {
    await fh.close();
  }
}

async function hasInterp(fh: import('node:fs/promises').FileHandle, head: Buffer): Promise<boolean> {
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phnum === 0 || phentsize < 4 || phnum * phentsize > 1 << 20) return false;
  const table = Buffer.alloc(phnum * phentsize);
  const { bytesRead } = await fh.read(table, 0, table.length, phoff);
  for (let i = 0; i + 4 <= bytesRead; i += phentsize) if (table.readUInt32LE(i) === 3) return true; // PT_INTERP
  return false;
}
