import type { Command } from 'commander';

// Placeholder until the toolkit stage lands: the command exists so --help lists it.
export function register(program: Command): void {
  program
    .command('toolkit')
    .description('(toolkit stage: not built yet)')
    .action(() => {
      process.stderr.write('error: the toolkit command is not built yet\n');
      process.exit(2);
    });
}
