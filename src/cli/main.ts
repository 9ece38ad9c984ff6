import { Command, CommanderError } from 'commander';
import { EXIT } from '../core/errors.js';
import { guardStream } from '../core/redact.js';
import { reportError, secretsFromArgs } from './common.js';

// Before anything can print: every line this process writes is redacted, whoever writes it.
secretsFromArgs(process.argv.slice(2));
guardStream(process.stdout);
guardStream(process.stderr);

/**
 * Commands are loaded only when asked for: the engine, gRPC and registry clients stay out of a
 * `--version` or a `plan`, which start in a fraction of the time.
 */
const COMMANDS: { name: string; description: string; load: () => Promise<{ register(p: Command): void }> }[] = [
  {
    name: 'run',
    description:
      'the whole pipeline: toolkit → validate → mirror (with a registry) → smoke, for every image × platform',
    load: () => import('./commands/run.js'),
  },
  {
    name: 'toolkit',
    description:
      "build Memoh's toolkit (Node.js glibc + musl, pinned npm, uv, wrappers) for one architecture, from mirrors, verified",
    load: () => import('./commands/toolkit.js'),
  },
  {
    name: 'validate',
    description: 'check that base images can host a Memoh workspace, without running them',
    load: () => import('./commands/validate.js'),
  },
  {
    name: 'smoke',
    description:
      "start a workspace container for each image as Memoh's era and backend do and run that era's bridge smoke suite over its socket (or TCP)",
    load: () => import('./commands/smoke.js'),
  },
  {
    name: 'mirror',
    description:
      'check that a registry mirror serves exactly what upstream serves (per image and platform), and that download mirrors serve the toolkit',
    load: () => import('./commands/mirror.js'),
  },
  {
    name: 'plan',
    description: 'print the image × platform matrix as JSON, for strategy.matrix fan-out',
    load: () => import('./commands/plan.js'),
  },
  {
    name: 'doctor',
    description: 'check the Docker engine, emulation and disk this machine offers',
    load: () => import('./commands/doctor.js'),
  },
];

const program = new Command('memoh-workspace')
  .description('Prove a Memoh workspace image works: toolkit, image validation, bridge smoke tests, mirror checks')
  .version(__VERSION__, '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

// The command named on the command line (or after `help`) is loaded; the others are listed only.
const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const wanted = args[0] === 'help' ? args[1] : args[0];
for (const c of COMMANDS) {
  if (c.name === wanted) (await c.load()).register(program);
  else program.command(c.name);
  program.commands.at(-1)!.description(c.description);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors were already printed by commander.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  process.exit(reportError(err));
}
