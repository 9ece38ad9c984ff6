import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBridge, PROBE_TEMPLATE, runSmokeSuite, suiteCheckIds } from '../../src/bridge/index.js';
import type { Check } from '../../src/core/check.js';
import { REPO } from '../world/paths.js';
import { ctx, NOT_RUN, startStandin, table, type StandinWorkspace } from './fixture.js';

/**
 * Every deliberate break of the stand-in must make exactly its checks fail, each with a detail that says
 * what was wrong, and leave every other check passing. Checks that observe exit codes all see the two
 * exit-code breaks; PTY stdin is stdin too.
 */
const EXIT_CODE_CHECKS = ['exec.exit-code', 'exec.signal', 'exec.timeout', 'pty.interactive', 'exec.reaper-race'];
const BREAKS: Record<string, { fails: string[]; detail: RegExp }> = {
  'no-reflection': { fails: ['reflection.lists-service'], detail: /no server reflection: v1 and v1alpha .*UNIMPLEMENTED/ },
  'stat-notfound-code': { fails: ['stat.errors'], detail: /missing path: got INTERNAL.*expected NOT_FOUND/ },
  'readfile-no-prefix': { fails: ['readfile.format'], detail: /content: got "hello\\n", expected "     1\\thello\\n"/ },
  'readfile-no-limit': { fails: ['readfile.line-cap'], detail: /lines returned with n_lines=0 from a 300-line file: got 300, expected 200/ },
  'readfile-no-budget': { fails: ['readfile.byte-budget'], detail: /content is 10800 bytes \(100 lines\), over the 5120-byte budget/ },
  'readfile-no-truncate': { fails: ['readfile.long-line'], detail: /a line of 1500 "a": returned 1500 characters/ },
  'writefile-mode': { fails: ['writefile.mode'], detail: /mode of a file WriteFile created: got "-rw-r--r--", expected "-rw-------"/ },
  'listdir-unsorted': { fails: ['listdir.sorted'], detail: /ListDir order: got "\[\\"b\\",\\"a\.b\\"/ },
  'mkdir-not-p': { fails: ['mkdir.p'], detail: /Mkdir\(".*mkdir\/m\/n\/o"\): INTERNAL/ },
  'rename-no-parents': { fails: ['rename.parents'], detail: /Rename\(.*r\/s\/t\.txt"\): INTERNAL/ },
  'delete-nonrecursive-ok': { fails: ['delete.recursive'], detail: /DeleteFile\(non-empty dir, recursive=false\): succeeded, expected INTERNAL/ },
  'readraw-chunk': { fails: ['readraw.chunks'], detail: /chunk sizes .*got "32768,32768/ },
  'writeraw-count': { fails: ['writeraw.count'], detail: /bytes_written for 204800 bytes.*got 204801, expected 204800/ },
  'exec-exit-code': { fails: EXIT_CODE_CHECKS, detail: /exit code of "exit 3": got 0, expected 3/ },
  'exec-stderr-as-stdout': { fails: ['exec.streams'], detail: /STDOUT data: got "(out\\nerr\\n|err\\nout\\n)", expected "out\\n"/ },
  'exec-no-timeout': { fails: ['exec.timeout'], detail: /exec sleep 5, timeout 1: exit (0|-1) after 5\.\d s; expected -1 after about 1 s/ },
  'exec-env-ignored': { fails: ['exec.env'], detail: /echo \$FOO with env FOO=bar: got "\\n", expected "bar\\n"/ },
  'exec-workdir-ignored': { fails: ['exec.workdir'], detail: /pwd with work_dir "\/tmp": got "\/data\\n", expected "\/tmp\\n"/ },
  'exec-stdin-ignored': { fails: ['exec.stdin', 'pty.interactive'], detail: /cat of stdin .*: got "", expected "BC"/ },
  'exec-no-exit-msg': { fails: EXIT_CODE_CHECKS, detail: /exit 3: the call ended OK without an EXIT message/ },
  'pty-no-term': { fails: ['pty.term'], detail: /echo \$TERM .*got "dumb\\r\\nerr\\r\\n", expected "xterm-256color\\r\\nerr\\r\\n"/ },
  'pty-no-resize': { fails: ['pty.size'], detail: /resize 120×40 in the first message: got "24 80\\r\\n", expected "40 120\\r\\n"/ },
  'no-path-append': { fails: ['exec.path-toolkit'], detail: /PATH is ".*"; expected it to end with :\/opt\/memoh\/toolkit\/bin/ },
  'no-template-seed': { fails: ['templates.seeded'], detail: /\/data\/SMOKE_PROBE\.md missing/ },
  'no-reaper': { fails: ['exec.zombie-reaping'], detail: /orphan PID \d+ is still a zombie after 5 s/ },
  'sigterm-hang': { fails: ['lifecycle.sigterm'], detail: /on SIGTERM: exit code 137, took 1\d\.\d s/ },
  // Connection-level breaks, covered by wire.test.ts: the suite itself has nothing to fail there.
  'wire-bridgepb-only': { fails: [], detail: /^$/ },
};
const CONNECTION_BREAKS = ['no-listen', 'wire-none'];

interface Run {
  service: string;
  checks: Check[];
  ms: number;
}
const runs = new Map<string, Run | Error>();
const started: StandinWorkspace[] = [];
const FILE_BUDGET_MS = 420_000;
let fileMs = 0;

beforeAll(async () => {
  const t0 = performance.now();
  const limit = pLimit(2);
  await Promise.all(
    Object.keys(BREAKS).map((name) =>
      limit(async () => {
        const r0 = performance.now();
        try {
          const ws = await startStandin({ breaks: [name] });
          started.push(ws);
          const conn = await connectBridge(ws.socketPath, { service: 'auto', deadlineMs: 5000 });
          try {
            const checks = await runSmokeSuite(conn, { libc: 'glibc', probeTemplate: PROBE_TEMPLATE }, { stopWorkspace: () => ws.stop() }, ctx());
            runs.set(name, { service: conn.service, checks, ms: Math.round(performance.now() - r0) });
          } finally {
            conn.close();
            await ws.remove();
          }
        } catch (err) {
          runs.set(name, err as Error);
        }
      }),
    ),
  );
  fileMs = performance.now() - t0;
}, FILE_BUDGET_MS + 60_000);

afterAll(async () => {
  await Promise.all(started.map((ws) => ws.remove()));
});

describe('stand-in breaks → exactly the matching checks fail', () => {
  it('the table covers every break the stand-in knows (README and breaks.go)', async () => {
    const go = await readFile(`${REPO}/test/bridge-standin/breaks.go`, 'utf8');
    const known = [...go.matchAll(/^\t"([a-z0-9-]+)":\s+"/gm)].map((m) => m[1]);
    expect(known.length).toBeGreaterThan(20);
    expect([...Object.keys(BREAKS), ...CONNECTION_BREAKS].sort()).toEqual([...known].sort());
  });

  it.each(Object.entries(BREAKS))('%s', (name, want) => {
    const run = runs.get(name);
    if (run instanceof Error) throw run;
    expect(run).toBeDefined();
    const { checks } = run!;
    console.log(`${name} (${run!.service}, ${run!.ms} ms):\n${table(checks.filter((c) => c.status === 'fail' || c.status === 'warn'))}`);
    expect(checks.map((c) => c.id)).toEqual(suiteCheckIds());
    const failed = checks.filter((c) => c.status === 'fail').map((c) => c.id);
    expect(failed.sort()).toEqual([...want.fails].sort());
    // Everything else as on the healthy stand-in.
    const others = checks.filter((c) => !want.fails.includes(c.id));
    for (const c of others) {
      if (NOT_RUN.includes(c.id)) expect(c.status, c.id).toBe('skip');
      else if (c.id === 'exec.reaper-race' || c.id === 'pty.interactive') expect(['pass', 'warn'], `${c.id}: ${c.detail}`).toContain(c.status);
      else expect(c.status, `${c.id}: ${c.detail}`).toBe('pass');
    }
    if (want.fails.length > 0) {
      const first = checks.find((c) => c.id === want.fails[0])!;
      expect(first.detail).toMatch(want.detail);
    }
    if (name === 'wire-bridgepb-only') expect(run!.service).toBe('bridgepb');
  });

  it('the whole table ran within its time budget', () => {
    console.log(`break table: ${Math.round(fileMs / 1000)} s for ${Object.keys(BREAKS).length} breaks, 2 at a time`);
    expect(fileMs).toBeLessThan(FILE_BUDGET_MS);
  });
});
