import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import pLimit from 'p-limit';
import { loadUserChecks } from '../../bridge/index.js';
import { type Check, type Status, worst } from '../../core/check.js';
import type { StageContext } from '../../core/context.js';
import { EXIT, InputError } from '../../core/errors.js';
import { type Arch, type Platform, formatPlatform } from '../../core/platform.js';
import { acquire } from '../../image/pull.js';
import { type ImageRef, resolveImage } from '../../image/reference.js';
import {
  type ResolvedBridge,
  type SmokeReport,
  type SmokeRequest,
  botIdsFor,
  defaultBotId,
  readToolkitManifest,
  resolveBridge,
  smokeMany,
} from '../../workspace/index.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('smoke')
    .description("start a workspace container for each image as Memoh does (bridge mounted at /opt/memoh) and run the bridge smoke suite over its Unix socket");
  addFieldFlags(cmd, ['smoke', 'run', 'workspace']);
  addCommonFlags(cmd).action(async (flags: Record<string, unknown>) => {
    await runCommand({ json: flags.json === true, keep: flags.keep === true }, (ctx) => smoke(flags, ctx));
  });
}

async function smoke(flags: Record<string, unknown>, ctx: StageContext): Promise<number> {
  const o = optionsFromFlags(flags);
  if (!o.smoke.bridge) {
    throw new InputError('--bridge', 'no bridge given', 'give the bridge binary: a path, image:REF[:PATH] or source:DIR');
  }
  const refs = o.run.images.map((i) => resolveImage(i, o.workspace.registry, '--image'));
  const targets = refs.flatMap((ref) => o.run.platforms.map((platform) => ({ ref, platform })));
  const arches = [...new Set(o.run.platforms.map((p) => p.arch))];

  // Everything the user gave is checked before a single container exists.
  const toolkits = await toolkitsByArch(o.smoke.toolkit, arches);
  const userChecks = o.smoke.checks ? loadUserChecks(o.smoke.checks, await readChecks(o.smoke.checks)) : undefined;
  const bridges = new Map<Arch, ResolvedBridge>();
  for (const arch of arches) bridges.set(arch, await resolveBridge(o.smoke.bridge, arch, ctx));

  const base = o.smoke.botId || defaultBotId();
  const ids = botIdsFor(base, targets.map((t) => ({ image: t.ref.input, arch: t.platform.arch })));
  const limit = pLimit(o.run.concurrency);
  const acquired = await Promise.all(targets.map((t) => limit(() => acquire(t.ref, t.platform, o.run.pull, ctx))));

  const requests: SmokeRequest[] = [];
  const unavailable: SmokeReport[] = [];
  targets.forEach((t, i) => {
    const got = acquired[i]!;
    if (!got.image) {
      unavailable.push(notStarted(t.ref, t.platform, ids[i]!, { id: 'image.pull', ...got.check }));
      return;
    }
    requests.push({
      image: t.ref.input,
      resolved: t.ref.resolved,
      platform: t.platform,
      bridgePath: bridges.get(t.platform.arch)!.path,
      toolkitDir: toolkits.get(t.platform.arch),
      botId: ids[i]!,
      timeoutSeconds: o.smoke.timeoutSeconds,
      service: o.smoke.service,
      tz: process.env.TZ || undefined,
      userChecks,
      keep: o.smoke.keep,
    });
  });
  const ran = await smokeMany(requests, o.run.concurrency, ctx);
  for (const b of bridges.values()) await b.release();
  const reports = [...unavailable, ...ran];
  const status = worst(reports.map((r) => r.status));

  if (flags.json === true) printJson({ status, reports });
  else process.stdout.write(formatReports(reports));
  for (const r of reports) if (r.kept) ctx.reporter.info(formatKept(r));

  const failed = status === 'fail' || (status === 'warn' && o.run.failOn === 'warning');
  return failed ? EXIT.failed : EXIT.ok;
}

/** `--toolkit` dirs keyed by the architecture their toolkit.json names; every platform needs one when any is given. */
async function toolkitsByArch(dirs: readonly string[], arches: readonly Arch[]): Promise<Map<Arch, string>> {
  const out = new Map<Arch, string>();
  for (const dir of dirs) {
    const m = await readToolkitManifest(dir);
    if (out.has(m.arch)) throw new InputError('--toolkit', `two toolkits for ${m.arch} (${out.get(m.arch)} and ${dir})`, 'give one toolkit dir per architecture');
    out.set(m.arch, dir);
  }
  if (out.size) {
    for (const a of arches) {
      if (!out.has(a)) {
        throw new InputError('--toolkit', `no toolkit for linux/${a} (have: ${[...out.keys()].join(', ')})`, `build one with \`memoh-workspace toolkit --arch ${a}\` and add --toolkit DIR`);
      }
    }
  }
  return out;
}

async function readChecks(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InputError('--checks', `cannot read ${file} (${code})`, 'give the path of a TOML checks file');
  }
}

function notStarted(ref: ImageRef, platform: Platform, botId: string, check: Check): SmokeReport {
  return { image: ref.input, platform: formatPlatform(platform), botId, service: null, checks: [check], status: check.status, durationMs: 0 };
}

const MARK: Record<Status, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatReports(reports: readonly SmokeReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const service = r.service ? `, ${r.service}` : '';
    lines.push(`${MARK[r.status]}  ${r.image} ${r.platform}  (bot ${r.botId}${service}, ${(r.durationMs / 1000).toFixed(1)} s)`);
    const width = Math.max(...r.checks.map((c) => c.id.length));
    for (const c of r.checks) {
      lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(width)}  ${c.detail}`);
      if (c.fix && (c.status === 'fail' || c.status === 'warn')) lines.push(`        ${' '.repeat(width)}  fix: ${c.fix}`);
    }
    if (r.failureContext) {
      const f = r.failureContext;
      lines.push(`  container: ${f.state}${f.exitCode === null ? '' : `, exit code ${f.exitCode}`}; last ${f.logs.length} log lines:`);
      for (const l of f.logs) lines.push(`    | ${l}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

function formatKept(r: SmokeReport): string {
  const k = r.kept!;
  return [
    `kept the workspace of ${r.image} (${r.platform}):`,
    `  container  ${k.containerName}`,
    `  socket     ${k.socketPath}  (gRPC, plaintext, ${r.service ?? 'mcpcontainer'}.ContainerService; connect as root)`,
    `  remove     ${k.removeCommand}`,
  ].join('\n');
}
