import type { Command } from 'commander';
import { EXIT, InputError } from '../../core/errors.js';
import { buildToolkit } from '../../toolkit/index.js';
import type { ToolkitResult } from '../../toolkit/types.js';
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
      else process.stdout.write(formatResult(result));
      return EXIT.ok;
    }),
  );
}

export function formatResult(r: ToolkitResult): string {
  const m = r.manifest;
  const lines = [
    `toolkit ${r.arch} → ${r.dir}${r.fromCache ? ' (from cache)' : ''}`,
    `  node ${m.node.version}${m.node.requested !== m.node.version ? ` (asked: ${m.node.requested})` : ''}, npm ${m.npm.version}, uv ${m.uv.version}, ` +
      `runtime-lib from Alpine v${m.alpine.version}${m.fallback ? ', node-musl = glibc build (fallback)' : ''}${m.verified ? '' : ', UNVERIFIED'}`,
  ];
  for (const c of r.checks) {
    lines.push(`  ${c.status === 'pass' ? 'pass' : c.status.toUpperCase()}  ${c.id.padEnd(19)}  ${c.detail}`);
    if (c.fix && c.status !== 'pass') lines.push(`        ${''.padEnd(19)}  fix: ${c.fix}`);
  }
  return `${lines.join('\n')}\n`;
}
