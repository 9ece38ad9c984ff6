import { Command, CommanderError } from 'commander';
import { EXIT } from '../core/errors.js';
import { reportError } from './common.js';
import * as doctor from './commands/doctor.js';
import * as mirror from './commands/mirror.js';
import * as run from './commands/run.js';
import * as smoke from './commands/smoke.js';
import * as toolkit from './commands/toolkit.js';
import * as validate from './commands/validate.js';

const program = new Command('memoh-workspace')
  .description('Prove a Memoh workspace image works: toolkit, image validation, bridge smoke tests, mirror checks')
  .version(__VERSION__, '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

for (const m of [run, toolkit, validate, smoke, mirror, doctor]) m.register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors were already printed by commander.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  process.exit(reportError(err));
}
