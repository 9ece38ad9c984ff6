import { Command } from 'commander';
import { fileLayer, mirrorImages } from '../../config/index.js';
import { type Check, worst } from '../../core/check.js';
import { EXIT, InputError } from '../../core/errors.js';
import { addSecret } from '../../core/redact.js';
import type { AuthOptions } from '../../image/auth.js';
import type { DownloadReport } from '../../mirror/downloads.js';
import {
  checkDownloads,
  checkMirrors,
  composePairs,
  downloadPlan,
  type ImagePair,
  imagePair,
  type MirrorReport,
  type MirrorRow,
  mirrorRows,
} from '../../mirror/index.js';
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

async function mirrorCommand(
  flags: MirrorFlags,
  ctx: Parameters<Parameters<typeof runCommand>[1]>[0],
): Promise<number> {
  const options = optionsFromFlags(flags);
  if (!!flags.compose !== !!flags.overlay) {
    throw new InputError(
      flags.compose ? '--compose' : '--overlay',
      'needs the other file too',
      'give both --compose FILE and --overlay FILE',
    );
  }
  const pairs: ImagePair[] = [];
  let unpaired: { service: string; reason: string }[] = [];
  if (flags.compose && flags.overlay) {
    // The workspace default image is in no compose file, but mainland users pull it through the mirror too.
    const c = composePairs(flags.compose, flags.overlay, options.mirror.upstream, process.env, {
      image: options.workspace.defaultImage,
      registry: options.workspace.registry,
    });
    pairs.push(...c.pairs);
    unpaired = c.unpaired;
  }
  // Images: named ones always; the configured default only when nothing else was asked for.
  const namedImages = flags.image !== undefined || configSets(flags, 'run.images');
  if (namedImages || (!flags.compose && !flags.downloads)) {
    for (const image of mirrorImages(options))
      pairs.push(imagePair(image, options.workspace.registry, options.mirror.upstream));
  }
  const platforms = flags.platform !== undefined || configSets(flags, 'run.platforms') ? options.run.platforms : 'all';
  if (flags.password !== undefined)
    ctx.reporter.warn('--password is visible to other users of this machine (process list): prefer --password-stdin');
  const auth = await credentials(flags, pairs);

  if (flags.dryRun) {
    const plan = {
      configuration: options,
      platforms: platforms === 'all' ? 'all' : platforms,
      pairs,
      unpaired,
      downloads: flags.downloads ? downloadPlan(options.toolkit) : undefined,
    };
    if (flags.json) printJson(plan);
    else process.stdout.write(`${formatPlan(pairs, flags.downloads ? downloadPlan(options.toolkit) : [])}\n`);
    return EXIT.ok;
  }

  let report: MirrorReport | undefined;
  if (pairs.length || unpaired.length) {
    report = await checkMirrors(
      { pairs, unpaired, platforms, insecure: options.mirror.insecure, auth, concurrency: options.run.concurrency * 2 },
      ctx,
    );
  }
  const downloads = flags.downloads ? await checkDownloads(options.toolkit, ctx) : undefined;
  const rows = report ? mirrorRows(report) : [];
  const checks: Check[] = [...rows.flatMap((r) => r.checks), ...(downloads?.checks ?? [])];
  const status = worst(checks.map((c) => c.status));
  const failed = status === 'fail' || (status === 'warn' && options.run.failOn === 'warning');

  if (flags.json) {
    printJson({
      configuration: options,
      ...(report ? { report, rows } : {}),
      ...(downloads ? { downloads } : {}),
      result: failed ? 'failure' : 'success',
    });
  } else {
    process.stdout.write(`${formatText(report, rows, downloads)}\n`);
  }
  return failed ? EXIT.failed : EXIT.ok;
}

/** Whether the config file (not a default) sets a key, so that `run.images`/`run.platforms` count as asked for. */
function configSets(flags: MirrorFlags, path: string): boolean {
  if (typeof flags.config !== 'string') return false;
  const v = fileLayer(flags.config, '--config').values.get(path);
  return Array.isArray(v) && v.length > 0;
}

/** `--username` with `--password`/`--password-stdin`, for every mirror host checked. Never printed. */
async function credentials(flags: MirrorFlags, pairs: ImagePair[]): Promise<AuthOptions> {
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new InputError('--password', 'and --password-stdin exclude each other', 'give one of them');
  }
  let password = flags.password;
  if (flags.passwordStdin) password = (await readStdin()).replace(/\r?\n$/, '');
  if (password) addSecret(password);
  if (!flags.username && password === undefined) return {};
  if (!flags.username) throw new InputError('--password', 'needs --username', 'give --username USER too');
  if (!password) throw new InputError('--username', 'needs a password', 'give --password-stdin (or --password)');
  const out: AuthOptions = {};
  for (const p of pairs) out[p.mirror.host] = { username: flags.username, password };
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function formatPlan(pairs: ImagePair[], downloads: { name: string; url: string }[]): string {
  const lines = pairs.map(
    (p) =>
      `${p.label}: mirror ${p.mirror.ref} (${p.mirror.host} ${p.mirror.repository}) ↔ upstream ${p.upstream.ref} (${p.upstream.host} ${p.upstream.repository})`,
  );
  for (const d of downloads) lines.push(`download ${d.name}: ${d.url}`);
  return lines.join('\n') || 'nothing to check';
}

function formatText(
  report: MirrorReport | undefined,
  rows: MirrorRow[],
  downloads: DownloadReport | undefined,
): string {
  const lines: string[] = [];
  for (const img of report?.images ?? []) {
    lines.push(`${img.label}: ${img.status}  (mirror ${img.mirror.ref} ↔ upstream ${img.upstream.ref})`);
    for (const r of rows.filter((x) => x.image === img.label)) {
      for (const c of r.checks)
        lines.push(
          `  ${c.status.toUpperCase().padEnd(4)} ${c.id.padEnd(22)} ${c.detail}${c.fix ? `\n       fix: ${c.fix}` : ''}`,
        );
    }
  }
  for (const u of report?.unpaired ?? []) lines.push(`${u.service}: WARN ${u.reason}`);
  for (const c of downloads?.checks ?? [])
    lines.push(`${c.status.toUpperCase().padEnd(4)} ${c.id}: ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`);
  return lines.join('\n') || 'nothing checked';
}
