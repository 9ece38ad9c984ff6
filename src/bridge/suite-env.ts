import { randomBytes } from 'node:crypto';
import type { Era } from '../core/era.js';
import { escapeRegExp } from '../core/util.js';
import {
  BRIDGE_IN_CONTAINER,
  RUNTIME_MOUNT,
  SOCKET_IN_CONTAINER,
  SOCKET_MOUNT,
  TOOLKIT_IN_CONTAINER,
} from '../era/index.js';
import { expect, expectAbsent, expectEqual, expectStatus, fail, sleep } from './assert.js';
import { BridgeCallError, type ExecResult } from './client.js';
import type { BridgeConnection, BridgeTraits } from './connect.js';
import type { EraRules } from './eras.js';
import { serviceName, type WireName } from './proto.js';
import type { CheckSpec, CheckTools, Outcome } from './runner.js';
import { show } from './runner.js';
import type { ImageCaps } from './suite-exec.js';
import { custom, pass } from './suite-files.js';
import { noSeedingCheck, tiniCheck } from './suite-later.js';

/** The bridge as a service, and the workspace around it: mounts, templates, toolkit, shutdown. */

export interface SuiteExpectations {
  /**
   * The era the run was judged by (judgeEra): the workspace's shape (tini, mounts) follows it, and the
   * bridge's behaviours where its traits do not date them. Default: what the bridge's traits say.
   */
  era?: Era | undefined;
  /** The bridge's traits; default: the connection's (read from reflection when it connected). */
  traits?: BridgeTraits | undefined;
  libc: 'glibc' | 'musl' | 'none';
  toolkit?: { nodeVersion: string; npmVersion: string; uvVersion: string; fallback?: 'glibc' };
  probeTemplate?: { name: string; content: string };
}

export interface SuiteHooks {
  /** Sends SIGTERM to the workspace and resolves when it exited. */
  stopWorkspace?: () => Promise<{ exitCode: number; ms: number; socketGone: boolean }>;
}

/** Seeded into /data by the bridge at start (the workspace stage puts it in the runtime dir's templates/). */
export const PROBE_TEMPLATE = {
  name: 'SMOKE_PROBE.md',
  content: `# memoh-workspace smoke probe\n\nCopied from ${RUNTIME_MOUNT}/templates by the bridge at start; the smoke suite checks that it arrived.\n`,
} as const;

const TOOLKIT = TOOLKIT_IN_CONTAINER;
const otherWire = (w: WireName): WireName => (w === 'mcpcontainer' ? 'bridgepb' : 'mcpcontainer');
const stdoutOf = (r: ExecResult): string => r.stdout.toString('utf8');

export function serviceChecks(conn: BridgeConnection, rules: EraRules): CheckSpec[] {
  return [wireNameCheck(conn, rules), reflectionCheck(conn, rules), healthCheck()];
}

function wireNameCheck(conn: BridgeConnection, rules: EraRules): CheckSpec {
  return custom('bridge.wire-name', async ({ client }) => {
    const other = otherWire(conn.service);
    let also: string;
    let answersOther = false;
    try {
      await client.with({ service: other }).stat('/');
      answersOther = true;
      also = `also answers ${serviceName(other)} (serves both names: a stand-in, not a Memoh build)`;
    } catch (err) {
      if (!(err instanceof BridgeCallError)) throw err;
      also = `${serviceName(other)} → ${err.codeName}`;
    }
    // Memoh v0.18's own client calls bridgepb only: a bridge that does not answer it is unusable there.
    if (rules.era === 'v0.18' && conn.service !== 'bridgepb' && !answersOther) {
      fail(
        `answers only as ${serviceName(conn.service)}; Memoh v0.18 calls ${serviceName('bridgepb')} (${also})`,
        'use a bridge built from Memoh ≥ v0.6.2 (bridgepb) with a v0.18 workspace',
      );
    }
    const era = conn.service === 'mcpcontainer' ? 'the v3 (seed-era) wire name' : 'the wire name of bridges after v3';
    const traits = conn.traits?.methods !== undefined ? `, ${conn.traits.methods} methods` : '';
    return pass(`answers as ${serviceName(conn.service)}${traits}, ${era}; ${also}; ${rules.describe()}`);
  });
}

function reflectionCheck(conn: BridgeConnection, rules: EraRules): CheckSpec {
  return custom('reflection.lists-service', async ({ client }) => {
    let version: 'v1' | 'v1alpha' = 'v1';
    let services: string[];
    try {
      services = await client.listServices('v1');
    } catch (err) {
      if (!(err instanceof BridgeCallError) || err.codeName !== 'UNIMPLEMENTED') throw err;
      version = 'v1alpha';
      services = await client.listServices('v1alpha').catch((e: unknown) => {
        if (e instanceof BridgeCallError && e.codeName === 'UNIMPLEMENTED') {
          fail(
            'no server reflection: v1 and v1alpha ServerReflectionInfo both UNIMPLEMENTED',
            'the bridge registers grpc-go server reflection (contract §1 step 7)',
          );
        }
        throw e;
      });
    }
    const want = serviceName(conn.service);
    expect(services.includes(want), `reflection (${version}) lists ${services.join(', ') || 'nothing'}; not ${want}`);
    if (version === 'v1alpha' && rules.isNew('reflectionV1')) {
      fail(
        'reflection v1 → UNIMPLEMENTED, only v1alpha answers',
        'v0.18 bridges register grpc.reflection.v1 and v1alpha (grpc-go ≥ 1.57)',
      );
    }
    return pass(`${version} lists ${services.join(', ')}`);
  });
}

function healthCheck(): CheckSpec {
  return custom('health.unimplemented', async ({ client }) => {
    try {
      await client.healthCheck();
    } catch (err) {
      if (err instanceof BridgeCallError && err.codeName === 'UNIMPLEMENTED')
        return pass('grpc.health.v1.Health/Check → UNIMPLEMENTED (liveness: Stat("/"))');
      throw err;
    }
    return {
      status: 'warn',
      detail: 'the bridge answers grpc.health.v1 (v3 bridges have no health service)',
      fix: 'nothing to do if intended; Memoh itself probes with Stat("/")',
    };
  });
}

export function workdirCheck(): CheckSpec {
  return custom('suite.workdir', async ({ client, work }) => {
    await client.mkdir(work);
    const e = await client.stat(work);
    expect(e.isDir, `${work} is not a directory after Mkdir`);
    return pass(`working in ${work}`);
  });
}

export function cleanupCheck(): CheckSpec {
  return custom('suite.cleanup', async ({ client, work }) => {
    await client.deleteFile(work, true);
    await expectAbsent(client, work, 'after removing it');
    return pass(`${work} removed`);
  });
}

export function workspaceChecks(exp: SuiteExpectations, rules: EraRules, conn: BridgeConnection): CheckSpec[] {
  const probe = `.smoke-${randomBytes(4).toString('hex')}`;
  const overTcp = conn.target?.kind === 'tcp';
  const mounts: CheckSpec = rules.isNew('bridgeFileMount')
    ? custom('mounts.bridge-readonly', async ({ client }) => {
        // Only the bridge file is mounted (read-only); the rest of /opt/memoh is the image's own and writable.
        const bridge = await client.stat(BRIDGE_IN_CONTAINER);
        expect(!bridge.isDir, `${BRIDGE_IN_CONTAINER} is a directory`);
        // Opening the running bridge for writing fails with ETXTBSY before the mount is asked; setting its
        // times asks the mount alone.
        const r = await client.exec({ command: `touch -c ${BRIDGE_IN_CONTAINER}` });
        expect(
          /read-only/i.test(r.stderr.toString()) && r.exitCode !== 0,
          `touching ${BRIDGE_IN_CONTAINER}: exit ${r.exitCode}, stderr ${show(r.stderr.toString().trim())}; expected "Read-only file system"`,
          'Memoh mounts the bridge file read-only (bind,ro)',
        );
        await client.writeFile(`${RUNTIME_MOUNT}/${probe}`, 'x');
        await client.deleteFile(`${RUNTIME_MOUNT}/${probe}`);
        return pass(
          `${BRIDGE_IN_CONTAINER} present (${bridge.mode}), read-only; the image's ${RUNTIME_MOUNT} around it is writable`,
        );
      })
    : custom('mounts.runtime-readonly', async ({ client }) => {
        const bridge = await client.stat(BRIDGE_IN_CONTAINER);
        expect(!bridge.isDir, `${BRIDGE_IN_CONTAINER} is a directory`);
        await expectStatus(
          client.writeFile(`${RUNTIME_MOUNT}/${probe}`, 'x'),
          'INTERNAL',
          `WriteFile into ${RUNTIME_MOUNT}`,
          {
            message: /read-only/,
            fix: `Memoh mounts the runtime dir at ${RUNTIME_MOUNT} read-only (rbind,ro)`,
          },
        );
        return pass(
          `${BRIDGE_IN_CONTAINER} present (${bridge.mode}); writing into ${RUNTIME_MOUNT} → read-only file system`,
        );
      });
  const seeding: CheckSpec[] = [];
  if (rules.era === 'v0.18') seeding.push(noSeedingCheck());
  else if (!rules.isNew('noSeeding')) seeding.push(seededCheck(exp));
  return [
    mounts,
    custom('mounts.socket-writable', async ({ client }) => {
      // Over TCP (docker backend) the bridge makes no socket; /run/memoh is still mounted read-write.
      let sock = '';
      if (!overTcp) {
        const e = await client.stat(SOCKET_IN_CONTAINER);
        expect(e.mode.startsWith('S'), `${SOCKET_IN_CONTAINER} has mode ${e.mode}; expected a socket (S…)`);
        sock = `; bridge.sock ${e.mode}`;
      }
      await client.writeFile(`${SOCKET_MOUNT}/${probe}`, 'x');
      await client.deleteFile(`${SOCKET_MOUNT}/${probe}`);
      return pass(`${SOCKET_MOUNT} writable${overTcp ? ' (bridge over TCP: no socket)' : sock}`);
    }),
    ...seeding,
    ...(rules.isNew('tini') ? [tiniCheck()] : []),
    ...toolkitChecks(exp),
  ];
}

function seededCheck(exp: SuiteExpectations): CheckSpec {
  return custom('templates.seeded', async ({ client }) => {
    const tpl = exp.probeTemplate;
    if (!tpl) return { status: 'skip', detail: 'no probe template in the runtime dir' };
    const path = `/data/${tpl.name}`;
    let e: Awaited<ReturnType<typeof client.stat>>;
    try {
      e = await client.stat(path);
    } catch (err) {
      if (err instanceof BridgeCallError && err.codeName === 'NOT_FOUND') {
        fail(
          `${path} missing: ${RUNTIME_MOUNT}/templates/${tpl.name} was not copied into /data`,
          `the bridge seeds /data from ${RUNTIME_MOUNT}/templates at every start`,
        );
      }
      throw err;
    }
    expectEqual(e.mode, '-rw-r--r--', `mode of the seeded ${tpl.name}`);
    const got = Buffer.concat(await client.readRaw(path)).toString('utf8');
    expectEqual(got, tpl.content, `content of the seeded ${tpl.name}`);
    return pass(`${path} seeded (${e.mode}, ${e.size} bytes, content matches)`);
  });
}

function toolkitChecks(exp: SuiteExpectations): CheckSpec[] {
  const ids = ['toolkit.node', 'toolkit.npm', 'toolkit.uv', 'toolkit.musl-selection'];
  const tk = exp.toolkit;
  const why = !tk
    ? 'no toolkit given'
    : exp.libc === 'none'
      ? 'the image has no libc: the toolkit cannot run there'
      : undefined;
  if (!tk || why)
    return ids.map((id) => custom(id, async () => ({ status: 'skip', detail: why ?? 'no toolkit given' })));

  const glibcOnMusl = exp.libc === 'musl' && tk.fallback === 'glibc';
  const tool = (id: string, name: string, version: RegExp, shown: string): CheckSpec =>
    toolCheck(id, name, version, shown, glibcOnMusl);

  // On a musl image the wrappers always pick node-musl, even when that holds the glibc fallback build.
  const flavour = exp.libc === 'musl' ? 'node-musl' : 'node-glibc';
  return [
    tool('toolkit.node', 'node', new RegExp(`^v${escapeRegExp(tk.nodeVersion)}\\n$`), `v${tk.nodeVersion}`),
    tool('toolkit.npm', 'npm', new RegExp(`^${escapeRegExp(tk.npmVersion)}\\n$`), tk.npmVersion),
    tool('toolkit.uv', 'uv', new RegExp(`^uv ${escapeRegExp(tk.uvVersion)}(\\s|$)`), `uv ${tk.uvVersion}`),
    muslSelectionCheck(exp, flavour),
  ];
}

/** Version through the wrapper; and whether PATH finds the toolkit's or an image's own copy first. */
function toolCheck(id: string, name: string, version: RegExp, shown: string, glibcOnMusl: boolean): CheckSpec {
  return custom(id, async ({ client }) => {
    const r = await client.exec({ command: `${TOOLKIT}/bin/${name} --version` });
    const out = stdoutOf(r);
    if (!version.test(out)) {
      const seen = `${TOOLKIT}/bin/${name} --version printed ${show(out.trim())} (stderr ${show(r.stderr.toString().trim())}); expected ${shown}`;
      // A known limit recorded when the toolkit was built, not a defect of this image.
      if (glibcOnMusl && name !== 'uv') {
        return {
          status: 'warn',
          detail: `${seen}: node-musl holds the glibc fallback build, which needs a glibc loader`,
          fix: 'use a glibc image on this architecture, or one with a glibc loader',
        };
      }
      fail(seen);
    }
    const which = stdoutOf(await client.exec({ command: `command -v ${name}` })).trim();
    if (which !== `${TOOLKIT}/bin/${name}`) {
      return {
        status: 'warn',
        detail: `toolkit ${name} is ${out.trim()}, but PATH finds ${which || 'nothing'} first (the image's own ${name} wins)`,
        fix: `the agent will run the image's ${name}; remove it from the image or accept its version`,
      };
    }
    return pass(`${name} --version → ${out.trim()} (${which})`);
  });
}

function muslSelectionCheck(exp: SuiteExpectations, flavour: 'node-musl' | 'node-glibc'): CheckSpec {
  return custom('toolkit.musl-selection', async (t: CheckTools): Promise<Outcome> => {
    // Trace the wrapper itself: which flavour it execs, and what it makes of LD_LIBRARY_PATH.
    const keep = '/smoke-keep';
    const r = await t.client.exec({ command: `LD_LIBRARY_PATH=${keep} sh -x ${TOOLKIT}/bin/node --version 2>&1` });
    const trace = stdoutOf(r);
    const picked = /(node-musl|node-glibc)\/bin\/node/.exec(trace)?.[1];
    expect(
      picked !== undefined,
      `the node wrapper's trace names neither node-musl nor node-glibc: ${show(trace, 200)}`,
    );
    expectEqual(picked, flavour, `flavour the node wrapper picks on a ${exp.libc} image`);
    const ld = [...trace.matchAll(/LD_LIBRARY_PATH=['"]?([^\s'"]*)/g)]
      .map((m) => m[1] ?? '')
      .filter((v) => v !== keep)
      .pop();
    if (flavour === 'node-musl') {
      const first = ld?.split(':')[0] ?? '';
      expect(
        first.endsWith('node-musl/runtime-lib'),
        `LD_LIBRARY_PATH set by the wrapper: ${show(ld ?? '(not set)')}; expected node-musl/runtime-lib first`,
      );
      expect(ld?.endsWith(`:${keep}`) ?? false, `LD_LIBRARY_PATH ${show(ld ?? '')} dropped the existing value ${keep}`);
    } else {
      expect(
        !(ld ?? '').includes('runtime-lib'),
        `the glibc flavour should not set LD_LIBRARY_PATH to the musl runtime libs: ${show(ld ?? '')}`,
      );
    }
    return pass(`${exp.libc} image: the wrapper runs ${picked}${ld ? `, LD_LIBRARY_PATH=${ld}` : ''}`);
  });
}

/**
 * SIGTERM through the hook (the one thing that ends the workspace), so it runs last. An Exec is in flight
 * (it has printed, so it surely runs): a v3 bridge stops gracefully and lets it finish; v0.18 stops hard
 * (srv.Stop) and cuts it. The other era's behaviour fails the check.
 */
export function lifecycleCheck(hooks: SuiteHooks, rules: EraRules, caps: ImageCaps, conn: BridgeConnection): CheckSpec {
  const overTcp = conn.target?.kind === 'tcp';
  return custom(
    'lifecycle.sigterm',
    async ({ client }) => {
      const stop = hooks.stopWorkspace;
      if (!stop) return { status: 'skip', detail: 'no way to stop the workspace was given' };
      // A graceful stop (v3) waits for the call, so its sleep is paid; a hard stop (v0.18) cuts it at once, so
      // there it can be long enough that SIGTERM surely arrives first.
      const nap = await caps.sleepArg(client, rules.isNew('hardStop') ? 3 : 0.2);
      const session = client.openExec({ command: `echo started; sleep ${nap}; echo done` }, { deadlineMs: 20_000 });
      session.halfClose();
      const inflight = session.done.then((r) => stdoutOf(r).includes('done')).catch(() => false);
      await session.waitForOutput(/started/, 10_000);
      // Memoh kills a workspace 10 s after SIGTERM; a stop that takes twice that is a finding, not a wait.
      const s = await Promise.race([stop(), sleep(20_000).then(() => undefined)]);
      if (!s) {
        session.cancel();
        return {
          status: 'fail',
          detail: 'on SIGTERM: the workspace did not stop within 20 s',
          fix: 'the bridge must stop on SIGTERM (Memoh kills it after 10 s)',
        };
      }
      // The call ends with the workspace; one that outlives a stopped workspace is as good as cut.
      const finished = await Promise.race([inflight, sleep(5000).then(() => false)]);
      session.cancel();
      const problems: string[] = [];
      if (s.exitCode !== 0) problems.push(`exit code ${s.exitCode}`);
      if (s.ms > 10_000) problems.push(`took ${(s.ms / 1000).toFixed(1)} s (Memoh kills after 10 s)`);
      if (!overTcp && !s.socketGone) problems.push('the socket file is still there');
      const seen = `exit ${s.exitCode} after ${(s.ms / 1000).toFixed(1)} s${overTcp ? '' : `, socket ${s.socketGone ? 'removed' : 'left behind'}`}`;
      if (problems.length > 0)
        return {
          status: 'fail',
          detail: `on SIGTERM: ${problems.join(', ')} (${seen})`,
          fix: 'the bridge must stop on SIGTERM, exit 0 and remove its socket',
        };
      const got = finished ? 'finished' : 'cut';
      const want = rules.pick('hardStop', 'finished', 'cut');
      const said = finished
        ? 'the Exec in flight finished first (graceful stop)'
        : 'the Exec in flight was cut off (hard stop)';
      if (!want.includes(got)) {
        return {
          status: 'fail',
          detail: `${seen}, but ${said}: ${rules.isNew('hardStop') ? 'v0.18 bridges stop hard (srv.Stop)' : 'v3 bridges stop gracefully, finishing calls in flight'}`,
          fix: rules.isNew('hardStop')
            ? 'a v0.18 bridge cuts calls in flight on SIGTERM'
            : 'a v3 bridge finishes calls in flight on SIGTERM (GracefulStop)',
        };
      }
      return pass(`${seen}; ${said}${rules.note('hardStop')}`);
    },
    { timeoutMs: 60_000 },
  );
}
