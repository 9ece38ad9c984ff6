import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectBridgeTarget } from '../../src/bridge/connect.js';
import { loadUserChecks, runUserChecks } from '../../src/bridge/index.js';
import { docker } from '../../src/core/docker.js';
import type { BridgeTls } from '../../src/core/era.js';
import { platformOf } from '../../src/core/platform.js';
import { FALLBACK_RESOLV_CONF, SYSTEMD_RESOLV_CONF, serverTimezone } from '../../src/workspace/dirs.js';
import { workspaceShape } from '../../src/workspace/spec.js';
import { startWorkspace, type WorkspaceRequest, WorkspaceStartError } from '../../src/workspace/workspace.js';
import { testContext } from '../support/context.js';
import { guardedFile } from '../support/leaks.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

/**
 * Memoh v0.18's workspace container on the real engine, both backends: the containerd defaults seen from
 * inside by a user check, the docker backend over TCP with its image ENTRYPOINT kept, strict mTLS with
 * certificates made here by openssl (a wrong client certificate refused).
 */
const { tmp, prefix } = guardedFile('v018', 'v18', (f) => f.startsWith('pki'));
const V018_BRIDGE = standinBridge('amd64', 'v0.18');

const request = (over: Partial<WorkspaceRequest> = {}): WorkspaceRequest => ({
  image: `docker.io/${IMAGES.workspaceAmd64}`,
  platform: platformOf('amd64'),
  shape: workspaceShape('v0.18', 'containerd'),
  bridgePath: V018_BRIDGE,
  botId: `${prefix}-${randomBytes(2).toString('hex')}`,
  timeoutSeconds: 30,
  service: 'auto',
  keep: false,
  ...over,
});

/** Memoh's env, in its order, as a subsequence of what the engine holds (the image ENV is merged underneath). */
function inOrder(env: string[], wanted: string[]): string[] {
  return env.filter((e) => wanted.some((w) => e.startsWith(`${w.split('=')[0]!}=`)));
}

describe('v0.18 on the containerd backend', () => {
  it("tini -g -- bridge, only the bridge file mounted, Memoh's data root; a user check sees containerd's defaults", async () => {
    const ctx = testContext();
    const ws = await startWorkspace(request({ extraRuntimeFiles: { 'standin-break': 'none\n' } }), ctx);
    try {
      expect(ctx.ledger.entries().map((e) => (e.kind === 'path' ? e.what : e.kind))).toEqual([
        'socket-dir',
        'container',
      ]);
      expect(ws.runtimeDir).toBeUndefined();
      expect(ws.target).toEqual({ kind: 'unix', socketPath: ws.socketPath });
      expect(ws.connection.service).toBe('bridgepb');

      const info = await docker().getContainer(ws.containerId).inspect();
      expect(info.Path).toBe('/usr/bin/tini');
      expect(info.Args).toEqual(['-g', '--', '/opt/memoh/bridge']);
      expect(info.Config.Labels).toMatchObject({
        'memoh.bot_id': ws.botId,
        'memoh.workspace': 'v3',
        'memoh.workspace.resource.cpu_millicores': '0',
        'memoh.workspace.resource.memory_bytes': '0',
      });
      // This host has no $TZ but /etc/timezone: v0.18 passes that zone on (the seed would not).
      const tz = await serverTimezone('server-detect', process.env.TZ);
      const memohEnv = [
        ...(tz ? [`TZ=${tz}`] : []),
        'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock',
        'HOME=/data',
        'XDG_CONFIG_HOME=/data/.config',
        'XDG_DATA_HOME=/data/.local/share',
        'XDG_CACHE_HOME=/data/.cache',
        'MEMOH_SKILL_DISCOVERY_ROOTS=/data/.agents/skills:/root/.agents/skills',
      ];
      expect(inOrder(info.Config.Env, memohEnv)).toEqual(memohEnv);
      expect(info.Config.Env).toContain('MEMOH_TOOLKIT_DIR=/opt/memoh/toolkit');
      const hc = info.HostConfig as typeof info.HostConfig & {
        Init?: boolean;
        Tmpfs?: Record<string, string>;
        CapDrop?: string[];
      };
      expect(hc.Init).toBe(false);
      expect(hc.CapDrop).toEqual(['ALL']);
      expect(hc.SecurityOpt).toEqual([
        'no-new-privileges:true',
        'seccomp=unconfined',
        'apparmor=unconfined',
        'label=disable',
      ]);
      expect(hc.Tmpfs).toEqual({ '/run': 'rw,exec,dev,nosuid,strictatime,mode=755,size=65536k' });

      // Mounts: resolv.conf and the bridge FILE read-only, the socket dir read-write; nothing over /opt/memoh.
      const mounts = Object.fromEntries(info.Mounts.map((m) => [m.Destination, { src: m.Source, rw: m.RW }]));
      const resolv = existsSync(SYSTEMD_RESOLV_CONF) ? SYSTEMD_RESOLV_CONF : join(ws.dataRoot!, 'resolv.conf');
      expect(mounts).toEqual({
        '/etc/resolv.conf': { src: resolv, rw: false },
        '/opt/memoh/bridge': { src: V018_BRIDGE, rw: false },
        '/run/memoh': { src: ws.socketDir, rw: true },
      });
      // Memoh's data root: run/<botID> (0750) holds the socket and the break switch; resolv.conf 0644.
      expect(ws.socketDir).toBe(join(ws.dataRoot!, 'run', ws.botId));
      expect(statSync(ws.socketDir).mode & 0o777).toBe(0o750);
      expect(readdirSync(ws.socketDir).sort()).toEqual(['bridge.sock', 'standin-break']);
      if (resolv !== SYSTEMD_RESOLV_CONF) {
        expect(readFileSync(resolv, 'utf8')).toBe(FALLBACK_RESOLV_CONF);
        expect(statSync(resolv).mode & 0o777).toBe(0o644);
      }

      // What a user check sees from inside, through the bridge's own Exec.
      const checks = loadUserChecks(
        'containerd-defaults.toml',
        String.raw`
[[command]]
name = "pid1-is-tini"
command = "tr '\\0' ' ' < /proc/1/cmdline"
stdout = "^/usr/bin/tini -g -- /opt/memoh/bridge $"
[[command]]
name = "no-new-privs-no-seccomp"
command = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"
stdout = "^NoNewPrivs:\\s+1\\nSeccomp:\\s+0\\n$"
[[command]]
name = "caps-are-containerds"
command = "grep -E '^Cap(Eff|Bnd|Inh|Amb):' /proc/self/status"
stdout = "^CapInh:\\s+0+\\nCapEff:\\s+00000000a80425fb\\nCapBnd:\\s+00000000a80425fb\\nCapAmb:\\s+0+\\n$"
[[command]]
name = "nofile-1024"
command = "ulimit -n; ulimit -Hn"
stdout = "^1024\\n1024\\n$"
[[command]]
name = "run-is-tmpfs"
command = "awk '$5 == \"/run\" { for (i = 7; i <= NF; i++) if ($i == \"-\") print $(i+1), $6, $(i+3) }' /proc/self/mountinfo"
stdout = "^tmpfs rw,nosuid \\S*size=65536k,mode=755\\S*\\n$"
[[command]]
name = "shm-64m"
command = "awk '$5 == \"/dev/shm\" { for (i = 7; i <= NF; i++) if ($i == \"-\") print $(i+3) }' /proc/self/mountinfo"
stdout = "size=65536k"
[[command]]
name = "image-opt-memoh-visible-and-writable"
command = "ls /opt/memoh && touch /opt/memoh/probe && rm /opt/memoh/probe"
stdout = "^bridge\\nscripts\\ntoolkit\\nworkspace-contract\\.json\\n$"
[[command]]
name = "bridge-file-read-only"
command = "awk '$5 == \"/opt/memoh/bridge\" { print $6 }' /proc/self/mountinfo"
stdout = "^ro,\\S+\\n$"
[[file]]
name = "resolv-conf"
path = "/etc/resolv.conf"
contents = "nameserver"
`,
      );
      const results = await runUserChecks(ws.connection, checks, ctx);
      expect(results.map((r) => [r.id, r.status, r.status === 'pass' ? '' : r.detail])).toEqual(
        checks.checks.map((c) => [c.id, 'pass', '']),
      );

      // tini forwards SIGTERM to the bridge; the bridge's exit is tini's.
      const stop = await ws.stop();
      expect(stop).toMatchObject({ exitCode: 0, socketGone: true });
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
    expect(existsSync(ws.dataRoot!)).toBe(false);
  });

  it('the break switch reaches the v0.18 bridge through the socket dir: a bridge that never listens times out', async () => {
    const ctx = testContext();
    const err = await startWorkspace(
      request({ extraRuntimeFiles: { 'standin-break': 'no-listen\n' }, timeoutSeconds: 3 }),
      ctx,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceStartError);
    const e = err as WorkspaceStartError;
    expect(e.message).toMatch(
      /did not answer within 3 s \(socket exists: no socket at .*\/run\/.*\/bridge\.sock yet\)/,
    );
    expect(e.context?.logs.join('\n')).toMatch(/deliberately NOT listening/);
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('an image without tini cannot start (Memoh v0.18 needs /usr/bin/tini); the reason is in the failure', async () => {
    const ctx = testContext();
    const err = await startWorkspace(request({ image: `docker.io/${IMAGES.workspaceNoTini}` }), ctx).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkspaceStartError);
    const e = err as WorkspaceStartError;
    expect(['start', 'ready']).toContain(e.phase);
    expect(`${e.message} ${e.context?.logs.join(' ') ?? ''}`).toMatch(/\/usr\/bin\/tini.*(no such file|not found)/i);
    expect(ctx.ledger.entries()).toEqual([]);
  });
});

describe('v0.18 on the docker backend', () => {
  it("Cmd only, Docker's defaults, BRIDGE_TCP_ADDR published on 127.0.0.1: the bridge answers over TCP and makes no socket", async () => {
    const ctx = testContext();
    const ws = await startWorkspace(request({ shape: workspaceShape('v0.18', 'docker') }), ctx);
    try {
      const info = await docker().getContainer(ws.containerId).inspect();
      expect(info.Path).toBe('/usr/bin/tini');
      expect(info.Args).toEqual(['-g', '--', '/opt/memoh/bridge']);
      expect(info.Config.Entrypoint).toBeNull();
      expect(
        inOrder(info.Config.Env, ['BRIDGE_SOCKET_PATH=', 'MEMOH_SKILL_DISCOVERY_ROOTS=', 'BRIDGE_TCP_ADDR=']),
      ).toEqual([
        'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock',
        'MEMOH_SKILL_DISCOVERY_ROOTS=/data/.agents/skills:/root/.agents/skills',
        'BRIDGE_TCP_ADDR=:9090',
      ]);
      const hc = info.HostConfig as typeof info.HostConfig & {
        Tmpfs?: Record<string, string>;
        CapDrop?: string[] | null;
      };
      expect([hc.CapDrop ?? [], hc.CapAdd ?? [], hc.SecurityOpt ?? [], hc.Tmpfs ?? {}]).toEqual([[], [], [], {}]);
      const bound = info.NetworkSettings.Ports['9090/tcp'];
      expect(bound?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
      expect(ws.target).toEqual({ kind: 'tcp', host: '127.0.0.1', port: Number(bound?.[0]?.HostPort), tls: undefined });
      expect(ws.connection.service).toBe('bridgepb');
      expect((await ws.connection.client.stat('/data')).isDir).toBe(true);
      // The socket dir is mounted (Memoh does) but the bridge listens on TCP only.
      expect(readdirSync(ws.socketDir)).toEqual([]);
      // Docker's own defaults, seen from inside: its seccomp profile, no no-new-privileges.
      const r = await ws.connection.client.exec({ command: "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status" });
      expect(r.stdout.toString()).toMatch(/^NoNewPrivs:\s+0\nSeccomp:\s+2\n$/);
      expect((await ws.stop()).exitCode).toBe(0);
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('keeps an image ENTRYPOINT: the argv goes to it as arguments', async () => {
    // entrypoint-user: ENTRYPOINT /usr/bin/false. Under the docker backend it receives tini's argv and exits 1.
    const ctx = testContext();
    const err = await startWorkspace(
      request({
        shape: workspaceShape('v0.18', 'docker'),
        image: `docker.io/${IMAGES.entrypointUserAmd64}`,
        keep: true,
      }),
      ctx,
    ).catch((e: unknown) => e);
    try {
      expect(err).toBeInstanceOf(WorkspaceStartError);
      expect((err as WorkspaceStartError).context).toMatchObject({ state: 'exited', exitCode: 1 });
      const name = ctx.ledger.entries().find((e) => e.kind === 'container')?.id ?? '';
      const info = await docker().getContainer(name).inspect();
      expect(info.Path).toBe('/usr/bin/false');
      expect(info.Args).toEqual(['/usr/bin/tini', '-g', '--', '/opt/memoh/bridge']);
    } finally {
      expect((await ctx.ledger.drain()).errors).toEqual([]);
    }
  });
});

describe('v0.18 on arm64 (qemu), both backends', () => {
  for (const backend of ['containerd', 'docker'] as const) {
    it(`${backend}: tini runs the arm64 bridge, which answers`, async () => {
      const ctx = testContext();
      const ws = await startWorkspace(
        request({
          image: `docker.io/${IMAGES.workspaceArm64}`,
          platform: platformOf('arm64'),
          bridgePath: standinBridge('arm64', 'v0.18'),
          shape: workspaceShape('v0.18', backend),
          timeoutSeconds: 90,
        }),
        ctx,
      );
      try {
        expect(ws.target.kind).toBe(backend === 'docker' ? 'tcp' : 'unix');
        const r = await ws.connection.client.exec({ command: "uname -m; tr '\\0' ' ' < /proc/1/cmdline" });
        // binfmt_misc with the P flag shows qemu and the original argv[0] first.
        expect(r.stdout.toString()).toMatch(
          /^aarch64\n(\S*qemu\S* \/usr\/bin\/tini )?\/usr\/bin\/tini -g -- \/opt\/memoh\/bridge $/,
        );
      } finally {
        expect(await ws.remove()).toEqual([]);
      }
      expect(ctx.ledger.entries()).toEqual([]);
    }, 180_000);
  }
});

/**
 * The PKI cmd/gen-bridge-mtls makes, made here with openssl: one CA for the bridge's server certificate,
 * one for the server's client certificate, and a client certificate Memoh's bridge must refuse.
 */
function makePki(dir: string, instance: string): { tls: BridgeTls; wrongClient: BridgeTls } {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  mkdirSync(join(dir, 'server'), { recursive: true });
  mkdirSync(join(dir, 'bridge'), { recursive: true });
  mkdirSync(join(dir, 'wrong'), { recursive: true });
  const ca = (name: string) =>
    ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    );
  const leaf = (out: string, caName: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${cn}.ext`), ext);
    ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${out}.key`,
      '-out',
      `${cn}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    ossl(
      'x509',
      '-req',
      '-in',
      `${cn}.csr`,
      '-CA',
      `${caName}.crt`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-out',
      `${out}.crt`,
      '-days',
      '2',
      '-extfile',
      `${cn}.ext`,
    );
  };
  ca('bridge-server-ca');
  ca('server-client-ca');
  leaf(
    'bridge/bridge-server',
    'bridge-server-ca',
    'bridge',
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:memoh-bridge.${instance}.bridge.memoh.internal,URI:spiffe://memoh/instance/${instance}/bridge\n`,
  );
  leaf(
    'server/server-client',
    'server-client-ca',
    'server',
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://memoh/instance/${instance}/server\n`,
  );
  // Signed by the right CA, with the ClientAuth EKU, but for another instance: the URI SAN is wrong.
  leaf(
    'wrong/server-client',
    'server-client-ca',
    'wrong',
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://memoh/instance/other-${instance}/server\n`,
  );
  execFileSync('cp', [join(dir, 'server-client-ca.crt'), join(dir, 'bridge/')]);
  execFileSync('cp', [join(dir, 'bridge-server-ca.crt'), join(dir, 'server/')]);
  execFileSync('cp', [join(dir, 'bridge-server-ca.crt'), join(dir, 'wrong/')]);
  const tls: BridgeTls = {
    mode: 'strict',
    serverDir: join(dir, 'server'),
    bridgeDir: join(dir, 'bridge'),
    instanceId: instance,
  };
  return { tls, wrongClient: { ...tls, serverDir: join(dir, 'wrong') } };
}

describe('v0.18 strict mTLS over the docker backend', () => {
  it('the bridge accepts the server client certificate and refuses one with the wrong URI SAN', async () => {
    const instance = `inst-${prefix}`;
    const { tls, wrongClient } = makePki(join(tmp.dir, 'pki'), instance);
    const ctx = testContext();
    const ws = await startWorkspace(request({ shape: workspaceShape('v0.18', 'docker'), bridgeTls: tls }), ctx);
    try {
      expect(ws.target).toMatchObject({ kind: 'tcp', host: '127.0.0.1', tls });
      const info = await docker().getContainer(ws.containerId).inspect();
      expect(info.Config.Env).toEqual(
        expect.arrayContaining([
          'BRIDGE_TLS_MODE=strict',
          'BRIDGE_TLS_CERT_FILE=/run/memoh/mtls/bridge/bridge-server.crt',
          'BRIDGE_TLS_KEY_FILE=/run/memoh/mtls/bridge/bridge-server.key',
          'BRIDGE_TLS_CLIENT_CA_FILE=/run/memoh/mtls/bridge/server-client-ca.crt',
          `BRIDGE_TLS_EXPECTED_CLIENT_URI=spiffe://memoh/instance/${instance}/server`,
        ]),
      );
      expect(info.Mounts.find((m) => m.Destination === '/run/memoh/mtls/bridge')).toMatchObject({
        Source: tls.bridgeDir,
        RW: false,
      });
      expect((await ws.connection.client.stat('/opt/memoh/bridge')).isDir).toBe(false);

      const port = ws.target.kind === 'tcp' ? ws.target.port : 0;
      // Plaintext is refused too: the listener speaks TLS only.
      for (const [what, t, why] of [
        // The bridge's handshake ends with TLS alert 42 (bad_certificate).
        ['a client certificate with the wrong URI SAN', wrongClient, /UNAVAILABLE.*bad certificate/],
        ['no TLS at all', undefined, /not answering: UNAVAILABLE/],
      ] as const) {
        const err = await connectBridgeTarget(
          { kind: 'tcp', host: '127.0.0.1', port, tls: t },
          { service: 'bridgepb', deadlineMs: 3000, traits: false },
        ).then(
          (c) => {
            c.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(err, what).toBeInstanceOf(Error);
        expect((err as Error).message, what).toMatch(why);
      }
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it('a client certificate the bridge refuses ends the wait at once, with the reason and the fix', async () => {
    const { wrongClient } = makePki(join(tmp.dir, 'pki2'), `inst2-${prefix}`);
    const ctx = testContext();
    const t0 = performance.now();
    const err = await startWorkspace(
      request({ shape: workspaceShape('v0.18', 'docker'), bridgeTls: wrongClient, timeoutSeconds: 60 }),
      ctx,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceStartError);
    const e = err as WorkspaceStartError;
    expect(e.phase).toBe('ready');
    expect(e.message).toMatch(/^the bridge cannot become ready: .*bad certificate/);
    expect(e.fix).toMatch(/gen-bridge-mtls/);
    expect(e.context?.state).toBe('running');
    // Well before the 60 s the wait was given.
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(ctx.ledger.entries()).toEqual([]);
  });
});
