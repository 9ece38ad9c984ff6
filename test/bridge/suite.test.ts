import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BridgeConnection,
  loadUserChecks,
  PROBE_TEMPLATE,
  runSmokeSuite,
  runUserChecks,
  suiteCheckIds,
} from '../../src/bridge/index.js';
import { IMAGES } from '../world/images.js';
import { ctx, NOT_RUN, startWorkspaceStandin, table, type WorkspaceStandin } from './fixture.js';

const USER_CHECKS = `
[[command]]
name = "echo-env"
command = "echo \\"$GREETING\\"; echo warn >&2"
env = { GREETING = "hello" }
stdout = "^hello\\n$"
stderr = ["^warn"]
not_stdout = "error"

[[command]]
name = "stdin-and-workdir"
command = "cat; pwd"
stdin = "in:"
work_dir = "/tmp"
stdout = '^in:/tmp\\n$'

[[command]]
name = "exit-code"
command = "exit 4"
exit_code = 4

[[command]]
name = "wrong-output"
command = "echo nope"
stdout = "^yes"

[[file]]
name = "bridge-binary"
path = "/opt/memoh/bridge"
mode = "0755"
is_dir = false

[[file]]
name = "template"
path = "/data/${PROBE_TEMPLATE.name}"
mode = "-rw-r--r--"
contents = ["^# memoh-workspace smoke probe", "seeded|checks"]

[[file]]
name = "absent"
path = "/etc/no-such-file"
exists = false

[[file]]
name = "missing"
path = "/etc/no-such-file"
`;

describe.each([
  ['debian', IMAGES.debianAmd64, 'glibc'],
  ['musl', IMAGES.muslAmd64, 'musl'],
] as const)('against the healthy v3 stand-in (%s)', (_name, image, libc) => {
  let ws: WorkspaceStandin;
  let conn: BridgeConnection;
  beforeAll(async () => {
    ws = await startWorkspaceStandin({ era: 'v3', image: `docker.io/${image}` });
    conn = ws.connection;
  });
  afterAll(async () => {
    await ws?.remove();
  });

  it('user checks run through the bridge, one result each, failures with their reason', async () => {
    const checks = await runUserChecks(conn, loadUserChecks('checks.toml', USER_CHECKS), ctx());
    const by = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(checks.map((c) => `${c.id}:${c.status}`)).toEqual([
      'user.echo-env:pass',
      'user.stdin-and-workdir:pass',
      'user.exit-code:pass',
      'user.wrong-output:fail',
      'user.bridge-binary:pass',
      'user.template:pass',
      'user.absent:pass',
      'user.missing:fail',
    ]);
    expect(by['user.wrong-output']!.detail).toBe('stdout "nope\\n" does not match /^yes/ (exit 0, stdout "nope")');
    expect(by['user.missing']!.detail).toBe('/etc/no-such-file does not exist');
  });

  it('the built-in suite passes (reaper race may warn), one result per check, SIGTERM last', async () => {
    expect(conn.service).toBe('mcpcontainer');
    expect(conn.traits).toMatchObject({ wire: 'mcpcontainer', reflection: 'v1alpha', methods: 10 });
    const t0 = performance.now();
    const checks = await runSmokeSuite(
      conn,
      { era: 'v3', libc, probeTemplate: PROBE_TEMPLATE },
      { stopWorkspace: () => ws.stop() },
      ctx(),
    );
    const ms = Math.round(performance.now() - t0);
    console.log(`${image}: suite took ${ms} ms\n${table(checks)}`);
    expect(checks.map((c) => c.id)).toEqual(suiteCheckIds('v3'));
    expect(checks.length).toBeGreaterThanOrEqual(20);
    const bad = checks.filter((c) => {
      if (NOT_RUN.includes(c.id)) return c.status !== 'skip';
      if (c.id === 'exec.reaper-race') return c.status !== 'pass' && c.status !== 'warn';
      return c.status !== 'pass';
    });
    expect(table(bad)).toBe('');
    for (const c of checks) {
      expect(c.detail.length).toBeGreaterThan(0);
      expect(c.durationMs).toBeTypeOf('number');
    }
    expect(ms).toBeLessThan(60_000);
  }, 180_000);
});

describe.each(['containerd', 'docker'] as const)('against the healthy v0.18 stand-in (%s backend)', (backend) => {
  let ws: WorkspaceStandin;
  beforeAll(async () => {
    ws = await startWorkspaceStandin({ era: 'v0.18', backend });
  });
  afterAll(async () => {
    await ws?.remove();
  });

  it('the v0.18 suite passes with ≥ 40 checks, exact exit codes under concurrency, SIGTERM last', async () => {
    const conn = ws.connection;
    expect(conn.service).toBe('bridgepb');
    expect(conn.target?.kind).toBe(backend === 'docker' ? 'tcp' : 'unix');
    expect(conn.traits).toMatchObject({
      wire: 'bridgepb',
      reflection: 'v1',
      methods: 14,
      execEnvFields: true,
      listDirMaxEntries: true,
    });
    const checks = await runSmokeSuite(
      conn,
      { era: 'v0.18', libc: 'glibc' },
      { stopWorkspace: () => ws.stop() },
      ctx(),
    );
    console.log(`v0.18 ${backend}:\n${table(checks)}`);
    expect(checks.map((c) => c.id)).toEqual(suiteCheckIds('v0.18', conn.traits, { target: conn.target }));
    const bad = checks.filter((c) => (NOT_RUN.includes(c.id) ? c.status !== 'skip' : c.status !== 'pass'));
    expect(table(bad)).toBe('');
    expect(checks.filter((c) => c.status === 'pass').length).toBeGreaterThanOrEqual(40);
    for (const id of [
      'workspace.tini',
      'nofollow.write',
      'tunnel.loopback',
      'reversehttp.roundtrip',
      'exec.group-kill',
      'contract.executables',
    ]) {
      expect(checks.find((c) => c.id === id)?.status, id).toBe('pass');
    }
    expect(checks.find((c) => c.id === 'exec.reaper-race')?.detail).toMatch(/^(\d+)\/\1 exact at 32 in parallel/);
  }, 180_000);
});
