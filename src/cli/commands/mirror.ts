import { Command } from 'commander';
import type { StageContext } from '../../core/context.js';
import { EXIT, exitFor } from '../../core/errors.js';
import { checkMirrorPlan, mirrorCredentials, planMirror } from '../../mirror/index.js';
import { formatMirror, formatMirrorPlan, resultOf } from '../../report/index.js';
import { addCommonFlags, addFieldFlags, optionsFromFlags, printJson, runCommand } from '../common.js';

interface MirrorFlags {
  json?: boolean;
  config?: string;
  preset?: string;
  image?: string[];
  platform?: string[];
  compose?: string;
  overlay?: string;
  downloads?: boolean;
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  dryRun?: boolean;
  [key: string]: unknown;
}

export function register(program: Command): void {
  const cmd = new Command('mirror')
    .option('--compose <file>', 'compose file whose service images are the upstream (with --overlay)')
    .option(
      '--overlay <file>',
      'compose overlay mapping the same services to mirror images (e.g. docker-compose.cn.yml)',
    )
    .option('--downloads', 'check that the download mirrors serve every file (and checksum) the toolkit needs')
    .option('--username <user>', 'user for the mirror registry (basic auth or token service)')
    .option('--password <password>', 'password for the mirror registry (prefer --password-stdin)')
    .option('--password-stdin', 'read the mirror registry password from stdin')
    .option('--dry-run', 'print the resolved configuration and what would be checked; contact nothing');
  addFieldFlags(cmd, ['workspace', 'run', 'mirror', 'toolkit', 'mirrors'], ['pull', 'cache-dir']);
  addCommonFlags(cmd);
  cmd.action((flags: MirrorFlags) => runCommand({ json: flags.json }, (ctx) => mirrorCommand(flags, ctx)));
  program.addCommand(cmd);
}

async function mirrorCommand(flags: MirrorFlags, ctx: StageContext): Promise<number> {
  const options = optionsFromFlags(flags);
  const plan = planMirror(options, {
    compose: flags.compose,
    overlay: flags.overlay,
    imageFlag: flags.image !== undefined,
    platformFlag: flags.platform !== undefined,
    config: typeof flags.config === 'string' ? flags.config : undefined,
    downloads: flags.downloads === true,
  });
  const auth = await mirrorCredentials(flags, plan.pairs, ctx.reporter);
  if (flags.dryRun) {
    const { platforms, pairs, unpaired, downloads } = plan;
    if (flags.json) printJson({ configuration: options, platforms, pairs, unpaired, downloads });
    else process.stdout.write(`${formatMirrorPlan(pairs, downloads ?? [])}\n`);
    return EXIT.ok;
  }
  const { report, rows, downloads, status } = await checkMirrorPlan(plan, options, auth, ctx);
  const result = resultOf(status, options.run.failOn);
  if (flags.json) {
    printJson({
      configuration: options,
      ...(report ? { report, rows } : {}),
      ...(downloads ? { downloads } : {}),
      result,
    });
  } else {
    process.stdout.write(`${formatMirror(report, rows, downloads)}\n`);
  }
  return exitFor(result);
}
