import { type Command, Option } from 'commander';
import { type Options, optionsFromFace } from '../config/index.js';
import { FIELDS, type Field, fieldPath } from '../config/schema.js';
import type { StageContext } from '../core/context.js';
import { describeError } from '../core/errors.js';
import { addSecret, addSecretsFrom, addSecretsFromFile, redact, redactDeep } from '../core/redact.js';
import type { Reporter } from '../core/reporter.js';
import { type DescribedError, Session } from '../core/session.js';

/** Adds the flags of the given config tables (from the one schema) to a command. */
export function addFieldFlags(cmd: Command, tables: string[], except: string[] = []): Command {
  for (const f of FIELDS) {
    if (!f.flag || !tables.includes(f.group ?? f.table) || except.includes(f.flag)) continue;
    if (f.type === 'bool') {
      cmd.addOption(new Option(`--${f.flag}`, f.description));
      cmd.addOption(new Option(`--no-${f.flag}`).hideHelp());
    } else if (f.type === 'list') {
      cmd.addOption(new Option(`--${f.flag} <value>`, `${f.description} (repeatable)`).argParser(collect));
    } else {
      cmd.addOption(new Option(`--${f.flag} <value>`, f.description));
    }
  }
  return cmd;
}

export function addCommonFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'TOML config file (ours, or a Memoh config.toml)')
    .option('--preset <name>', 'preset: cn (mainland-China mirrors)')
    .option('--json', 'print the result as JSON on stdout');
}

function collect(value: string, prev: string[] | undefined): string[] {
  return [
    ...(prev ?? []),
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

/** Flags → the same typed Options the Action builds from its inputs (one resolver, names in flag words). */
export function optionsFromFlags(opts: Record<string, unknown>): Options {
  for (const file of [opts.config, opts.checks]) if (typeof file === 'string') addSecretsFromFile(file);
  const values = new Map<string, unknown>();
  for (const f of FIELDS) {
    const v = f.flag ? opts[camel(f.flag)] : undefined;
    if (v !== undefined) values.set(fieldPath(f), v);
  }
  return optionsFromFace({
    preset: typeof opts.preset === 'string' ? opts.preset : '',
    presetInput: '--preset',
    config: typeof opts.config === 'string' ? opts.config : '',
    configInput: '--config',
    values,
    origin: (f: Field) => `--${f.flag}`,
  });
}

/**
 * The credentials on a command line: URL userinfo in any argument, and the value of any flag named for
 * a password or token. Registered before commander parses, so that even its usage errors are masked.
 */
export function secretsFromArgs(argv: string[]): void {
  addSecretsFrom(argv);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]*(?:password|token|secret)[a-z-]*)(?:=(.*))?$/s.exec(argv[i]!);
    if (!m || m[1]!.endsWith('-stdin')) continue;
    const value = m[2] ?? argv[i + 1];
    if (value !== undefined) addSecret(value);
  }
}

export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** A terminal reporter: messages on stderr, so stdout stays clean for --json. */
export function terminalReporter(quiet = false): Reporter {
  const tty = process.stderr.isTTY;
  const out = (s: string) => {
    if (!quiet) process.stderr.write(`${redact(s)}\n`);
  };
  return {
    info: out,
    warn: (m) => out(`warning: ${m}`),
    debug: (m) => {
      if (process.env.MEMOH_DEBUG) out(`debug: ${m}`);
    },
    progress: (key, m) => {
      if (quiet) return;
      if (tty) process.stderr.write(redact(`\r\x1b[K${key}: ${m}`));
      else out(`${key}: ${m}`);
    },
    group: async (name, fn) => {
      out(`── ${name}`);
      return fn();
    },
  };
}

/**
 * Runs a command body in a session (ledger drained on every way out: normal end, error, SIGINT,
 * SIGTERM) and exits: InputError → 2, any other error → 1, a signal → 128 + its number.
 */
export async function runCommand(
  opts: { json?: boolean; keep?: boolean },
  body: (ctx: StageContext) => Promise<number>,
): Promise<never> {
  const reporter = terminalReporter(false);
  // Loaded here, not at the top: commands that never touch the engine start without dockerode.
  const { docker } = await import('../core/docker.js');
  const session = new Session({
    reporter,
    docker,
    signalWarning: (sig) => `${sig} received: stopping and cleaning up`,
    abortReason: (sig) => `interrupted by ${sig}`,
  });
  const code = await session.run(body, printError);
  await session.close(opts.keep);
  process.exit(session.exitCode(code));
}

/** For an error outside any session (commander's parsing): prints it and returns its exit code. */
export function reportError(err: unknown): number {
  const described = describeError(err);
  printError(described, err);
  return described.code;
}

function printError({ message, fix }: DescribedError, err: unknown): void {
  process.stderr.write(`error: ${message}${fix ? `\nfix: ${fix}` : ''}\n`);
  if (process.env.MEMOH_DEBUG && err instanceof Error) process.stderr.write(`${redact(err.stack ?? '')}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(redactDeep(value), null, 2)}\n`);
}
