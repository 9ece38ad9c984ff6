import type { Command } from 'commander';
import type { Status } from '../../core/check.js';
import { EXIT } from '../../core/errors.js';
import { runPipeline } from '../../pipeline.js';
import { toText } from '../../report/index.js';
import type { SmokeReport } from '../../workspace/index.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

export function register(program: Command): void {
  const cmd = program.command('smoke');
  addFieldFlags(cmd, ['smoke', 'run', 'workspace']);
  addCommonFlags(cmd).action(async (flags: Record<string, unknown>) => {
    await runCommand({ json: flags.json === true, keep: flags.keep === true }, async (ctx) => {
      const options = optionsFromFlags(flags);
      // Validation runs first (pull policy, platform, libc): an image that cannot host a workspace is
      // reported with its reason instead of a workspace that never becomes ready.
      const { report, smoke } = await runPipeline({ options, mode: 'smoke', workDir: '' }, ctx);
      if (flags.json === true) printJson({ status: report.status, result: report.result, reports: smoke, report });
      else process.stdout.write(`${formatReports(smoke)}${toText(report)}\n`);
      for (const r of smoke) if (r.kept) ctx.reporter.info(formatKept(r));
      return report.result === 'success' ? EXIT.ok : EXIT.failed;
    });
  });
}

const MARK: Record<Status, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatReports(reports: readonly SmokeReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const service = r.service ? `, ${r.service}` : '';
    lines.push(
      `${MARK[r.status]}  ${r.image} ${r.platform}  (bot ${r.botId}${service}, ${(r.durationMs / 1000).toFixed(1)} s)`,
    );
    const width = Math.max(...r.checks.map((c) => c.id.length));
    for (const c of r.checks) {
      lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(width)}  ${c.detail}`);
      if (c.fix && (c.status === 'fail' || c.status === 'warn'))
        lines.push(`        ${' '.repeat(width)}  fix: ${c.fix}`);
    }
    if (r.failureContext) {
      const f = r.failureContext;
      lines.push(
        `  container: ${f.state}${f.exitCode === null ? '' : `, exit code ${f.exitCode}`}; last ${f.logs.length} log lines:`,
      );
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
