import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_TEMPLATE, runSmokeSuite, suiteCheckIds } from '../../src/bridge/index.js';
import type { Check } from '../../src/core/check.js';
import type { Era } from '../../src/core/era.js';
import { REPO } from '../world/paths.js';
import { ctx, NOT_RUN, startWorkspaceStandin, table, type WorkspaceStandin } from './fixture.js';

/**
 * Every deliberate break of the stand-in, in each era's binary, must make exactly its checks fail, each with
 * a detail that says what was wrong, and leave every other check passing. The stand-ins run in workspaces
 * started by src/workspace (v3: runtime dir; v0.18: tini, only the bridge file), the break in a
 * `standin-break` file.
 */
interface Want {
  fails: string[];
  detail: RegExp;
}

// v3: checks that observe exit codes all see the two exit-code breaks; PTY stdin is stdin too. A missing EXIT
// also fails pty.half-close, which judges its one EXIT and not the code.
const EXIT_CODE_CHECKS = ['exec.exit-code', 'exec.signal', 'exec.timeout', 'pty.interactive', 'exec.reaper-race'];
const V3: Record<string, Want> = {
  'no-reflection': {
    fails: ['reflection.lists-service'],
    detail: /no server reflection: v1 and v1alpha .*UNIMPLEMENTED/,
  },
  'stat-notfound-code': { fails: ['stat.errors'], detail: /missing path: got INTERNAL.*expected NOT_FOUND/ },
  'readfile-no-prefix': { fails: ['readfile.format'], detail: /content: got "hello\\n", expected " {5}1\\thello\\n"/ },
  'readfile-no-limit': {
    fails: ['readfile.line-cap'],
    detail: /lines returned with n_lines=0 from a 300-line file: got 300, expected 200/,
  },
  'readfile-no-budget': {
    fails: ['readfile.byte-budget'],
    detail: /content is 10800 bytes \(100 lines\), over the 5120-byte budget/,
  },
  'readfile-no-truncate': { fails: ['readfile.long-line'], detail: /a line of 1500 "a": returned 1500 characters/ },
  'writefile-mode': {
    fails: ['writefile.mode'],
    detail: /mode of a file WriteFile created: got "-rw-r--r--", expected "-rw-------"/,
  },
  'listdir-unsorted': { fails: ['listdir.sorted'], detail: /ListDir order: got "\[\\"b\\",\\"a\.b\\"/ },
  'mkdir-not-p': { fails: ['mkdir.p'], detail: /Mkdir\(".*mkdir\/m\/n\/o"\): INTERNAL/ },
  'rename-no-parents': { fails: ['rename.parents'], detail: /Rename\(.*r\/s\/t\.txt"\): INTERNAL/ },
  'delete-nonrecursive-ok': {
    fails: ['delete.recursive'],
    detail: /DeleteFile\(non-empty dir, recursive=false\): succeeded, expected INTERNAL/,
  },
  'readraw-chunk': { fails: ['readraw.chunks'], detail: /chunk sizes .*got "32768,32768/ },
  'writeraw-count': {
    fails: ['writeraw.count'],
    detail: /bytes_written for 204800 bytes.*got 204801, expected 204800/,
  },
  'exec-exit-code': { fails: EXIT_CODE_CHECKS, detail: /exit code of "exit 3": got 0, expected 3/ },
  'exec-stderr-as-stdout': {
    fails: ['exec.streams'],
    detail: /STDOUT data: got "(out\\nerr\\n|err\\nout\\n)", expected "out\\n"/,
  },
  'exec-no-timeout': {
    fails: ['exec.timeout'],
    detail: /exec sleep 5, timeout 1: exit (0|-1) after 5\.\d s; expected -1 after about 1 s/,
  },
  'exec-env-ignored': { fails: ['exec.env'], detail: /echo \$FOO with env FOO=bar: got "\\n", expected "bar\\n"/ },
  'exec-workdir-ignored': {
    fails: ['exec.workdir'],
    detail: /pwd with work_dir "\/tmp": got "\/data\\n", expected "\/tmp\\n"/,
  },
  'exec-stdin-ignored': {
    fails: ['exec.stdin', 'pty.interactive', 'pty.size'],
    detail: /cat of stdin .*: got "", expected "BC"/,
  },
  'exec-no-exit-msg': {
    fails: [...EXIT_CODE_CHECKS, 'pty.half-close'],
    detail: /exit 3: the call ended OK without an EXIT message/,
  },
  'pty-no-term': {
    fails: ['pty.term'],
    detail: /echo \$TERM .*got "dumb\\r\\nerr\\r\\n", expected "xterm-256color\\r\\nerr\\r\\n"/,
  },
  'pty-half-close-kills': {
    fails: ['pty.half-close'],
    detail: /PTY session half-closed at once: output "", 1 EXIT; expected "done" and EXIT/,
  },
  'pty-no-resize': {
    fails: ['pty.size'],
    detail: /resize 120×40 in the first message: got "24 80\\r\\n", expected "40 120\\r\\n"/,
  },
  'no-path-append': {
    fails: ['exec.path-toolkit'],
    detail: /PATH is ".*"; expected it to end with :\/opt\/memoh\/toolkit\/bin/,
  },
  'no-template-seed': { fails: ['templates.seeded'], detail: /\/data\/SMOKE_PROBE\.md missing/ },
  'no-reaper': { fails: ['exec.zombie-reaping'], detail: /orphan PID \d+ is still a zombie after 5 s/ },
  'sigterm-hang': {
    fails: ['lifecycle.sigterm'],
    detail: /on SIGTERM: (exit code -?\d+, took 1\d\.\d s|the workspace did not stop within 20 s)/,
  },
};
// Connection-level breaks, covered by wire.test.ts (a seed bridge answering only as bridgepb would be dated
// ≥v0.6.2 by its wire name, which is the point of that break, not of this table).
const V3_ELSEWHERE = ['no-listen', 'wire-none', 'wire-bridgepb-only'];

// v0.18: exit codes are exact everywhere (no reaper race), and more checks judge them.
const EXIT_CODES_V018 = [
  'exec.exit-code',
  'exec.signal',
  'exec.timeout',
  'exec.group-kill',
  'pty.interactive',
  'exec.reaper-race',
];
const V018: Record<string, Want> = {
  'no-reflection': {
    fails: ['reflection.lists-service'],
    detail: /no server reflection: v1 and v1alpha .*UNIMPLEMENTED/,
  },
  'reflection-v1alpha-only': {
    fails: ['reflection.lists-service'],
    detail: /reflection v1 → UNIMPLEMENTED, only v1alpha answers/,
  },
  'sigterm-hang': {
    fails: ['lifecycle.sigterm'],
    detail: /on SIGTERM: (exit code -?\d+, took 1\d\.\d s|the workspace did not stop within 20 s)/,
  },
  'sigterm-graceful': {
    fails: ['lifecycle.sigterm'],
    detail: /the Exec in flight finished first \(graceful stop\): v0\.18 bridges stop hard/,
  },
  'no-path-append': {
    fails: ['exec.path-toolkit'],
    detail: /PATH is ".*"; expected it to end with :\/opt\/memoh\/toolkit\/bin/,
  },
  'stat-notfound-code': {
    fails: ['stat.errors', 'bootstrap.templates', 'bootstrap.identity', 'bootstrap.reconcile'],
    detail: /missing path: got INTERNAL.*expected NOT_FOUND/,
  },
  'mkdir-not-p': {
    fails: ['mkdir.p', 'bootstrap.templates', 'bootstrap.identity', 'bootstrap.reconcile'],
    detail: /Mkdir\(".*mkdir\/m\/n\/o"\): INTERNAL/,
  },
  'rename-no-parents': { fails: ['rename.parents'], detail: /Rename\(.*r\/s\/t\.txt"\): INTERNAL/ },
  'delete-nonrecursive-ok': {
    fails: ['delete.recursive'],
    detail: /DeleteFile\(non-empty dir, recursive=false\): succeeded, expected INTERNAL/,
  },
  'listdir-unsorted': {
    fails: ['listdir.sorted', 'listdir.paging'],
    detail: /ListDir order: got "\[\\"b\\",\\"a\.b\\"/,
  },
  'readraw-chunk': { fails: ['readraw.chunks'], detail: /chunk sizes .*got "32768,32768/ },
  'writeraw-count': {
    fails: ['writeraw.count', 'nofollow.write'],
    detail: /bytes_written for 204800 bytes.*got 204801, expected 204800/,
  },
  'exec-exit-code': {
    fails: [...EXIT_CODES_V018, 'mounts.bridge-readonly'],
    detail: /exit code of "exit 3": got 0, expected 3/,
  },
  'exec-no-exit-msg': {
    fails: [...EXIT_CODES_V018, 'pty.half-close'],
    detail: /exit 3: the call ended OK without an EXIT message/,
  },
  'exec-stderr-as-stdout': {
    fails: ['exec.streams', 'mounts.bridge-readonly'],
    detail: /STDOUT data: got "(out\\nerr\\n|err\\nout\\n)", expected "out\\n"/,
  },
  'exec-env-ignored': {
    fails: ['exec.env', 'exec.clean-env', 'exec.unset-env'],
    detail: /echo \$FOO with env FOO=bar: got "\\n", expected "bar\\n"/,
  },
  'exec-workdir-ignored': {
    fails: ['exec.workdir'],
    detail: /pwd with work_dir "\/tmp": got "\/data\\n", expected "\/tmp\\n"/,
  },
  'exec-stdin-ignored': {
    fails: ['exec.stdin', 'pty.interactive', 'pty.size'],
    detail: /cat of stdin .*: got "", expected "ABC"/,
  },
  'exec-no-timeout': {
    fails: ['exec.timeout', 'exec.group-kill'],
    detail: /exec sleep 5, timeout 1: exit (0|137) after 5\.\d s; expected 137 after about 1 s/,
  },
  'pty-no-term': {
    fails: ['pty.term'],
    detail: /echo \$TERM .*got "dumb\\r\\nerr\\r\\n", expected "xterm-256color\\r\\nerr\\r\\n"/,
  },
  'pty-half-close-kills': {
    fails: ['pty.half-close'],
    detail: /PTY session half-closed at once: output "", 1 EXIT; expected "done" and EXIT/,
  },
  'pty-no-resize': {
    fails: ['pty.size'],
    detail: /resize 120×40 in the first message: got "24 80\\r\\n", expected "40 120\\r\\n"/,
  },
  'msg-4mib': { fails: ['writefile.too-large'], detail: /WriteFile of 5 MiB: got "RESOURCE_EXHAUSTED", expected "OK"/ },
  'readfile-numbered': {
    fails: ['readfile.format'],
    detail: /ReadFile content: got " {5}1\\thello\\n", expected "hello\\n"/,
  },
  'readfile-200': {
    fails: ['readfile.line-cap'],
    detail: /lines returned with n_lines=0 from a 2100-line file: got 200, expected 2000/,
  },
  'readfile-longline-uncounted': {
    fails: ['readfile.long-line'],
    detail: /total_lines of "before", a 1 MiB line, "after": got 1, expected 2/,
  },
  'writefile-in-place': {
    fails: ['write.atomic'],
    detail: /mode after WriteFile over an existing 0644 file: got "-rw-r--r--", expected "-rw-------"/,
  },
  // The seed's WriteRaw wholesale: in place, 0644, zero messages accepted, abort ignored.
  'writeraw-in-place': {
    fails: ['writeraw.mode', 'write.atomic', 'writeraw.count', 'writeraw.empty', 'writeraw.abort'],
    detail: /mode of a file WriteRaw created: got "-rw-r--r--", expected "-rw-------"/,
  },
  'writeraw-empty-ok': {
    fails: ['writeraw.count', 'writeraw.empty'],
    detail: /WriteRaw with zero messages: got "OK 0", expected "INVALID_ARGUMENT"/,
  },
  'no-abort': {
    fails: ['writeraw.abort', 'nofollow.write'],
    detail: /WriteRaw with abort=true in its second chunk: succeeded, expected ABORTED/,
  },
  'rename-internal': {
    fails: ['rename.parents'],
    detail: /Rename from a missing path: got "INTERNAL", expected "NOT_FOUND"/,
  },
  'listdir-no-paging': {
    fails: ['listdir.paging'],
    detail: /ListDir no limit: got "\[p1,p2,p3,p4,p5\] total 0", expected "\[p1,p2,p3,p4,p5\] total 5"/,
  },
  'listdir-no-collapse': { fails: ['listdir.collapse'], detail: /no synthetic "big\/" entry/ },
  'listdir-no-max-entries': {
    fails: ['listdir.max-entries'],
    detail: /ListDir of 4 entries with max_entries 3: succeeded, expected RESOURCE_EXHAUSTED/,
  },
  'listdir-preorder': {
    fails: ['listdir.recursive'],
    detail: /recursive ListDir .*: got "a\/ a\/b\.txt a\/c\/ a\/c\/d\.txt a-b\.txt z\.txt"/,
  },
  'listdir-root-ok': {
    fails: ['listdir.errors'],
    detail: /recursive ListDir of a missing dir: got "OK, 0 entries", expected "NOT_FOUND"/,
  },
  'no-clean-env': {
    fails: ['exec.clean-env'],
    detail: /clean_env: the command still sees PATH, HOME, BRIDGE_SOCKET_PATH/,
  },
  'no-unset-env': { fails: ['exec.unset-env'], detail: /unset_env HOME, BRIDGE_\*: still set "HOME=/ },
  'unset-env-no-wildcard': {
    fails: ['exec.unset-env'],
    detail: /unset_env HOME, BRIDGE_\*: still set "BRIDGE_SOCKET_PATH=/,
  },
  'exec-first-stdin-ignored': { fails: ['exec.stdin'], detail: /got "BC", expected "ABC"/ },
  'exec-kill-shell-only': {
    fails: ['exec.timeout', 'exec.group-kill'],
    detail: /"sleep 3", timeout 1: EXIT after 3\.\d s; expected about 1 s/,
  },
  'exit-minus-one': {
    fails: ['exec.signal', 'exec.timeout', 'exec.group-kill'],
    detail: /exit code of "kill -9 \$\$": got -1, expected 137/,
  },
  'nofollow-follows': {
    fails: ['nofollow.read', 'nofollow.write'],
    detail: /ReadRawNoFollow of a symlink: succeeded, expected FAILED_PRECONDITION/,
  },
  'nofollow-overwrite': {
    fails: ['nofollow.write'],
    detail: /a second anchored write to the same file: succeeded, expected ALREADY_EXISTS/,
  },
  'tunnel-any-host': {
    fails: ['tunnel.loopback'],
    detail: /Tunnel to 0\.0\.0\.0:18732 was opened \(the bridge sent data first\); expected PERMISSION_DENIED/,
  },
  'tunnel-no-ack': {
    fails: ['tunnel.loopback'],
    detail: /no first frame \(the empty data frame that acknowledges the connection\) within 3000 ms/,
  },
  'tunnel-no-close': { fails: ['tunnel.loopback'], detail: /the tunnel ended without a close frame/ },
  'reverse-http-off': {
    fails: ['tunnel.loopback', 'reversehttp.roundtrip'],
    detail: /Tunnel\("127\.0\.0\.1:18732"\): UNAVAILABLE/,
  },
  'reverse-http-hop-headers': { fails: ['reversehttp.roundtrip'], detail: /Content-Length was forwarded/ },
};
/**
 * Not for the suite: start-up and transport (workspace and wire tests), or not observable in a quick suite
 * (the 30 s default for a negative timeout, the PTY's 300 s timeout, how a bare PTY command is started, /data
 * made at start in an image that already has it, a relative work_dir taken from the bridge's cwd when the
 * image's WORKDIR is /data anyway).
 */
const V018_ELSEWHERE = [
  'no-listen',
  'wire-none',
  'listen-fail-exit0',
  'tcp-any-addr',
  'tls-no-client-cert',
  'tls-no-uri-check',
  'exec-negative-timeout-30s',
  'pty-no-timeout',
  'pty-sh-c',
  'data-mkdir',
  'exec-workdir-cwd',
];

const TABLES: Record<Era, { breaks: Record<string, Want>; elsewhere: string[]; map: string; file: string }> = {
  v3: { breaks: V3, elsewhere: V3_ELSEWHERE, map: 'knownBreaks', file: 'breaks.go' },
  'v0.18': { breaks: V018, elsewhere: V018_ELSEWHERE, map: 'knownBreaksV018', file: 'v018_breaks.go' },
};

interface Run {
  service: string;
  checks: Check[];
  ms: number;
}
const runs = new Map<string, Run | Error>();
const started: WorkspaceStandin[] = [];
const FILE_BUDGET_MS = 900_000;
let fileMs = 0;
// For working on one era or a few breaks: BREAKS_ERA=v0.18 BREAKS_ONLY=a,b (the whole table runs by default).
const only = process.env.BREAKS_ERA as Era | undefined;
const eras = (Object.keys(TABLES) as Era[]).filter((e) => !only || e === only);
const onlyNames = process.env.BREAKS_ONLY?.split(',').filter(Boolean);
const picked = (era: Era): [string, Want][] =>
  Object.entries(TABLES[era].breaks).filter(([n]) => !onlyNames || onlyNames.includes(n));

beforeAll(async () => {
  const t0 = performance.now();
  const limit = pLimit(2);
  const jobs = eras.flatMap((era) => picked(era).map(([name]) => [era, name] as const));
  await Promise.all(
    jobs.map(([era, name]) =>
      limit(async () => {
        const r0 = performance.now();
        try {
          const ws = await startWorkspaceStandin({ era, breaks: [name] });
          started.push(ws);
          try {
            const exp = { era, libc: 'glibc' as const, ...(era === 'v3' ? { probeTemplate: PROBE_TEMPLATE } : {}) };
            const checks = await runSmokeSuite(ws.connection, exp, { stopWorkspace: () => ws.stop() }, ctx());
            runs.set(`${era} ${name}`, {
              service: ws.connection.service,
              checks,
              ms: Math.round(performance.now() - r0),
            });
            // A bridge that died under the suite explains every failure after it: its log says why.
            if (checks.some((c) => /UNAVAILABLE|Connection dropped/.test(c.detail)))
              console.log(`${era} ${name}: bridge log\n${await ws.logs()}`);
          } finally {
            await ws.remove();
          }
        } catch (err) {
          runs.set(`${era} ${name}`, err as Error);
        }
      }),
    ),
  );
  fileMs = performance.now() - t0;
}, FILE_BUDGET_MS + 60_000);

afterAll(async () => {
  await Promise.all(started.map((ws) => ws.remove()));
});

describe.each(eras)('stand-in breaks (%s) → exactly the matching checks fail', (era) => {
  const { breaks, elsewhere, map, file } = TABLES[era];

  it(`the table covers every break the stand-in knows (${file})`, async () => {
    const go = await readFile(`${REPO}/test/bridge-standin/${file}`, 'utf8');
    const start = go.indexOf(`var ${map} = map[string]string{`);
    const body = go.slice(start, go.indexOf('\n}', start));
    const known = [...body.matchAll(/^\t"([a-z0-9-]+)":/gm)].map((m) => m[1]);
    expect(known.length).toBeGreaterThan(20);
    expect([...Object.keys(breaks), ...elsewhere].sort()).toEqual([...known].sort());
  });

  it.each(picked(era))('%s', (name, want) => {
    const run = runs.get(`${era} ${name}`);
    if (run instanceof Error) throw run;
    expect(run).toBeDefined();
    const { checks } = run!;
    console.log(
      `${era} ${name} (${run!.service}, ${run!.ms} ms):\n${table(checks.filter((c) => c.status === 'fail' || c.status === 'warn'))}`,
    );
    expect(checks.map((c) => c.id)).toEqual(suiteCheckIds(era));
    const failed = checks.filter((c) => c.status === 'fail').map((c) => c.id);
    expect(failed.sort()).toEqual([...want.fails].sort());
    // Everything else as on the healthy stand-in.
    const others = checks.filter((c) => !want.fails.includes(c.id));
    for (const c of others) {
      if (NOT_RUN.includes(c.id)) expect(c.status, c.id).toBe('skip');
      else if (c.id === 'exec.reaper-race' && era === 'v3')
        expect(['pass', 'warn'], `${c.id}: ${c.detail}`).toContain(c.status);
      else expect(c.status, `${c.id}: ${c.detail}`).toBe('pass');
    }
    if (want.fails.length > 0) {
      const first = checks.find((c) => c.id === want.fails[0])!;
      expect(first.detail).toMatch(want.detail);
    }
  });
});

it('the whole table ran within its time budget', () => {
  console.log(`break table: ${Math.round(fileMs / 1000)} s for ${runs.size} breaks, 2 at a time`);
  expect(fileMs).toBeLessThan(FILE_BUDGET_MS);
});
