import type { Command } from 'commander';
import type { Status } from '../../core/check.js';
import { EXIT } from '../../core/errors.js';
import { formatPlatform } from '../../core/platform.js';
import { type ImageReport, type ToolkitRef, validateImages } from '../../image/index.js';
import { readToolkitManifest } from '../../toolkit/manifest.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .option(
      '--toolkit <dir>',
      'a built toolkit (holds toolkit.json): judge whether its node starts in each image (repeatable, one per arch)',
      collect,
    );
  addFieldFlags(cmd, ['workspace', 'run']);
  addCommonFlags(cmd);
  cmd.action((flags: Record<string, unknown> & { json?: boolean; toolkit?: string[] }) =>
    runCommand({ json: flags.json }, async (ctx) => {
      const options = optionsFromFlags(flags);
      const toolkit: ToolkitRef[] = [];
      for (const dir of flags.toolkit ?? []) toolkit.push(await readToolkitManifest(dir, '--toolkit'));
      const started = performance.now();
      const reports = await validateImages(
        {
          images: options.run.images,
          platforms: options.run.platforms,
          registry: options.workspace.registry,
          pull: options.run.pull,
          concurrency: options.run.concurrency,
          memoh: options.run.memoh,
          ...(toolkit.length ? { toolkit } : {}),
        },
        ctx,
      );
      if (flags.json) printJson(reports);
      else process.stdout.write(formatReports(reports, performance.now() - started));
      const failing = (s: Status) => s === 'fail' || (options.run.failOn === 'warning' && s === 'warn');
      return reports.some((r) => failing(r.status)) ? EXIT.failed : EXIT.ok;
    }),
  );
}

const label: Record<Status, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** One block per image × platform: a headline, then one line per check (and its fix). */
export function formatReports(reports: ImageReport[], totalMs: number): string {
  const lines: string[] = [];
  for (const r of reports) {
    const resolved = r.image.resolved === r.image.input ? '' : ` (${r.image.resolved})`;
    const era = r.era && `Memoh ${r.era.era}${r.era.guess ? ' (a guess)' : ''}: ${r.era.why}`;
    const facts = [r.libc, r.user && `user ${r.user}`, era].filter(Boolean).join(', ');
    lines.push(
      `${label[r.status]}  ${r.image.input}${resolved} ${formatPlatform(r.platform)}${facts ? `: ${facts}` : ''} [${(r.durationMs / 1000).toFixed(1)}s]`,
    );
    for (const c of r.checks) {
      lines.push(`  ${label[c.status].padEnd(4)}  ${c.id.padEnd(26)}  ${c.detail}`);
      if (c.fix && (c.status === 'fail' || c.status === 'warn'))
        lines.push(`  ${''.padEnd(4)}  ${''.padEnd(26)}  fix: ${c.fix}`);
    }
  }
  const n = (s: Status) => reports.filter((r) => r.status === s).length;
  lines.push(
    `${reports.length} image×platform checked in ${(totalMs / 1000).toFixed(1)}s: ${n('pass')} pass, ${n('warn')} warn, ${n('fail')} fail`,
  );
  return `${lines.join('\n')}\n`;
}

/** Repeatable, one path each (a path may hold a comma). */
function collect(value: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), value];
}
