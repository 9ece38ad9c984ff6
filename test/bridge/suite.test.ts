import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectBridge,
  loadUserChecks,
  PROBE_TEMPLATE,
  runSmokeSuite,
  runUserChecks,
  suiteCheckIds,
  type BridgeConnection,
} from '../../src/bridge/index.js';
import { ctx, NOT_RUN, startStandin, table, type StandinWorkspace } from './fixture.js';

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
  ['debian', 'memoh-test/debian:amd64', 'glibc'],
  ['musl', 'memoh-test/musl:amd64', 'musl'],
] as const)('against the healthy stand-in (%s)', (_name, image, libc) => {
  let ws: StandinWorkspace;
  let conn: BridgeConnection;
  beforeAll(async () => {
    ws = await startStandin({ image });
    conn = await connectBridge(ws.socketPath, { service: 'auto', deadlineMs: 5000 });
  });
  afterAll(async () => {
    conn?.close();
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
    const t0 = performance.now();
    const checks = await runSmokeSuite(conn, { libc, probeTemplate: PROBE_TEMPLATE }, { stopWorkspace: () => ws.stop() }, ctx());
    const ms = Math.round(performance.now() - t0);
    console.log(`${image}: suite took ${ms} ms\n${table(checks)}`);
    expect(checks.map((c) => c.id)).toEqual(suiteCheckIds());
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
