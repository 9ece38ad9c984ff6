import type { Command } from 'commander';

// Placeholder until the smoke stage lands: the command exists so --help lists it.
export function register(program: Command): void {
  program
    .command('smoke')
    .description('(smoke stage: not built yet)')
    .action(() => {
      process.stderr.write('error: the smoke command is not built yet\n');
      process.exit(2);
    });
}
