import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BridgeConnection } from '../../src/bridge/connect.js';
import { docker } from '../../src/core/docker.js';
import { InputError } from '../../src/core/errors.js';
import { platformOf } from '../../src/core/platform.js';
import { bridgeEraFromBinary } from '../../src/workspace/bridge-source.js';
import { FALLBACK_RESOLV_CONF, hostResolvConf, serverTimezone } from '../../src/workspace/dirs.js';
import { decideEra, eraAgreement, smokeMany } from '../../src/workspace/smoke.js';
import { workspaceShape } from '../../src/workspace/spec.js';
import type { Workspace } from '../../src/workspace/workspace.js';
import { testContext } from '../support/context.js';
import { privateTmp } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

const tmp = privateTmp('era');
afterAll(() => tmp.restore());

let n = 0;
const dir = (): string => {
  const d = join(tmp.dir, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

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

  it("judges the test world's stand-ins: v3 as a guess (no full paths), v0.18 for certain", async () => {
    expect(await bridgeEraFromBinary(standinBridge('amd64'))).toMatchObject({ era: 'v3', guess: true });
    expect(await bridgeEraFromBinary(standinBridge('amd64', 'v0.18'))).toMatchObject({ era: 'v0.18' });
    expect((await bridgeEraFromBinary(standinBridge('amd64', 'v0.18')))?.guess).toBeUndefined();
  });
});

describe('the era, decided once before the container exists', () => {
  const v3Bridge = standinBridge('amd64');
  it("the user's choice, then the image's contract, then the bridge binary, then today's Memoh as a guess", async () => {
    expect((await decideEra({ memoh: 'v3', backend: 'containerd', bridgePath: v3Bridge })).judgement).toMatchObject({
      era: 'v3',
      by: 'option',
    });
    const image = { era: 'v0.18' as const, why: 'contract_version 2' };
    const byImage = await decideEra({ memoh: 'auto', backend: 'containerd', bridgePath: v3Bridge, imageHint: image });
    // The v3 stand-in disagrees: the image wins, said to be a guess, and the shape is v0.18's.
    expect(byImage.judgement).toMatchObject({
      era: 'v0.18',
      by: 'image',
      guess: true,
      why: expect.stringMatching(/contract_version 2; but .*mcpcontainer/),
    });
    expect(byImage.shape.args[0]).toBe('/usr/bin/tini');
    expect((await decideEra({ memoh: 'auto', backend: 'containerd', bridgePath: v3Bridge })).judgement).toMatchObject({
      era: 'v3',
      by: 'bridge',
    });
    const nothing = await decideEra({ memoh: 'auto', backend: 'docker', bridgePath: join(dir(), 'missing') });
    expect(nothing.judgement).toMatchObject({ era: 'v0.18', by: 'default', guess: true });
    expect(nothing.shape.transport).toBe('tcp');
  });

  it('a docker backend for a v3 workspace is refused, naming --backend and --memoh', async () => {
    const err = await decideEra({ memoh: 'auto', backend: 'docker', bridgePath: v3Bridge }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^--backend: Memoh v3 had no docker backend.*Fix: .*--memoh v0\.18/);
  });

  it('smokeMany refuses it before any workspace starts, even when other requests are fine', async () => {
    const ctx = testContext();
    const okId = `era-ok-${randomBytes(3).toString('hex')}`;
    const base = {
      image: 'w',
      platform: platformOf('amd64'),
      timeoutSeconds: 30,
      service: 'auto' as const,
      keep: false,
    };
    try {
      const err = await smokeMany(
        [
          {
            ...base,
            resolved: `docker.io/${IMAGES.workspaceAmd64}`,
            bridgePath: standinBridge('amd64', 'v0.18'),
            botId: okId,
            memoh: 'v0.18',
            backend: 'docker',
          },
          {
            ...base,
            resolved: `docker.io/${IMAGES.debianAmd64}`,
            bridgePath: v3Bridge,
            botId: `${okId}-bad`,
            memoh: 'v3',
            backend: 'docker',
          },
        ],
        2,
        ctx,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      // Had the good request been started, its container would exist by now.
      await new Promise((r) => setTimeout(r, 3000));
      await expect(docker().getContainer(`workspace-${okId}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(ctx.ledger.entries()).toEqual([]);
    } finally {
      await ctx.ledger.drain();
    }
  }, 60_000);
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
