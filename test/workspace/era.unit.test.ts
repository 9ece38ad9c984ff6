import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BridgeConnection } from '../../src/bridge/connect.js';
import { bridgeEraFromBinary } from '../../src/workspace/bridge-source.js';
import { FALLBACK_RESOLV_CONF, hostResolvConf, serverTimezone } from '../../src/workspace/dirs.js';
import { eraAgreement } from '../../src/workspace/smoke.js';
import { workspaceShape } from '../../src/workspace/spec.js';
import type { Workspace } from '../../src/workspace/workspace.js';
import { privateTmp } from '../support/tmp.js';

// The era's pure parts (no engine): the server's TZ and resolv.conf, the era a binary tells, the bridge against
// the era; the era decided against real images and bridges is in era.test.ts.

const tmp = privateTmp('era-unit');
afterAll(() => tmp.restore());
const dir = tmp.fresh;

describe("the server's TZ, by each era's rule (internal/container/host.go)", () => {
  it('$TZ wins in both eras; the seed passes nothing else', async () => {
    const root = dir();
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/timezone'), 'Asia/Shanghai\n');
    expect(await serverTimezone('server-env', 'Europe/Berlin', root)).toBe('Europe/Berlin');
    expect(await serverTimezone('server-detect', 'Europe/Berlin', root)).toBe('Europe/Berlin');
    expect(await serverTimezone('server-env', undefined, root)).toBeUndefined();
    expect(await serverTimezone('server-env', '', root)).toBeUndefined();
  });

  it('v0.18: /etc/timezone (trimmed), else the zone an /etc/localtime link points at, else none', async () => {
    const root = dir();
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/timezone'), '  Asia/Shanghai \n');
    symlinkSync('/usr/share/zoneinfo/America/New_York', join(root, 'etc/localtime'));
    expect(await serverTimezone('server-detect', undefined, root)).toBe('Asia/Shanghai');
    writeFileSync(join(root, 'etc/timezone'), '\n');
    expect(await serverTimezone('server-detect', undefined, root)).toBe('America/New_York');

    const rel = dir();
    mkdirSync(join(rel, 'etc'));
    symlinkSync('../usr/share/zoneinfo/Etc/UTC', join(rel, 'etc/localtime'));
    expect(await serverTimezone('server-detect', undefined, rel)).toBe('Etc/UTC');

    // A copied file (compose bind-mounts one), or a link elsewhere: no TZ, as in Memoh's compose stack.
    const file = dir();
    mkdirSync(join(file, 'etc'));
    writeFileSync(join(file, 'etc/localtime'), 'TZif');
    expect(await serverTimezone('server-detect', undefined, file)).toBeUndefined();
    const other = dir();
    mkdirSync(join(other, 'etc'));
    symlinkSync('/opt/zones/UTC', join(other, 'etc/localtime'));
    expect(await serverTimezone('server-detect', undefined, other)).toBeUndefined();
    expect(await serverTimezone('server-detect', undefined, dir())).toBeUndefined();
  });
});

describe('resolv.conf as Memoh builds it (host.go@v0.18.0:17-49)', () => {
  it("systemd-resolved's file when it exists", async () => {
    const d = dir();
    const systemd = join(d, 'resolved.conf');
    writeFileSync(systemd, 'nameserver 10.0.0.1\n');
    expect(await hostResolvConf(d, systemd)).toBe(systemd);
  });

  it('else <data_root>/resolv.conf with 1.1.1.1 and 8.8.8.8, kept if present, made 0644 every time', async () => {
    const d = dir();
    const path = await hostResolvConf(d, join(d, 'absent'));
    expect(path).toBe(join(d, 'resolv.conf'));
    expect(readFileSync(path, 'utf8')).toBe(FALLBACK_RESOLV_CONF);
    expect(FALLBACK_RESOLV_CONF).toBe('nameserver 1.1.1.1\nnameserver 8.8.8.8\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    writeFileSync(path, 'nameserver 192.0.2.53\n');
    chmodSync(path, 0o600);
    await hostResolvConf(d, join(d, 'absent'));
    expect(readFileSync(path, 'utf8')).toBe('nameserver 192.0.2.53\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });
});

describe('the era a bridge binary says it is, without running it', () => {
  const fake = (...parts: string[]): string => {
    const p = join(dir(), 'bridge');
    // Go packs string data back to back, without separators.
    writeFileSync(
      p,
      Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), ...parts.map((x) => Buffer.from(x)), Buffer.alloc(64)]),
    );
    return p;
  };

  it('reads the full method paths of the gRPC stubs', async () => {
    // Streaming RPCs keep only their bare names in a server binary.
    expect(await bridgeEraFromBinary(fake('/bridgepb.ContainerService/ReadFileos', 'ReadRawNoFollow'))).toEqual({
      era: 'v0.18',
      why: expect.stringMatching(/ReadRawNoFollow RPC \(v0\.18\.0\)/),
    });
    expect(await bridgeEraFromBinary(fake('xx/bridgepb.ContainerService/Tunnelyy'))).toMatchObject({
      era: 'v0.18',
      guess: true,
      why: expect.stringMatching(/between the eras/),
    });
    // The seed's Go package is named bridgepb too; only its method paths say mcpcontainer.
    expect(
      await bridgeEraFromBinary(fake('bridgepb.ContainerServiceServer', '/mcpcontainer.ContainerService/ReadFile')),
    ).toEqual({
      era: 'v3',
      why: expect.stringMatching(/only \/mcpcontainer/),
    });
    expect(await bridgeEraFromBinary(fake('hello world'))).toBeUndefined();
  });

  it('finds the names in a binary of many read chunks, one of them split across two chunks', async () => {
    // A file is read 64 KiB at a time: each name here straddles a chunk boundary (after the 4-byte ELF magic).
    const first = `${'x'.repeat(64 * 1024 - 4 - 6)}/bridgepb.ContainerService/Stat`;
    const second = `${'y'.repeat(128 * 1024 - 4 - first.length - 7)}ReadRawNoFollow`;
    expect(await bridgeEraFromBinary(fake(first, second, 'z'.repeat(300_000)))).toMatchObject({
      era: 'v0.18',
      why: expect.stringMatching(/ReadRawNoFollow RPC/),
    });
  });
});

describe('the bridge as it describes itself, against the era the workspace was built for', () => {
  const ws = (era: 'v3' | 'v0.18', service: 'mcpcontainer' | 'bridgepb', methods?: number): Workspace =>
    ({
      shape: workspaceShape(era, 'containerd'),
      connection: { service, traits: { wire: service, reflection: 'v1', methods } } as unknown as BridgeConnection,
    }) as Workspace;
  const judged = (era: 'v3' | 'v0.18') => ({ era, by: 'image' as const, why: 'contract', guess: false });

  it('agrees: no check', () => {
    expect(eraAgreement(ws('v0.18', 'bridgepb', 14), judged('v0.18'))).toEqual([]);
    expect(eraAgreement(ws('v3', 'mcpcontainer', 10), judged('v3'))).toEqual([]);
  });

  it('a seed bridge in a v0.18 workspace cannot work: Memoh v0.18 dials bridgepb', () => {
    const [c] = eraAgreement(ws('v0.18', 'mcpcontainer', 10), judged('v0.18'));
    expect(c).toMatchObject({
      id: 'workspace.era',
      status: 'fail',
      detail: expect.stringMatching(/Memoh v0\.18 dials bridgepb.*answers only as mcpcontainer/),
    });
  });

  it('a bridgepb-only bridge in a v3 workspace cannot work either: the seed dials mcpcontainer', () => {
    const [c] = eraAgreement(ws('v3', 'bridgepb', 14), judged('v3'));
    expect(c).toMatchObject({
      id: 'workspace.era',
      status: 'fail',
      detail: expect.stringMatching(/Memoh v3 dials mcpcontainer.*answers only as bridgepb.*v0\.18/),
    });
    expect(c?.fix).toMatch(/seed-era bridge/);
  });
});
