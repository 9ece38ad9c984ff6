import type { Command } from 'commander';
import { exitFor } from '../../core/errors.js';
import { runPipeline } from '../../pipeline.js';
import { formatImageReports } from '../../report/index.js';
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
  cmd.action((flags: Record<string, unknown> & { json?: boolean }) =>
    runCommand({ json: flags.json }, async (ctx) => {
      // `--toolkit` is the schema's [smoke] toolkit: the pipeline judges the images against it.
      const options = optionsFromFlags(flags);
      const { report, images } = await runPipeline({ options, mode: 'validate', workDir: '' }, ctx);
      if (flags.json) printJson(images);
      else process.stdout.write(formatImageReports(images, report.durationMs));
      return exitFor(report.result);
    }),
  );
}

/** Repeatable, one path each (a path may hold a comma). */
function collect(value: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), value];
}
