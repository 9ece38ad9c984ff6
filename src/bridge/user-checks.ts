import { readFileSync } from 'node:fs';
import TOML from '@iarna/toml';
import { errorCode, errorMessage, InputError } from '../core/errors.js';
import { type CommandCheck, type FileCheck, OCTAL_MODE } from './runner.js';

/**
 * The user's `--checks FILE`: command and file checks in the spirit of container-structure-test, run
 * through the bridge. Each becomes a CheckSpec for the same runner as the built-in suite; ids are
 * `user.<name>`.
 *
 *   [[command]]
 *   name = "node-works"            # required, unique: letters, digits, . _ -
 *   command = "node --version"     # run as /bin/sh -c, like every bridge Exec
 *   stdout = "^v24\\."             # regex or list of regexes, each must match the whole output text
 *   stderr = []                    # same, for stderr
 *   not_stdout = ["error"]         # none may match (not_stderr likewise)
 *   exit_code = 0                  # default 0
 *   env = { FOO = "bar" }          # added to the bridge's environment
 *   work_dir = "/data"             # default: the bridge's (/data)
 *   stdin = "text"                 # sent after the configuration, then stdin is closed
 *   timeout = 30                   # seconds, 1..3600 (the Exec's timeout_seconds)
 *
 *   [[file]]
 *   name = "toolkit-node"
 *   path = "/opt/memoh/toolkit/bin/node"
 *   exists = true                  # default true; false: the path must not exist
 *   is_dir = false
 *   mode = "-rwxr-xr-x"            # as the bridge reports it (Go style), or octal bits "0755"
 *   contents = "^#!/bin/sh"        # regex or list; file read with ReadRaw (at most 4 MiB)
 */
export interface UserChecks {
  file: string;
  checks: (CommandCheck | FileCheck)[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COMMAND_KEYS = [
  'name',
  'command',
  'stdout',
  'stderr',
  'not_stdout',
  'not_stderr',
  'exit_code',
  'env',
  'work_dir',
  'stdin',
  'timeout',
];
const FILE_KEYS = ['name', 'path', 'exists', 'is_dir', 'mode', 'contents'];

/** Reads and loads the checks file at `path`; `input` names the setting it came from (`--checks`, `input checks`). */
export function readUserChecks(path: string, input: string): UserChecks {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = errorCode(err);
    throw new InputError(input, `cannot read ${path} (${code})`, 'give the path of a TOML checks file');
  }
  return loadUserChecks(path, text);
}

/** Parses and validates a checks file; any problem is an InputError naming the file and the key. */
export function loadUserChecks(file: string, input: string): UserChecks {
  let doc: Record<string, unknown>;
  try {
    doc = TOML.parse(input) as Record<string, unknown>;
  } catch (err) {
    const e = err as { line?: number; col?: number; message?: string };
    const where = e.line !== undefined ? ` at line ${e.line + 1}, column ${(e.col ?? 0) + 1}` : '';
    throw new InputError(file, `not valid TOML${where}: ${(e.message ?? '').split('\n')[0]}`, 'fix the TOML syntax');
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'command' && key !== 'file') {
      throw new InputError(`${file} ${key}`, 'unknown key', 'use [[command]] and [[file]] tables only');
    }
  }
  const checks: (CommandCheck | FileCheck)[] = [];
  const seen = new Set<string>();
  const reader = (kind: 'command' | 'file', i: number, table: unknown): Reader => {
    const where = `${file} ${kind}[${i + 1}]`;
    if (!isTable(table)) throw new InputError(where, 'is not a table', `write it as [[${kind}]]`);
    const r = new Reader(where, table);
    r.only(kind === 'command' ? COMMAND_KEYS : FILE_KEYS);
    const name = r.string('name', true);
    if (!NAME.test(name))
      throw new InputError(
        `${where}.name`,
        `${JSON.stringify(name)} is not a valid name`,
        'use letters, digits, ".", "_" and "-", starting with a letter or digit',
      );
    if (seen.has(name))
      throw new InputError(`${where}.name`, `${JSON.stringify(name)} is used twice`, 'give every check its own name');
    seen.add(name);
    return r;
  };
  for (const [i, table] of list(doc.command, `${file} command`).entries())
    checks.push(commandCheck(reader('command', i, table)));
  for (const [i, table] of list(doc.file, `${file} file`).entries()) checks.push(fileCheck(reader('file', i, table)));
  return { file, checks };
}

/** One [[command]] table, its name already checked. */
function commandCheck(r: Reader): CommandCheck {
  const env = r.table('env');
  const check: CommandCheck = {
    kind: 'command',
    id: `user.${r.string('name', true)}`,
    command: r.string('command', true),
    stdout: r.patterns('stdout'),
    stderr: r.patterns('stderr'),
    notStdout: r.patterns('not_stdout'),
    notStderr: r.patterns('not_stderr'),
    exitCode: r.int('exit_code', -1, 255) ?? 0,
    env: env && Object.entries(env).map(([k, v]) => `${k}=${v}`),
    workDir: r.string('work_dir'),
    stdin: r.string('stdin'),
    timeoutSeconds: r.int('timeout', 1, 3600),
  };
  check.timeoutMs = ((check.timeoutSeconds ?? 30) + 10) * 1000;
  return check;
}

/** One [[file]] table, its name already checked: an absolute path, a mode as the bridge shows it or octal. */
function fileCheck(r: Reader): FileCheck {
  const exists = r.bool('exists') ?? true;
  const spec: FileCheck = {
    kind: 'file',
    id: `user.${r.string('name', true)}`,
    path: r.string('path', true),
    exists,
    isDir: r.bool('is_dir'),
    mode: r.string('mode'),
    contents: r.patterns('contents'),
  };
  if (!spec.path.startsWith('/'))
    throw new InputError(
      `${r.where}.path`,
      `${JSON.stringify(spec.path)} is not absolute`,
      'give the path inside the container from /',
    );
  if (
    spec.mode !== undefined &&
    !OCTAL_MODE.test(spec.mode) &&
    !/^[dalTLDpSugct?-]*[r-][w-][x-][r-][w-][x-][r-][w-][x-]$/.test(spec.mode)
  ) {
    throw new InputError(
      `${r.where}.mode`,
      `${JSON.stringify(spec.mode)} is not a mode`,
      'write it as the bridge shows it ("-rw-r--r--", "drwxr-x---") or as octal bits ("0644")',
    );
  }
  if (!exists && (spec.isDir !== undefined || spec.mode !== undefined || spec.contents !== undefined)) {
    throw new InputError(
      r.where,
      'exists = false cannot be combined with is_dir, mode or contents',
      'drop those keys or set exists = true',
    );
  }
  return spec;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v))
    throw new InputError(where, 'must be an array of tables', 'write each check as its own [[...]] table');
  return v;
}

/** Typed access to one check table; every error names the file, the check and the key. */
class Reader {
  constructor(
    readonly where: string,
    private readonly t: Record<string, unknown>,
  ) {}

  only(keys: readonly string[]): void {
    for (const k of Object.keys(this.t)) {
      if (!keys.includes(k))
        throw new InputError(`${this.where}.${k}`, 'unknown key', `use one of: ${keys.join(', ')}`);
    }
  }

  private bad(key: string, problem: string, fix: string): never {
    throw new InputError(`${this.where}.${key}`, problem, fix);
  }

  string(key: string, required: true): string;
  string(key: string, required?: false): string | undefined;
  string(key: string, required = false): string | undefined {
    const v = this.t[key];
    if (v === undefined) return required ? this.bad(key, 'is missing', `add ${key} = "..."`) : undefined;
    if (typeof v !== 'string') this.bad(key, `must be a string, not ${typeof v}`, `quote it: ${key} = "..."`);
    if (required && v === '') this.bad(key, 'is empty', `give ${key} a value`);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.t[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean')
      this.bad(key, `must be true or false, not ${JSON.stringify(v)}`, `write ${key} = true or ${key} = false`);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.t[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.bad(
        key,
        `must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`,
        `write e.g. ${key} = ${Math.max(min, 0)}`,
      );
    }
    return v;
  }

  table(key: string): Record<string, string> | undefined {
    const v = this.t[key];
    if (v === undefined) return undefined;
    if (!isTable(v)) this.bad(key, 'must be a table of strings', `write ${key} = { NAME = "value" }`);
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') this.bad(`${key}.${k}`, 'must be a string', `quote it: ${k} = "..."`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        this.bad(`${key}.${k}`, 'is not a variable name', 'use letters, digits and _');
    }
    return v as Record<string, string>;
  }

  patterns(key: string): RegExp[] | undefined {
    const v = this.t[key];
    if (v === undefined) return undefined;
    const items = Array.isArray(v) ? v : [v];
    return items.map((p, i) => {
      const at = Array.isArray(v) ? `${key}[${i}]` : key;
      if (typeof p !== 'string') this.bad(at, 'must be a regular expression in a string', `write ${key} = "^expected"`);
      try {
        return new RegExp(p);
      } catch (err) {
        return this.bad(
          at,
          `${JSON.stringify(p)} is not a valid regular expression (${errorMessage(err)})`,
          "fix the pattern (JavaScript syntax; escape backslashes in basic strings or use 'literal' strings)",
        );
      }
    });
  }
}
