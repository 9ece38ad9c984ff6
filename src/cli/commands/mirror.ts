import type { Command } from 'commander';

// Placeholder until the mirror stage lands: the command exists so --help lists it.
export function register(program: Command): void {
  program
    .command('mirror')
    .description('(mirror stage: not built yet)')
    .action(() => {
      process.stderr.write('error: the mirror command is not built yet\n');
      process.exit(2);
    });
}
