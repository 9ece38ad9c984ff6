import type { Command } from 'commander';
import { EXIT } from '../../core/errors.js';
import { planMatrix } from '../../pipeline.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, runCommand } from '../common.js';

export function register(program: Command): void {
  const plan = program.command('plan');
  addFieldFlags(addCommonFlags(plan), ['workspace', 'run']).action((flags: Record<string, unknown>) =>
    runCommand(flags, async () => {
      process.stdout.write(`${JSON.stringify(planMatrix(optionsFromFlags(flags)))}\n`);
      return EXIT.ok;
    }),
  );
}
