import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeRegExp } from '../../src/core/util.js';
import type { RunReport } from '../../src/report/index.js';
import { expectPassedButRace } from '../support/eras.js';
import { workspaces } from '../support/leaks.js';
import { mirrorInputs } from '../support/mirror.js';
import {
  parseFileCommand,
  postEnvFromState,
  type RunnerFiles,
  runnerFiles,
  runStep,
  startStep,
} from '../support/runner.js';
import { privateTmp } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { IMAGES } from '../world/images.js';
import { startMirror } from '../world/mirror/server.mjs';
import { standinBridge } from '../world/paths.js';

type Mirror = Awaited<ReturnType<typeof startMirror>>;
let mirror: Mirror;
const cleanup: RunnerFiles[] = [];

// Other test files may run workspaces at the same time: count only those of this file's bot ids.
const botId = `fidelity-${randomBytes(3).toString('hex')}`;
const ours = () => workspaces(botId).join('\n');
// The steps' temp dirs go to this file's own TMPDIR: other runs on the machine cannot add or remove any there.
const tmp = privateTmp('action');
const ourTemp = () => readdirSync(tmpdir()).filter((n) => /^memoh-(run|runtime|workspace|toolkit)-/.test(n));

function worldInputs(cacheDir: string): Record<string, string> {
  return {
    ...mirrorInputs(mirror),
    bridge: standinBridge('amd64'),
    platforms: 'linux/amd64',
    'cache-dir': cacheDir,
    'bot-id': botId,
  };
}

beforeAll(async () => {
  mirror = await startMirror();
});
afterAll(async () => {
  await mirror?.close();
  for (const f of cleanup) rmSync(f.dir, { recursive: true, force: true });
  tmp.restore();
});

function files(): RunnerFiles {
  const f = runnerFiles();
  cleanup.push(f);
  return f;
}

describe('the Action under the runner, on Node 24', () => {
  it('mode plan writes the matrix output and nothing else runs', async () => {
    const f = files();
    const r = await runStep('main', f, {
      mode: 'plan',
      images: 'debian:bookworm-slim\nalpine:3.22',
      platforms: 'linux/amd64,linux/arm64',
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = parseFileCommand(readFileSync(f.output, 'utf8'));
    expect(JSON.parse(out.matrix!)).toEqual({
      include: [
        { image: 'debian:bookworm-slim', platform: 'linux/amd64' },
        { image: 'debian:bookworm-slim', platform: 'linux/arm64' },
        { image: 'alpine:3.22', platform: 'linux/amd64' },
        { image: 'alpine:3.22', platform: 'linux/arm64' },
      ],
    });
    expect(out.result).toBe('success');
  });

  it('a bad input fails the step naming the input, and creates nothing', async () => {
    const f = files();
    const r = await runStep('main', f, { mode: 'run', pull: 'sometimes' });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/::error::input pull: "sometimes" is not allowed.*always, missing, never/);
    const u = await runStep('main', files(), { 'node-verison': '24' });
    expect(u.stdout).toMatch(/::error::input node-verison: is not an input of this action/);
  });

  it('a full run: outputs, summary, reports and annotations agree; post removes everything', async () => {
    const f = files();
    const before = ourTemp();
    const main = await runStep('main', f, {
      ...worldInputs(`${f.dir}/cache`),
      images: `${IMAGES.debianAmd64}\n${IMAGES.noshellAmd64}`,
      pull: 'never',
    });
    const out = parseFileCommand(readFileSync(f.output, 'utf8'));
    // The no-shell image fails validation, so the job fails, and its smoke row is skipped with the reason.
    expect(out.result, main.stdout).toBe('failure');
    expect(main.code).toBe(1);
    const report = JSON.parse(readFileSync(out.report!, 'utf8')) as RunReport;
    const rowOf = (image: string, stage: string) => report.rows.find((r) => r.image === image && r.stage === stage);
    // The v3 stand-in keeps the seed's PID-1 reaper race on purpose (it shows in some runs, not all): when the
    // suite catches it, it is named, and it is the only thing short of a pass.
    const smoke = rowOf(IMAGES.debianAmd64, 'smoke');
    expect(smoke?.memoh).toBe('v3');
    expect(smoke, 'a smoke row').toBeDefined();
    expectPassedButRace(smoke?.checks);
    expect(rowOf(IMAGES.noshellAmd64, 'validate')?.status).toBe('fail');
    expect(rowOf(IMAGES.noshellAmd64, 'smoke')?.skipped).toMatch(/validation failed \(.*image\.shell/);
    expect(out['toolkit-path']).toMatch(/toolkit\/amd64$/);

    // Summary, annotations, JSON and JUnit tell the same story, check by check.
    const summary = readFileSync(f.summary, 'utf8');
    const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
      readFileSync(out.junit!, 'utf8'),
    );
    const suites = [junit.testsuites.testsuite].flat() as { name: string; testcase?: unknown }[];
    const cases: Record<string, unknown>[] = suites.flatMap((s) =>
      [s.testcase ?? []].flat().map((c) => ({ suite: s.name, ...(c as Record<string, unknown>) })),
    );
    const checks = report.rows.flatMap((r) => r.checks.map((c) => ({ row: r, c })));
    expect(cases).toHaveLength(checks.length);
    for (const { row, c } of checks) {
      const tc = cases.find((x) => x.suite === `${row.image} ${row.platform} ${row.stage}` && x.name === c.id);
      expect(tc, `${c.id} in JUnit`).toBeTruthy();
      expect('failure' in tc!).toBe(c.status === 'fail');
      expect('skipped' in tc!).toBe(c.status === 'skip');
      const title = commandProperty(`${c.id} (${row.image} ${row.platform} ${row.stage})`);
      const annotated = new RegExp(`::${c.status === 'fail' ? 'error' : 'warning'} title=${escapeRegExp(title)}::`);
      expect(annotated.test(main.stdout), `${c.id} annotation`).toBe(c.status === 'fail' || c.status === 'warn');
      if (c.status === 'fail' || c.status === 'warn') expect(summary).toContain(`\`${c.id}\``);
    }
    for (const row of report.rows) expect(summary).toContain(`| ${row.image} | ${row.platform} | ${row.stage} |`);

    const post = await runStep('post', f, {}, postEnvFromState(f));
    expect(post.code, post.stdout).toBe(0);
    expect(ours()).toBe('');
    expect(ourTemp()).toEqual(before);
  });

  it('main killed midway: the post step still removes every container and directory', async () => {
    const f = files();
    const before = ourTemp();
    const step = startStep('main', f, {
      ...worldInputs(`${f.dir}/cache`),
      images: IMAGES.debianAmd64,
      pull: 'never',
    });
    // Kill it the moment its workspace container exists (as a cancelled job's runner would, but harder).
    await until('its workspace container', 120_000, ours, 200);
    expect(ours()).not.toBe('');
    step.child.kill('SIGKILL');
    await step.done;
    const state = postEnvFromState(f);
    expect(JSON.parse(state.STATE_ledger!).length).toBeGreaterThan(0);
    const post = await runStep('post', f, {}, state);
    expect(post.code, post.stdout).toBe(0);
    expect(ours()).toBe('');
    expect(ourTemp()).toEqual(before);
    for (const e of JSON.parse(state.STATE_ledger!) as { kind: string; path?: string }[]) {
      if (e.path) expect(existsSync(e.path)).toBe(false);
    }
  });
});

/** How the runner's workflow-command protocol escapes a property value. */
function commandProperty(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C');
}
