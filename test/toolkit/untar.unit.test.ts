// The toolkit's tar reader on real archives (made by the `tar` package and by hand): long names, strip and
// filter as the toolkit uses them, and the archives it must refuse without writing outside its directory.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { create, Header } from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { extractor } from '../../src/toolkit/untar.js';
import { rmrf } from '../support/tmp.js';
import { tempDir } from './helpers.js';

const work = tempDir('untar');
afterAll(() => rmrf(work));

/** A hand-made archive: entries as the headers say, end blocks included. */
function tarOf(
  entries: { path: string; type?: 'File' | 'SymbolicLink' | 'Directory' | 'Link'; body?: string; linkpath?: string }[],
): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const h = new Header({
      path: e.path,
      type: e.type ?? 'File',
      size: body.length,
      mode: 0o644,
      linkpath: e.linkpath,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    parts.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function extract(tar: Buffer, opts: { strip?: number; filter?: (p: string) => boolean; chunk?: number } = {}): string {
  const dest = join(work, `x${Math.random().toString(16).slice(2)}`, 'dest');
  const x = extractor({ dest, strip: opts.strip ?? 0, filter: opts.filter });
  // Fed in small pieces, so headers and bodies straddle chunk boundaries as they do on the wire.
  const step = opts.chunk ?? 100;
  for (let i = 0; i < tar.length; i += step) x.write(tar.subarray(i, i + step));
  x.end();
  return dest;
}

describe('tar reader', () => {
  it('extracts what the tar package writes (pax long names, symlinks, modes), with strip and filter', async () => {
    const src = join(work, 'src');
    const long = `pkg/${'deep/'.repeat(60)}file-with-a-long-name.txt`;
    mkdirSync(join(src, long, '..'), { recursive: true });
    writeFileSync(join(src, long), 'long\n');
    mkdirSync(join(src, 'pkg', 'bin'), { recursive: true });
    writeFileSync(join(src, 'pkg', 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(src, 'pkg', 'skip.me'), 'no\n');
    const { symlinkSync } = await import('node:fs');
    symlinkSync('bin/tool', join(src, 'pkg', 'tool-link'));
    const tgz = join(work, 'a.tgz');
    await create({ file: tgz, cwd: src, gzip: true, portable: true }, ['pkg']);
    const dest = extract(gunzipSync(readFileSync(tgz)), {
      strip: 1,
      filter: (p) => !p.endsWith('skip.me'),
      chunk: 333,
    });
    expect(readFileSync(join(dest, long.slice(4)), 'utf8')).toBe('long\n');
    expect(lstatSync(join(dest, 'bin', 'tool')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dest, 'tool-link'))).toBe('bin/tool');
    expect(existsSync(join(dest, 'skip.me'))).toBe(false);
  });

  it('keeps hardlinks as hardlinks inside the tree', () => {
    const dest = extract(
      tarOf([
        { path: 'a.txt', body: 'same\n' },
        { path: 'b.txt', type: 'Link', linkpath: 'a.txt' },
      ]),
    );
    expect(lstatSync(join(dest, 'b.txt')).ino).toBe(lstatSync(join(dest, 'a.txt')).ino);
  });

  it.each([
    ['a path climbing out with ..', [{ path: '../evil.txt', body: 'x' }], /unsafe path in archive: \.\.\/evil\.txt/],
    ['an absolute path', [{ path: '/tmp/evil.txt', body: 'x' }], /unsafe path in archive: \/tmp\/evil\.txt/],
    [
      'a file written through a symlink the archive made',
      [
        { path: 'out', type: 'SymbolicLink' as const, linkpath: '..' },
        { path: 'out/evil.txt', body: 'x' },
      ],
      /archive entry out\/evil\.txt leads through a symlink/,
    ],
    [
      'a hardlink to outside the tree',
      [{ path: 'h', type: 'Link' as const, linkpath: '../../etc/passwd' }],
      /unsafe hardlink target/,
    ],
  ])('refuses %s, writing nothing outside', (_what, entries, message) => {
    const before = readdirSync(work).length;
    expect(() => extract(tarOf(entries))).toThrow(message);
    expect(existsSync(join(work, 'evil.txt'))).toBe(false);
    expect(readdirSync(work).length).toBe(before + 1); // only the case's own dir
  });

  it('a truncated archive and a damaged header are errors, not short trees', () => {
    const tar = tarOf([{ path: 'big.txt', body: 'y'.repeat(5000) }]);
    expect(() => extract(tar.subarray(0, 1500))).toThrow(/truncated tar archive/);
    const bad = Buffer.from(tar);
    bad[10] = (bad[10] ?? 0) ^ 0xff; // a byte of the name: the header checksum no longer adds up
    expect(() => extract(bad)).toThrow(/tar header checksum mismatch/);
    expect(() => extract(Buffer.alloc(2048))).toThrow(/not a tar archive/);
  });
});
