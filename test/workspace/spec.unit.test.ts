import { describe, expect, it } from 'vitest';
import { validateBotId } from '../../src/config/validate.js';
import { InputError } from '../../src/core/errors.js';
import { ERA_DESCRIPTIONS } from '../../src/era/index.js';
import { botIdsFor, defaultBotId } from '../../src/workspace/smoke.js';
import { containerName, createRequest, workspaceShape, workspaceSpec } from '../../src/workspace/spec.js';
import { IMAGES } from '../world/images.js';

// Memoh's v3 workspace spec (shared/bridge-contract.md §1–§2), in the Engine API's words.
const base = {
  botId: '0b7c2a6e-1f4d-4c1b-9a51-3f3d6a1c2b9e',
  image: 'docker.io/library/debian:bookworm-slim',
  platform: { os: 'linux' as const, arch: 'arm64' as const, variant: 'v8' },
  runtimeDir: '/tmp/memoh-runtime-x',
  socketDir: '/tmp/memoh-run-y',
};

const v3 = workspaceShape('v3', 'containerd');

describe('workspaceSpec, v3 on containerd (bridge-contract §1–§2)', () => {
  const spec = workspaceSpec(v3, { ...base, tz: 'Asia/Shanghai', localtime: '/etc/localtime' });

  it('names and labels the container as the seed does', () => {
    expect(spec.name).toBe(`workspace-${base.botId}`);
    expect(containerName('abc')).toBe('workspace-abc');
    expect(spec.Labels).toEqual({ 'memoh.bot_id': base.botId, 'memoh.workspace': 'v3' });
  });

  it('runs exactly /opt/memoh/bridge, with the image entrypoint cleared, no TTY', () => {
    expect(spec.Cmd).toEqual(['/opt/memoh/bridge']);
    expect(spec.Entrypoint).toEqual(['']);
    expect(spec.Tty).toBe(false);
    expect(spec.OpenStdin).toBe(false);
    // Working dir and user are the image's (contract: not set).
    expect(spec.WorkingDir).toBeUndefined();
    expect(spec.User).toBeUndefined();
  });

  it('sets BRIDGE_SOCKET_PATH, and TZ only when the server has one', () => {
    expect(spec.Env).toEqual(['TZ=Asia/Shanghai', 'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
    expect(workspaceSpec(v3, base).Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
    expect(workspaceSpec(v3, { ...base, tz: '' }).Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
  });

  it("adds the toolkit read-only over the runtime dir's toolkit/ when one is given", () => {
    const withTk = workspaceSpec(v3, { ...base, toolkitDir: '/cache/toolkit-amd64' });
    expect(withTk.HostConfig?.Mounts?.[2]).toEqual({
      Type: 'bind',
      Source: '/cache/toolkit-amd64',
      Target: '/opt/memoh/toolkit',
      ReadOnly: true,
    });
  });

  it('mounts runtime dir ro at /opt/memoh, socket dir rw at /run/memoh, localtime ro when present, in that order', () => {
    expect(spec.HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: base.runtimeDir, Target: '/opt/memoh', ReadOnly: true },
      { Type: 'bind', Source: base.socketDir, Target: '/run/memoh', ReadOnly: false },
      { Type: 'bind', Source: '/etc/localtime', Target: '/etc/localtime', ReadOnly: true },
    ]);
    expect(workspaceSpec(v3, base).HostConfig?.Mounts?.map((m) => m.Target)).toEqual(['/opt/memoh', '/run/memoh']);
    // Binds would create missing sources silently; bind Mounts refuse them.
    expect(spec.HostConfig?.Binds).toBeUndefined();
    // Nothing of v0.18's: no bridge-file mount, no TLS even if given.
    const tls = workspaceSpec(v3, {
      ...base,
      bridgeTls: { mode: 'strict', serverDir: '/s', bridgeDir: '/b', instanceId: 'i' },
    });
    expect(tls.Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
    expect(tls.HostConfig?.Mounts?.map((m) => m.Target)).toEqual(['/opt/memoh', '/run/memoh']);
  });

  it("gets containerd's defaults (the same containerd in both eras), nothing more, and no port", () => {
    expectContainerdDefaults(spec);
    const hc = spec.HostConfig!;
    expect(hc.Privileged).toBe(false);
    expect(hc.AutoRemove).toBe(false);
    expect(hc.RestartPolicy).toEqual({ Name: 'no' });
    expect(hc.PortBindings).toBeUndefined();
    expect(spec.ExposedPorts).toBeUndefined();
    expect(hc.NetworkMode).toBeUndefined();
  });

  it('passes the platform and name as query parameters of the create call', () => {
    expect(spec.platform).toBe('linux/arm64');
    const req = createRequest(spec) as unknown as { _query: Record<string, string>; _body: Record<string, unknown> };
    expect(req._query).toEqual({ name: spec.name, platform: 'linux/arm64' });
    expect(req._body.name).toBeUndefined();
    expect(req._body.platform).toBeUndefined();
    expect(req._body.Image).toBe(base.image);
  });
});

/** memoh-current §2, "Reproducing the containerd defaults under Docker Engine", row by row. */
function expectContainerdDefaults(spec: ReturnType<typeof workspaceSpec>): void {
  const hc = spec.HostConfig!;
  expect(hc.Init).toBe(false);
  expect(hc.CapDrop).toEqual(['ALL']);
  expect(hc.CapAdd).toEqual([
    'CHOWN',
    'DAC_OVERRIDE',
    'FSETID',
    'FOWNER',
    'MKNOD',
    'NET_RAW',
    'SETGID',
    'SETUID',
    'SETFCAP',
    'SETPCAP',
    'NET_BIND_SERVICE',
    'SYS_CHROOT',
    'KILL',
    'AUDIT_WRITE',
  ]);
  expect(hc.SecurityOpt).toEqual([
    'no-new-privileges:true',
    'seccomp=unconfined',
    'apparmor=unconfined',
    'label=disable',
  ]);
  expect(hc.Ulimits).toEqual([{ Name: 'nofile', Soft: 1024, Hard: 1024 }]);
  expect(hc.Tmpfs).toEqual({ '/run': 'rw,exec,dev,nosuid,strictatime,mode=755,size=65536k' });
  expect(hc.ShmSize).toBe(67108864);
}

const v018Input = {
  botId: base.botId,
  image: 'docker.io/memohai/workspace:debian',
  platform: base.platform,
  bridgePath: '/opt/memoh/runtime/bridge',
  socketDir: `/srv/data/run/${base.botId}`,
  resolvConf: '/srv/data/resolv.conf',
};
const tls = { mode: 'strict' as const, serverDir: '/certs/server', bridgeDir: '/certs/bridge', instanceId: 'inst-1' };
const TLS_ENV = [
  'BRIDGE_TLS_MODE=strict',
  'BRIDGE_TLS_CERT_FILE=/run/memoh/mtls/bridge/bridge-server.crt',
  'BRIDGE_TLS_KEY_FILE=/run/memoh/mtls/bridge/bridge-server.key',
  'BRIDGE_TLS_CLIENT_CA_FILE=/run/memoh/mtls/bridge/server-client-ca.crt',
  'BRIDGE_TLS_EXPECTED_CLIENT_URI=spiffe://memoh/instance/inst-1/server',
];
const ALWAYS_ENV = [
  'HOME=/data',
  'XDG_CONFIG_HOME=/data/.config',
  'XDG_DATA_HOME=/data/.local/share',
  'XDG_CACHE_HOME=/data/.cache',
  'MEMOH_SKILL_DISCOVERY_ROOTS=/data/.agents/skills:/root/.agents/skills',
];
const V018_LABELS = {
  'memoh.bot_id': base.botId,
  'memoh.workspace': 'v3',
  'memoh.workspace.resource.cpu_millicores': '0',
  'memoh.workspace.resource.memory_bytes': '0',
};
const V018_MOUNTS = [
  { Type: 'bind', Source: '/srv/data/resolv.conf', Target: '/etc/resolv.conf', ReadOnly: true },
  { Type: 'bind', Source: '/opt/memoh/runtime/bridge', Target: '/opt/memoh/bridge', ReadOnly: true },
  { Type: 'bind', Source: v018Input.socketDir, Target: '/run/memoh', ReadOnly: false },
];

describe('workspaceSpec, v0.18 on containerd (memoh-current §2)', () => {
  const shape = workspaceShape('v0.18', 'containerd');
  const spec = workspaceSpec(shape, { ...v018Input, tz: 'Europe/Berlin' });

  it('runs tini -g -- /opt/memoh/bridge as an entrypoint override (an image ENTRYPOINT is ignored), no Init', () => {
    expect(spec.Entrypoint).toEqual(['/usr/bin/tini']);
    expect(spec.Cmd).toEqual(['-g', '--', '/opt/memoh/bridge']);
    expect(shape.args).toEqual(['/usr/bin/tini', '-g', '--', '/opt/memoh/bridge']);
    expect(spec.HostConfig?.Init).toBe(false);
    expect(spec.WorkingDir).toBeUndefined();
    expect(spec.User).toBeUndefined();
  });

  it('labels with the unchanged memoh.workspace=v3 and the resource labels, "0" when unset', () => {
    expect(spec.Labels).toEqual(V018_LABELS);
  });

  it('sets the env in the order Memoh builds it: TZ, socket path, HOME/XDG, skill roots', () => {
    expect(spec.Env).toEqual(['TZ=Europe/Berlin', 'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', ...ALWAYS_ENV]);
    expect(workspaceSpec(shape, v018Input).Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', ...ALWAYS_ENV]);
  });

  it('mounts resolv.conf ro, only the bridge FILE ro, the socket dir rw, in that order; the image keeps its /opt/memoh', () => {
    expect(spec.HostConfig?.Mounts).toEqual(V018_MOUNTS);
    expect(spec.HostConfig?.Mounts?.some((m) => m.Target === '/opt/memoh')).toBe(false);
    // A toolkit dir or runtime dir given by mistake is not mounted: v0.18 images carry their own.
    const extra = workspaceSpec(shape, {
      ...v018Input,
      toolkitDir: '/tk',
      runtimeDir: '/rt',
      localtime: '/etc/localtime',
    });
    expect(extra.HostConfig?.Mounts).toEqual(V018_MOUNTS);
    expect(shape.toolkitFrom).toBe('image');
  });

  it('strict mTLS: the bridge dir ro at /run/memoh/mtls/bridge and BRIDGE_TLS_* after the socket path', () => {
    const s = workspaceSpec(shape, { ...v018Input, bridgeTls: tls });
    expect(s.Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', ...TLS_ENV, ...ALWAYS_ENV]);
    expect(s.HostConfig?.Mounts).toEqual([
      ...V018_MOUNTS,
      { Type: 'bind', Source: '/certs/bridge', Target: '/run/memoh/mtls/bridge', ReadOnly: true },
    ]);
    const off = workspaceSpec(shape, { ...v018Input, bridgeTls: { ...tls, mode: 'disabled' } });
    expect(off.Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', ...ALWAYS_ENV]);
    expect(off.HostConfig?.Mounts).toEqual(V018_MOUNTS);
  });

  it("reproduces containerd's defaults; the socket is the transport; no port", () => {
    expectContainerdDefaults(spec);
    expect(shape.transport).toBe('unix');
    expect(spec.ExposedPorts).toBeUndefined();
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(shape.wire).toBe('bridgepb');
  });
});

describe('workspaceSpec, v0.18 on the docker backend (memoh-current §2)', () => {
  const shape = workspaceShape('v0.18', 'docker');
  const spec = workspaceSpec(shape, v018Input);

  it('sets the argv as Cmd only, so an image ENTRYPOINT is kept', () => {
    expect(spec.Cmd).toEqual(['/usr/bin/tini', '-g', '--', '/opt/memoh/bridge']);
    expect('Entrypoint' in spec).toBe(false);
  });

  it("has Docker's own defaults: none of the containerd settings", () => {
    const hc = spec.HostConfig!;
    for (const k of ['Init', 'CapDrop', 'CapAdd', 'SecurityOpt', 'Ulimits', 'Tmpfs', 'ShmSize'] as const)
      expect(hc[k], k).toBeUndefined();
    expect(hc.Privileged).toBe(false);
  });

  it('adds BRIDGE_TCP_ADDR=:9090 last and publishes 9090/tcp on 127.0.0.1 with a port the engine picks', () => {
    expect(spec.Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', ...ALWAYS_ENV, 'BRIDGE_TCP_ADDR=:9090']);
    expect(spec.ExposedPorts).toEqual({ '9090/tcp': {} });
    expect(spec.HostConfig?.PortBindings).toEqual({ '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(shape.transport).toBe('tcp');
  });

  it('keeps the same labels and mounts (the socket dir too, unused there)', () => {
    expect(spec.Labels).toEqual(V018_LABELS);
    expect(spec.HostConfig?.Mounts).toEqual(V018_MOUNTS);
    const s = workspaceSpec(shape, { ...v018Input, bridgeTls: tls });
    expect(s.Env).toEqual([
      'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock',
      ...TLS_ENV,
      ...ALWAYS_ENV,
      'BRIDGE_TCP_ADDR=:9090',
    ]);
  });

  it('v3 had no docker backend: a clear InputError naming --backend and --memoh', () => {
    let err: unknown;
    try {
      workspaceShape('v3', 'docker');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe('--backend');
    expect((err as Error).message).toMatch(/Memoh v3 had no docker backend.*--backend containerd.*--memoh v0\.18/);
  });
});

describe('the era × backend table', () => {
  it('differs only where the references say: one shape per pair, chosen once', () => {
    const pairs = (['v3', 'v0.18'] as const).flatMap((era) =>
      (['containerd', 'docker'] as const).map((b) => [era, b] as const),
    );
    const ok = pairs.filter(([e, b]) => !(e === 'v3' && b === 'docker'));
    expect(ok.map(([e, b]) => `${e}/${b}`)).toEqual(['v3/containerd', 'v0.18/containerd', 'v0.18/docker']);
    const shapes = ok.map(([e, b]) => workspaceShape(e, b));
    expect(shapes.map((s) => [s.tz, s.breakSwitchIn, s.toolkitFrom])).toEqual([
      ['server-env', 'runtime-dir', 'runtime-dir'],
      ['server-detect', 'socket-dir', 'image'],
      ['server-detect', 'socket-dir', 'image'],
    ]);
  });
});

describe('bot ids', () => {
  it('generates smoke-<8 hex>, valid by Memoh rules', () => {
    const id = defaultBotId();
    expect(id).toMatch(/^smoke-[0-9a-f]{8}$/);
    expect(defaultBotId()).not.toBe(id);
  });

  it('keeps one id as it is and suffixes several uniquely, all valid', () => {
    expect(botIdsFor('b', [{ image: 'x', arch: 'amd64' }])).toEqual(['b']);
    const ids = botIdsFor('smoke-12345678', [
      { image: IMAGES.debianAmd64, arch: 'amd64' },
      { image: IMAGES.debianAmd64, arch: 'amd64' },
      { image: `ghcr.io/a/b@sha256:${'a'.repeat(64)}`, arch: 'arm64' },
      { image: 'x'.repeat(120), arch: 'amd64' },
    ]);
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toBe('smoke-12345678-debian-amd64');
    expect(ids[1]).toBe('smoke-12345678-debian-amd64-2');
    expect(ids[2]).toBe('smoke-12345678-b-arm64');
    for (const id of ids) expect(() => validateBotId(id, 'test')).not.toThrow();
  });
});

describe('one era description: what validation judges is what the workspace mounts and runs', () => {
  const inputs = { v3: base, 'v0.18': v018Input } as const;
  for (const era of ['v3', 'v0.18'] as const) {
    it(`${era}: every path validation expects Memoh to mount over the image is a mount of the workspace`, () => {
      const targets = workspaceSpec(workspaceShape(era, 'containerd'), inputs[era]).HostConfig?.Mounts?.map(
        (m) => m.Target,
      );
      const expected = ERA_DESCRIPTIONS[era].image.mounts.map((m) => m.path);
      expect(expected.length).toBeGreaterThan(0);
      for (const path of expected) expect(targets).toContain(path);
      // A file bind is the bridge alone; a directory bind is the runtime or socket dir.
      for (const m of ERA_DESCRIPTIONS[era].image.mounts)
        expect(m.source === 'file').toBe(m.path === ERA_DESCRIPTIONS[era].workspace.args.at(-1));
    });
  }

  it('each era names the release its suite rules take, and the backends it had', () => {
    expect(ERA_DESCRIPTIONS.v3.release).toBe('seed');
    expect(ERA_DESCRIPTIONS['v0.18'].release).toBe('v0.18.0');
    expect(ERA_DESCRIPTIONS.v3.backends).toEqual(['containerd']);
    expect(ERA_DESCRIPTIONS['v0.18'].backends).toEqual(['containerd', 'docker']);
    expect(() => workspaceShape('v3', 'docker')).toThrow(InputError);
  });
});
