import type { Command } from 'commander';
import { exitFor } from '../../core/errors.js';
import { runPipeline } from '../../pipeline.js';
import { formatKept, formatSmokeReports, toText } from '../../report/index.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

// Tests read a workspace's text under the name this command's printer had.
export { formatSmokeReports as formatReports } from '../../report/index.js';

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
      else process.stdout.write(`${formatSmokeReports(smoke)}${toText(report)}\n`);
      for (const r of smoke) if (r.kept) ctx.reporter.info(formatKept(r));
      return exitFor(report.result);
    });
  });
}
