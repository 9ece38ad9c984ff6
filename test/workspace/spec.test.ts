import { describe, expect, it } from 'vitest';
import { botIdsFor, defaultBotId } from '../../src/workspace/smoke.js';
import { containerName, createRequest, workspaceSpec } from '../../src/workspace/spec.js';
import { validateBotId } from '../../src/config/validate.js';

// Memoh's v3 workspace spec (shared/bridge-contract.md §1–§2), in the Engine API's words.
const base = {
  botId: '0b7c2a6e-1f4d-4c1b-9a51-3f3d6a1c2b9e',
  image: 'docker.io/library/debian:bookworm-slim',
  platform: { os: 'linux' as const, arch: 'arm64' as const, variant: 'v8' },
  runtimeDir: '/tmp/memoh-runtime-x',
  socketDir: '/tmp/memoh-run-y',
};

describe('workspaceSpec (contract §2)', () => {
  const spec = workspaceSpec({ ...base, tz: 'Asia/Shanghai', localtime: '/etc/localtime' });

  it('names and labels the container as Memoh does', () => {
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

  it('sets BRIDGE_SOCKET_PATH, and TZ only when the host has one', () => {
    expect(spec.Env).toEqual(['TZ=Asia/Shanghai', 'BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
    expect(workspaceSpec(base).Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
    expect(workspaceSpec({ ...base, tz: '' }).Env).toEqual(['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock']);
  });

  it('adds the toolkit read-only over the runtime dir\'s toolkit/ when one is given', () => {
    const withTk = workspaceSpec({ ...base, toolkitDir: '/cache/toolkit-amd64' });
    expect(withTk.HostConfig?.Mounts?.[2]).toEqual({ Type: 'bind', Source: '/cache/toolkit-amd64', Target: '/opt/memoh/toolkit', ReadOnly: true });
  });

  it('mounts runtime dir ro at /opt/memoh, socket dir rw at /run/memoh, localtime ro when present, in that order', () => {
    expect(spec.HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: base.runtimeDir, Target: '/opt/memoh', ReadOnly: true },
      { Type: 'bind', Source: base.socketDir, Target: '/run/memoh', ReadOnly: false },
      { Type: 'bind', Source: '/etc/localtime', Target: '/etc/localtime', ReadOnly: true },
    ]);
    expect(workspaceSpec(base).HostConfig?.Mounts?.map((m) => m.Target)).toEqual(['/opt/memoh', '/run/memoh']);
    // Binds would create missing sources silently; bind Mounts refuse them.
    expect(spec.HostConfig?.Binds).toBeUndefined();
  });

  it('asks for nothing Memoh does not: not privileged, no capabilities, bridge stays PID 1, no restart', () => {
    const hc = spec.HostConfig!;
    expect(hc.Privileged).toBe(false);
    expect(hc.CapAdd).toEqual([]);
    expect(hc.Init).toBe(false);
    expect(hc.AutoRemove).toBe(false);
    expect(hc.RestartPolicy).toEqual({ Name: 'no' });
    expect(hc.PortBindings).toBeUndefined();
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

describe('bot ids', () => {
  it('generates smoke-<8 hex>, valid by Memoh rules', () => {
    const id = defaultBotId();
    expect(id).toMatch(/^smoke-[0-9a-f]{8}$/);
    expect(defaultBotId()).not.toBe(id);
  });

  it('keeps one id as it is and suffixes several uniquely, all valid', () => {
    expect(botIdsFor('b', [{ image: 'x', arch: 'amd64' }])).toEqual(['b']);
    const ids = botIdsFor('smoke-12345678', [
      { image: 'memoh-test/debian:amd64', arch: 'amd64' },
      { image: 'memoh-test/debian:amd64', arch: 'amd64' },
      { image: 'ghcr.io/a/b@sha256:' + 'a'.repeat(64), arch: 'arm64' },
      { image: 'x'.repeat(120), arch: 'amd64' },
    ]);
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toBe('smoke-12345678-debian-amd64');
    expect(ids[1]).toBe('smoke-12345678-debian-amd64-2');
    expect(ids[2]).toBe('smoke-12345678-b-arm64');
    for (const id of ids) expect(() => validateBotId(id, 'test')).not.toThrow();
  });
});
