import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { checkElf } from '../../src/workspace/elf.js';
import { privateTmp } from '../support/tmp.js';
import { standinBridge } from '../world/paths.js';

const tmp = privateTmp('elf');
afterAll(() => tmp.restore());

describe('checkElf', () => {
  it('accepts the static stand-in built for each arch', async () => {
    expect(await checkElf(standinBridge('amd64'), 'amd64')).toEqual({ arch: 'amd64', static: true });
    expect(await checkElf(standinBridge('arm64'), 'arm64')).toEqual({ arch: 'arm64', static: true });
  });

  it('refuses the arm64 stand-in for amd64, naming both, and the other way round', async () => {
    const err = await checkElf(standinBridge('arm64'), 'amd64').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe('--bridge');
    expect((err as Error).message).toMatch(/is an ELF for aarch64, not for linux\/amd64/);
    await expect(checkElf(standinBridge('amd64'), 'arm64')).rejects.toThrow(/ELF for x86_64, not for linux\/arm64/);
  });

  it('refuses a file that is not ELF, a truncated ELF, and a missing file', async () => {
    const script = join(tmp.dir, 'bridge.sh');
    writeFileSync(script, '#!/bin/sh\necho i am not a bridge\n');
    chmodSync(script, 0o755);
    await expect(checkElf(script, 'amd64')).rejects.toThrow(/is not an ELF executable/);
    const short = join(tmp.dir, 'short');
    writeFileSync(short, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]));
    await expect(checkElf(short, 'amd64')).rejects.toThrow(/is not an ELF executable/);
    await expect(checkElf(join(tmp.dir, 'nope'), 'amd64')).rejects.toThrow(/cannot read the bridge binary .*ENOENT/);
  });

  it('refuses a 32-bit ELF and an object file', async () => {
    const head = Buffer.alloc(64);
    head.writeUInt32BE(0x7f454c46, 0);
    head[4] = 1; // ELFCLASS32
    head[5] = 1;
    const p32 = join(tmp.dir, 'elf32');
    writeFileSync(p32, head);
    await expect(checkElf(p32, 'amd64')).rejects.toThrow(/32-bit ELF/);
    head[4] = 2;
    head.writeUInt16LE(1, 16); // ET_REL
    head.writeUInt16LE(62, 18);
    const obj = join(tmp.dir, 'obj');
    writeFileSync(obj, head);
    await expect(checkElf(obj, 'amd64')).rejects.toThrow(/object file, not an executable/);
  });

  it('tells a dynamically linked executable from a static one', async () => {
    const ls = join(tmp.dir, 'ls');
    copyFileSync('/bin/ls', ls);
    const host = process.arch === 'arm64' ? 'arm64' : 'amd64';
    expect(await checkElf(ls, host)).toEqual({ arch: host, static: false });
  });
});
