import type { Command } from 'commander';

// Placeholder until the run stage lands: the command exists so --help lists it.
export function register(program: Command): void {
  program
    .command('run')
    .description('(run stage: not built yet)')
    .action(() => {
      process.stderr.write('error: the run command is not built yet\n');
      process.exit(2);
    });
}
