import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { docker } from '../../src/core/docker.js';
import type { LedgerEntry } from '../../src/core/ledger.js';
import { platformOf } from '../../src/core/platform.js';
import { ImageFiles } from '../../src/image/files.js';
import { validateImages } from '../../src/image/index.js';
import { CONTAINERD_CAPS, workspaceShape } from '../../src/workspace/spec.js';
import { startWorkspace } from '../../src/workspace/workspace.js';
import { testContext } from '../support/context.js';
import { containers, leftoverContainers, removeContainers } from '../support/leaks.js';
import { privateTmp } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

/**
 * Least privilege, read from the engine and from inside the container: a workspace gets Memoh's mounts and
 * exactly what containerd gives a container (memoh-current §2): every capability dropped and containerd's
 * 14 added back explicitly, no-new-privileges, nofile 1024, no devices, no engine socket, no privileged
 * mode. Seccomp and AppArmor are unconfined because containerd sets none: that is what Memoh's workspaces
 * run with. Its read-only mounts cannot be written even by root inside; the docker backend publishes the
 * bridge on loopback only; validation only ever creates containers, never starts them.
 */
const tmp = privateTmp('privilege');
const run = randomBytes(3).toString('hex');
const prefix = `privtest-${run}`;
const control = `memoh-privctl-${run}`;

afterAll(() => {
  const left = [...leftoverContainers(prefix), ...containers([`name=${control}`])];
  removeContainers(left);
  const files = tmp.leftovers();
  tmp.restore();
  expect(left, 'containers left behind').toEqual([]);
  expect(files, 'temp dirs left behind').toEqual([]);
});

const sh = (...argv: string[]): string => execFileSync('docker', argv, { encoding: 'utf8' });
/** One field of /proc/<pid>/status (CapEff is a hex mask). */
const field = (status: string, name: string): string =>
  new RegExp(`^${name}:\\s*(\\S+)$`, 'm').exec(status)?.[1] ?? `(no ${name} in ${status.slice(0, 80)})`;
const capEff = (status: string): string => field(status, 'CapEff');
/** containerd's capability set as a mask, from the capability numbers in linux/capability.h. */
const CAP_BITS: Record<(typeof CONTAINERD_CAPS)[number], number> = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  NET_BIND_SERVICE: 10,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  MKNOD: 27,
  AUDIT_WRITE: 29,
  SETFCAP: 31,
};
const CONTAINERD_MASK = CONTAINERD_CAPS.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c])), 0n)
  .toString(16)
  .padStart(16, '0');

/** What containerd's defaults look like on the engine and at run time, for either era. */
function expectContainerdDefaults(hc: Record<string, unknown>, status: string): void {
  expect(hc.Privileged).toBe(false);
  expect(hc.CapDrop).toEqual(['ALL']);
  expect(hc.CapAdd).toEqual([...CONTAINERD_CAPS]);
  expect(hc.SecurityOpt).toEqual([
    'no-new-privileges:true',
    'seccomp=unconfined',
    'apparmor=unconfined',
    'label=disable',
  ]);
  expect(hc.Ulimits).toEqual([{ Name: 'nofile', Soft: 1024, Hard: 1024 }]);
  expect(hc.Init).toBe(false);
  expect(CONTAINERD_MASK).toBe('00000000a80425fb');
  expect({
    eff: capEff(status),
    bnd: field(status, 'CapBnd'),
    inh: field(status, 'CapInh'),
    amb: field(status, 'CapAmb'),
  }).toEqual({
    eff: CONTAINERD_MASK,
    bnd: CONTAINERD_MASK,
    inh: '0000000000000000',
    amb: '0000000000000000',
  });
  expect([field(status, 'NoNewPrivs'), field(status, 'Seccomp')]).toEqual(['1', '0']);
}

describe('a workspace container has least privilege', () => {
  it("v3: containerd's capabilities and settings, no devices, no engine socket; only the socket dir is writable", async () => {
    // A toolkit, so its extra mount is covered too.
    const tk = join(tmp.dir, 'tk');
    execFileSync('sh', [
      '-c',
      `mkdir -p ${tk}/bin && printf '#!/bin/sh\\n' > ${tk}/bin/node && chmod 755 ${tk}/bin/node && echo '{}' > ${tk}/toolkit.json`,
    ]);
    const ctx = testContext();
    onTestFinished(() => rmSync(tk, { recursive: true, force: true }));
    const ws = await startWorkspace(
      {
        image: `docker.io/${IMAGES.debianAmd64}`,
        platform: platformOf('amd64'),
        shape: workspaceShape('v3', 'containerd'),
        bridgePath: standinBridge('amd64'),
        toolkitDir: tk,
        botId: `${prefix}-ws`,
        timeoutSeconds: 30,
        service: 'auto',
        keep: false,
      },
      ctx,
    );
    try {
      const info = await docker().getContainer(ws.containerId).inspect();
      const hc = info.HostConfig;
      expectContainerdDefaults(
        hc as unknown as Record<string, unknown>,
        sh('exec', ws.containerName, 'cat', '/proc/1/status'),
      );
      expect(hc.Devices ?? []).toEqual([]);
      expect(hc.DeviceRequests ?? []).toEqual([]);
      expect(hc.DeviceCgroupRules ?? []).toEqual([]);
      expect(hc.Binds ?? []).toEqual([]);
      expect(hc.NetworkMode).toBe('default');
      // Namespaces: none shared with the host beyond what the engine gives any container (a cgroup v1
      // engine shares the cgroup namespace by default); compared with a plain container made here.
      expect([hc.PidMode ?? '', hc.UTSMode ?? '', hc.UsernsMode ?? '']).toEqual(['', '', '']);
      expect(hc.IpcMode).not.toBe('host');
      const plainId = sh('create', '--name', control, IMAGES.debianAmd64, 'true').trim();
      const plain = await docker().getContainer(plainId).inspect();
      sh('rm', plainId);
      const modes = (h: typeof hc) => {
        const { NetworkMode, IpcMode, PidMode, UTSMode, UsernsMode, CgroupnsMode } = h as typeof hc & {
          CgroupnsMode?: string;
        };
        return { NetworkMode, IpcMode, PidMode, UTSMode, UsernsMode, CgroupnsMode };
      };
      expect(modes(hc)).toEqual(modes(plain.HostConfig));
      expect(info.Config.User).toBe('');

      // Exactly Memoh's mounts, and only /run/memoh read-write.
      const mounts = info.Mounts.map((m) => ({ dst: m.Destination, src: m.Source, rw: m.RW }));
      expect(mounts.map((m) => m.dst).sort()).toEqual(
        ['/etc/localtime', '/opt/memoh', '/opt/memoh/toolkit', '/run/memoh']
          .filter((d) => d !== '/etc/localtime' || existsSync('/etc/localtime'))
          .sort(),
      );
      const byDst = Object.fromEntries(mounts.map((m) => [m.dst, m]));
      expect(byDst['/opt/memoh']).toEqual({ dst: '/opt/memoh', src: ws.runtimeDir, rw: false });
      expect(byDst['/run/memoh']).toEqual({ dst: '/run/memoh', src: ws.socketDir, rw: true });
      expect(mounts.filter((m) => m.rw).map((m) => m.dst)).toEqual(['/run/memoh']);
      expect(mounts.filter((m) => /docker\.sock|containerd\.sock/.test(`${m.src} ${m.dst}`))).toEqual([]);
      expect(Object.keys(info.Config.Volumes ?? {})).toEqual([]);

      // containerd's set is Docker's default set, made explicit: not one capability more than a plain container.
      const defaultCaps = capEff(
        sh('run', '--rm', '--name', control, '--entrypoint', '', IMAGES.debianAmd64, 'cat', '/proc/1/status'),
      );
      expect(defaultCaps).toBe(CONTAINERD_MASK);
      expect(
        sh('exec', ws.containerName, 'sh', '-c', 'ls /var/run/docker.sock /run/docker.sock 2>&1 || true'),
      ).not.toMatch(/^\/(var\/)?run\/docker\.sock$/m);

      // The socket dir on the host: root's, 0750 (what Memoh creates); the runtime dir is only readable.
      const sd = statSync(ws.socketDir);
      expect({ mode: (sd.mode & 0o7777).toString(8), uid: sd.uid, gid: sd.gid }).toEqual({
        mode: '750',
        uid: 0,
        gid: 0,
      });
      expect((statSync(ws.runtimeDir!).mode & 0o7777).toString(8)).toBe('755');

      // Root inside cannot write the runtime dir (or the toolkit), through the bridge's own Exec.
      const client = ws.connection.client;
      for (const cmd of [
        'touch /opt/memoh/x',
        'mkdir /opt/memoh/d',
        'touch /opt/memoh/toolkit/x',
        'chmod 777 /opt/memoh/toolkit/bin/node',
      ]) {
        const r = await client.exec({ command: `id -u; ${cmd}` });
        expect(r.stdout.toString(), cmd).toBe('0\n');
        expect(r.exitCode, cmd).toBe(1);
        expect(r.stderr.toString(), cmd).toMatch(/Read-only file system/);
      }
      expect(readdirSync(ws.runtimeDir!).sort()).toEqual(['bridge', 'toolkit']);
      expect(readdirSync(tk).sort()).toEqual(['bin', 'toolkit.json']);
      expect((statSync(join(tk, 'bin/node')).mode & 0o777).toString(8)).toBe('755');
      // …while the socket dir is writable: the same command succeeds there.
      const ok = await client.exec({ command: 'touch /run/memoh/x && rm /run/memoh/x' });
      expect(ok.exitCode).toBe(0);
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
  });
});

describe('a v0.18 workspace has least privilege too', () => {
  const v018 = {
    image: `docker.io/${IMAGES.workspaceAmd64}`,
    platform: platformOf('amd64'),
    bridgePath: standinBridge('amd64', 'v0.18'),
    timeoutSeconds: 30,
    service: 'auto' as const,
    keep: false,
  };

  it('containerd backend: the same settings; only the bridge file, resolv.conf and the socket dir mounted, only /run/memoh writable', async () => {
    const ctx = testContext();
    const ws = await startWorkspace(
      { ...v018, shape: workspaceShape('v0.18', 'containerd'), botId: `${prefix}-v18c` },
      ctx,
    );
    try {
      const info = await docker().getContainer(ws.containerId).inspect();
      const hc = info.HostConfig;
      // PID 1 is tini now; the bridge is its child and an Exec's shell the bridge's: all hold the same set.
      expectContainerdDefaults(
        hc as unknown as Record<string, unknown>,
        sh('exec', ws.containerName, 'cat', '/proc/1/status'),
      );
      const r = await ws.connection.client.exec({ command: 'cat /proc/self/status' });
      expectContainerdDefaults(hc as unknown as Record<string, unknown>, r.stdout.toString());
      expect([hc.Devices ?? [], hc.Binds ?? [], hc.PortBindings ?? {}]).toEqual([[], [], {}]);
      const mounts = info.Mounts.map((m) => ({ dst: m.Destination, rw: m.RW })).sort((a, b) =>
        a.dst.localeCompare(b.dst),
      );
      expect(mounts).toEqual([
        { dst: '/etc/resolv.conf', rw: false },
        { dst: '/opt/memoh/bridge', rw: false },
        { dst: '/run/memoh', rw: true },
      ]);
      expect(info.Mounts.filter((m) => /docker\.sock|containerd\.sock/.test(`${m.Source} ${m.Destination}`))).toEqual(
        [],
      );
      // Root inside cannot replace the bridge or resolv.conf (the image's own /opt/memoh is its layer: writable).
      for (const cmd of [
        'rm -f /opt/memoh/bridge',
        'mv /opt/memoh/bridge /opt/memoh/b2',
        'echo x >> /etc/resolv.conf',
      ]) {
        const x = await ws.connection.client.exec({ command: `id -u; ${cmd}` });
        expect(x.stdout.toString(), cmd).toBe('0\n');
        expect(x.exitCode, cmd).not.toBe(0);
        expect(x.stderr.toString(), cmd).toMatch(/Read-only file system|Device or resource busy/);
      }
      expect(statSync(standinBridge('amd64', 'v0.18')).isFile()).toBe(true);
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
  });

  it("docker backend: Docker's defaults, the bridge port published on loopback only", async () => {
    const ctx = testContext();
    const ws = await startWorkspace(
      { ...v018, shape: workspaceShape('v0.18', 'docker'), botId: `${prefix}-v18d` },
      ctx,
    );
    try {
      const info = await docker().getContainer(ws.containerId).inspect();
      expect(info.HostConfig.Privileged).toBe(false);
      expect(info.HostConfig.CapAdd ?? []).toEqual([]);
      expect(info.HostConfig.PortBindings).toEqual({ '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
      expect(
        Object.values(info.NetworkSettings.Ports)
          .flat()
          .map((b) => b?.HostIp),
      ).toEqual(['127.0.0.1']);
      // A plain container's capabilities: nothing added.
      expect(capEff(sh('exec', ws.containerName, 'cat', '/proc/1/status'))).toBe(CONTAINERD_MASK);
    } finally {
      expect(await ws.remove()).toEqual([]);
    }
    expect(ctx.ledger.entries()).toEqual([]);
  });
});

/** Container events (create/start/destroy) between two instants, by container name. */
function containerEvents(sinceS: number, untilS: number): { action: string; name: string; id: string }[] {
  const out = execFileSync(
    'docker',
    [
      'events',
      '--since',
      String(sinceS),
      '--until',
      String(untilS),
      '--filter',
      'type=container',
      '--format',
      '{{json .}}',
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } })
    .map((e) => ({ action: e.Action, name: e.Actor.Attributes.name ?? '', id: e.Actor.ID }));
}

describe('validation never runs an image', () => {
  it('validateImages creates its containers and removes them without ever starting one', async () => {
    const ctx = testContext();
    // Every validation container, by name, the moment the ledger hears of it; each is inspected until it
    // is gone. A start attempt that fails leaves no event, but it does leave an exit code and an error.
    const watched = new Map<string, Promise<string[]>>();
    const watch = async (name: string): Promise<string[]> => {
      const states: string[] = [];
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        try {
          const s = (await docker().getContainer(name).inspect()).State;
          // 'removing' is the ledger's removal under way.
          states.push(
            `${s.Status === 'removing' ? 'created' : s.Status} started=${s.StartedAt} exit=${s.ExitCode} error=${s.Error}`,
          );
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err;
          if (states.length > 0 || !ctx.ledger.entries().some((e) => e.kind === 'container' && e.name === name))
            return states;
        }
        await new Promise((r) => setTimeout(r, 15));
      }
      throw new Error(`${name} still exists after 60 s`);
    };
    ctx.ledger.onChange((entries) => {
      for (const e of entries) {
        if (e.kind === 'container' && e.name?.startsWith('memoh-validate-') && !watched.has(e.name))
          watched.set(e.name, watch(e.name));
      }
    });
    const since = Math.floor(Date.now() / 1000) - 1;
    const reports = await validateImages(
      {
        images: [IMAGES.debianAmd64, IMAGES.muslAmd64, IMAGES.noshellAmd64],
        platforms: [platformOf('amd64')],
        registry: '',
        pull: 'never',
        concurrency: 2,
      },
      ctx,
    );
    // Each image's files were read (through its created container).
    expect(reports.map((r) => r.libc)).toEqual(['glibc', 'musl', 'none']);
    // A control in the same window: a container that does start must show up as started.
    sh('run', '--rm', '--name', control, '--entrypoint', '', IMAGES.debianAmd64, 'true');
    const until = Math.ceil(Date.now() / 1000) + 1;
    await new Promise((r) => setTimeout(r, until * 1000 - Date.now() + 50));
    const events = containerEvents(since, until);

    expect(events.filter((e) => e.name === control).map((e) => e.action)).toEqual(
      expect.arrayContaining(['create', 'start', 'destroy']),
    );
    const seen = new Set(watched.keys());
    expect(seen.size).toBe(3);
    for (const [name, states] of watched) {
      const all = await states;
      expect(all.length, `${name} was never seen while it existed`).toBeGreaterThan(0);
      expect(new Set(all), name).toEqual(new Set(['created started=0001-01-01T00:00:00Z exit=0 error=']));
    }
    const ours = events.filter((e) => seen.has(e.name));
    const actions = (a: string) =>
      ours
        .filter((e) => e.action === a)
        .map((e) => e.name)
        .sort();
    expect(actions('create')).toEqual([...seen].sort());
    expect(actions('destroy')).toEqual([...seen].sort());
    expect(ours.filter((e) => /^(start|restart|exec_start|attach|unpause)/.test(e.action))).toEqual([]);
    expect(ctx.ledger.entries()).toEqual([]);
    for (const name of seen)
      await expect(docker().getContainer(name).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('the container that reads an image is created, never started, without network, and removed', async () => {
    const ctx = testContext();
    const image = await docker().getImage(IMAGES.debianAmd64).inspect();
    const files = await ImageFiles.open(image.Id, ctx);
    const entry = ctx.ledger
      .entries()
      .find((e): e is Extract<LedgerEntry, { kind: 'container' }> => e.kind === 'container');
    expect(entry?.name).toMatch(/^memoh-validate-[0-9a-f]{12}$/);
    try {
      expect((await files.lstat('/etc/os-release'))?.kind).toBe('symlink');
      const info = await docker().getContainer(entry!.id).inspect();
      expect(info.State.Status).toBe('created');
      expect(info.State.Running).toBe(false);
      expect(info.State.StartedAt).toBe('0001-01-01T00:00:00Z');
      // Not even a failed start attempt (that leaves an exit code and an error).
      expect([info.State.ExitCode, info.State.Error]).toEqual([0, '']);
      expect(info.HostConfig.NetworkMode).toBe('none');
      expect(info.HostConfig.Privileged).toBe(false);
      expect(info.HostConfig.CapAdd ?? []).toEqual([]);
      expect(info.Mounts).toEqual([]);
    } finally {
      await files.close();
    }
    expect(ctx.ledger.entries()).toEqual([]);
    await expect(docker().getContainer(entry!.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
