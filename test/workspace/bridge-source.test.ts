import { execFileSync, execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BRIDGE_PATH_IN_IMAGE, resolveBridge } from '../../src/workspace/bridge-source.js';
import { testContext } from '../support/context.js';
import { leftoverContainers, removeContainers } from '../support/leaks.js';
import { privateTmp } from '../support/tmp.js';
import { standinBridge } from '../world/paths.js';

const tmp = privateTmp('bridge-src');
const tag = `memoh-test-bridgeimg-${randomBytes(4).toString('hex')}:t`;
const GO_DIR = '/usr/lib/go-1.23/bin';
// This file makes no workspaces: a bot id prefix no one uses keeps other runs' workspaces out of its count.
const NO_WORKSPACES = `none-${randomBytes(4).toString('hex')}`;

beforeAll(() => {
  // A tiny image holding the amd64 stand-in where Memoh's server image keeps its bridge, a link to it,
  // and the arm64 stand-in elsewhere. Made with docker import: no build, no network.
  const root = join(tmp.dir, 'rootfs');
  mkdirSync(join(root, 'opt/memoh/runtime'), { recursive: true });
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  copyFileSync(standinBridge('amd64'), join(root, 'opt/memoh/runtime/bridge'));
  copyFileSync(standinBridge('arm64'), join(root, 'opt/memoh/bridge-arm64'));
  symlinkSync('../../../opt/memoh/runtime/bridge', join(root, 'usr/local/bin/bridge'));
  execSync(`tar -C ${root} -c . | docker import - ${tag}`, { stdio: 'ignore' });
}, 120_000);

afterAll(() => {
  execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
  const left = leftoverContainers(NO_WORKSPACES, 'mine');
  removeContainers(left);
  const files = tmp.leftovers().filter((f) => f !== 'rootfs' && f !== 'gosrc');
  tmp.restore();
  expect(left, 'containers left behind').toEqual([]);
  expect(files, 'temp dirs left behind').toEqual([]);
});

describe('resolveBridge', () => {
  it('file: verified in place; the wrong arch is refused before anything starts', async () => {
    const ctx = testContext();
    const r = await resolveBridge(standinBridge('amd64'), 'amd64', ctx);
    expect(r.path).toBe(standinBridge('amd64'));
    expect(r.elf).toEqual({ arch: 'amd64', static: true });
    await r.release();
    expect(existsSync(standinBridge('amd64'))).toBe(true);
    await expect(resolveBridge(standinBridge('arm64'), 'amd64', ctx)).rejects.toThrow(
      /--bridge: .* is an ELF for aarch64, not for linux\/amd64/,
    );
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('image:REF copies the bridge out without running it, byte for byte', async () => {
    const ctx = testContext();
    const r = await resolveBridge(`image:${tag}`, 'amd64', ctx);
    expect(r.source).toEqual({ kind: 'image', ref: tag, path: DEFAULT_BRIDGE_PATH_IN_IMAGE });
    expect(r.path.startsWith(tmp.dir)).toBe(true);
    expect(readFileSync(r.path).equals(readFileSync(standinBridge('amd64')))).toBe(true);
    // The copy container is gone already; only the temp copy is in the ledger until released.
    expect(leftoverContainers(NO_WORKSPACES, 'mine')).toEqual([]);
    expect(ctx.ledger.entries().map((e) => e.kind)).toEqual(['path']);
    await r.release();
    expect(existsSync(r.path)).toBe(false);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('image:REF:PATH follows a symlink inside the image', async () => {
    const ctx = testContext();
    const r = await resolveBridge(`image:${tag}:/usr/local/bin/bridge`, 'amd64', ctx);
    expect(readFileSync(r.path).equals(readFileSync(standinBridge('amd64')))).toBe(true);
    await r.release();
  });

  it('image: refuses a missing path and a wrong-arch bridge, leaving nothing', async () => {
    const ctx = testContext();
    await expect(resolveBridge(`image:${tag}:/no/such/bridge`, 'amd64', ctx)).rejects.toThrow(
      /--bridge: .* has no \/no\/such\/bridge/,
    );
    await expect(resolveBridge(`image:${tag}:/opt/memoh/bridge-arm64`, 'amd64', ctx)).rejects.toThrow(
      /ELF for aarch64, not for linux\/amd64/,
    );
    expect(ctx.ledger.entries()).toEqual([]);
    expect(leftoverContainers(NO_WORKSPACES, 'mine')).toEqual([]);
  });

  it.skipIf(!existsSync(join(GO_DIR, 'go')))(
    'source:DIR builds ./cmd/bridge static for the target arch',
    { timeout: 300_000 },
    async () => {
      const src = join(tmp.dir, 'gosrc');
      mkdirSync(join(src, 'cmd/bridge'), { recursive: true });
      writeFileSync(join(src, 'go.mod'), 'module example.com/fakememoh\n\ngo 1.21\n');
      writeFileSync(
        join(src, 'cmd/bridge/main.go'),
        'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("bridge") }\n',
      );
      const saved = { PATH: process.env.PATH, GOPROXY: process.env.GOPROXY, GOFLAGS: process.env.GOFLAGS };
      process.env.PATH = `${GO_DIR}:${saved.PATH}`;
      process.env.GOPROXY = 'off';
      process.env.GOFLAGS = '-mod=mod';
      try {
        const ctx = testContext();
        for (const arch of ['amd64', 'arm64'] as const) {
          const r = await resolveBridge(`source:${src}`, arch, ctx);
          expect(r.elf).toEqual({ arch, static: true });
          await r.release();
        }
        expect(ctx.ledger.entries()).toEqual([]);
        // Without Go on PATH, the user is told what to do instead.
        process.env.PATH = '/nonexistent';
        await expect(resolveBridge(`source:${src}`, 'amd64', ctx)).rejects.toThrow(
          /--bridge: source: needs Go, and no `go` is on PATH/,
        );
        await expect(resolveBridge(`source:${tmp.dir}`, 'amd64', ctx)).rejects.toThrow(/has no cmd\/bridge/);
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    },
  );
});
