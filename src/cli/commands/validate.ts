import type { Command } from 'commander';

// Placeholder until the validate stage lands: the command exists so --help lists it.
export function register(program: Command): void {
  program
    .command('validate')
    .description('(validate stage: not built yet)')
    .action(() => {
      process.stderr.write('error: the validate command is not built yet\n');
      process.exit(2);
    });
}
