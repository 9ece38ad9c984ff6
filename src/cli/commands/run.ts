import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { exitFor } from '../../core/errors.js';
import { runPipeline } from '../../pipeline.js';
import { toJson, toJUnit, toMarkdown, toText } from '../../report/index.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

interface RunFlags extends Record<string, unknown> {
  json?: boolean;
  keep?: boolean;
  out?: string;
  report?: string;
  junit?: string;
  summary?: string;
}

export function register(program: Command): void {
  const run = program
    .command('run')
    .option('--out <dir>', 'where toolkits are assembled (default: a temporary dir, removed at the end)')
    .option('--report <file>', 'write the JSON report here')
    .option('--junit <file>', 'write a JUnit XML report here')
    .option('--summary <file>', 'write the Markdown summary here');
  addFieldFlags(addCommonFlags(run), ['workspace', 'toolkit', 'mirrors', 'run', 'smoke', 'mirror']).action(
    (flags: RunFlags) =>
      runCommand(flags, async (ctx) => {
        const options = optionsFromFlags(flags);
        const workDir = flags.out ? resolve(flags.out) : mkdtempSync(join(tmpdir(), 'memoh-workspace-'));
        mkdirSync(workDir, { recursive: true });
        if (!flags.out && !options.smoke.keep) ctx.ledger.add({ kind: 'path', path: workDir, what: 'temp-dir' });
        const { report } = await runPipeline({ options, mode: 'run', workDir }, ctx);
        if (flags.report) writeFileSync(flags.report, toJson(report));
        if (flags.junit) writeFileSync(flags.junit, toJUnit(report));
        if (flags.summary) writeFileSync(flags.summary, toMarkdown(report));
        if (flags.json) printJson(report);
        else process.stdout.write(`${toText(report)}\n`);
        return exitFor(report.result);
      }),
  );
}
