import type { Command } from 'commander';
import { EXIT } from '../../core/errors.js';
import { runDoctor } from '../../doctor/index.js';
import { formatDoctor } from '../../report/index.js';
import { printJson } from '../common.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await runDoctor();
      if (opts.json) printJson(report);
      else process.stdout.write(`${formatDoctor(report)}\n`);
      process.exit(report.engine.reachable ? EXIT.ok : EXIT.usage);
    });
}
