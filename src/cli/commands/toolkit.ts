import type { Command } from 'commander';
import { EXIT, InputError } from '../../core/errors.js';
import { formatToolkit } from '../../report/index.js';
import { buildToolkit } from '../../toolkit/index.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('toolkit')
    .requiredOption('--out <dir>', 'where the toolkit goes (replaced whole; a failed build leaves it as it was)')
    .option('--arch <arch>', "the toolkit's architecture: amd64 or arm64 (default: [toolkit] arch, else the host's)");
  addFieldFlags(cmd, ['toolkit', 'mirrors'], ['arch']);
  addCommonFlags(cmd);
  cmd.action((flags: Record<string, unknown> & { out: string; arch?: string; json?: boolean }) =>
    runCommand({ json: flags.json }, async (ctx) => {
      // The schema's `arch` is a list (the pipeline builds one toolkit per arch); this command builds one.
      const options = optionsFromFlags({ ...flags, arch: flags.arch === undefined ? undefined : [flags.arch] });
      const [arch, ...more] = options.toolkit.arches;
      if (!arch || more.length) {
        throw new InputError(
          '--arch',
          `the configuration asks for ${options.toolkit.arches.join(' and ')}`,
          'give one --arch: a toolkit holds one architecture',
        );
      }
      const result = await buildToolkit({ ...options.toolkit, out: flags.out, arch }, ctx);
      if (flags.json) printJson(result);
      else process.stdout.write(formatToolkit(result));
      return EXIT.ok;
    }),
  );
}
