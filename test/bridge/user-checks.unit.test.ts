import { describe, expect, it } from 'vitest';
import { loadUserChecks } from '../../src/bridge/index.js';
import { InputError } from '../../src/core/errors.js';

function error(toml: string): InputError {
  try {
    loadUserChecks('my-checks.toml', toml);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('user checks file', () => {
  it('turns tables into command and file checks with user.<name> ids', () => {
    const { checks } = loadUserChecks(
      'c.toml',
      `
[[command]]
name = "node"
command = "node --version"
stdout = ['^v24\\.']
env = { A = "1", B = "x=y" }
timeout = 5

[[file]]
name = "wrapper"
path = "/opt/memoh/toolkit/bin/node"
mode = "0755"
`,
    );
    expect(checks).toHaveLength(2);
    const [cmd, file] = checks;
    expect(cmd).toMatchObject({
      kind: 'command',
      id: 'user.node',
      command: 'node --version',
      env: ['A=1', 'B=x=y'],
      exitCode: 0,
      timeoutSeconds: 5,
      timeoutMs: 15_000,
    });
    expect(cmd?.kind === 'command' && cmd.stdout?.[0]?.test('v24.14.0\n')).toBe(true);
    expect(file).toMatchObject({
      kind: 'file',
      id: 'user.wrapper',
      path: '/opt/memoh/toolkit/bin/node',
      exists: true,
      mode: '0755',
    });
  });

  it('an empty file is no checks', () => {
    expect(loadUserChecks('c.toml', '').checks).toEqual([]);
  });

  it.each([
    ['bad TOML', '[[command]\nname = 1', /^my-checks\.toml: not valid TOML at line 1/],
    ['unknown top-level key', 'commands = []', /^my-checks\.toml commands: unknown key/],
    ['a table instead of an array', '[command]\nname = "x"', /^my-checks\.toml command: must be an array of tables/],
    ['missing name', '[[command]]\ncommand = "true"', /^my-checks\.toml command\[1\]\.name: is missing/],
    [
      'bad name',
      '[[command]]\nname = "has space"\ncommand = "true"',
      /^my-checks\.toml command\[1\]\.name: "has space" is not a valid name/,
    ],
    [
      'duplicate name',
      '[[command]]\nname = "a"\ncommand = "true"\n[[file]]\nname = "a"\npath = "/x"',
      /^my-checks\.toml file\[1\]\.name: "a" is used twice/,
    ],
    ['missing command', '[[command]]\nname = "a"', /^my-checks\.toml command\[1\]\.command: is missing/],
    [
      'typo in a key',
      '[[command]]\nname = "a"\ncommand = "true"\nstdot = "x"',
      /^my-checks\.toml command\[1\]\.stdot: unknown key\. Fix: use one of: name, command, stdout/,
    ],
    [
      'bad regex',
      '[[command]]\nname = "a"\ncommand = "true"\nstdout = "("',
      /^my-checks\.toml command\[1\]\.stdout: "\(" is not a valid regular expression/,
    ],
    [
      'bad regex in a list',
      '[[command]]\nname = "a"\ncommand = "true"\nstderr = ["ok", "["]',
      /^my-checks\.toml command\[1\]\.stderr\[1\]: "\[" is not a valid regular expression/,
    ],
    [
      'exit code out of range',
      '[[command]]\nname = "a"\ncommand = "true"\nexit_code = 300',
      /^my-checks\.toml command\[1\]\.exit_code: must be a whole number from -1 to 255/,
    ],
    [
      'timeout not a number',
      '[[command]]\nname = "a"\ncommand = "true"\ntimeout = "5"',
      /^my-checks\.toml command\[1\]\.timeout: must be a whole number from 1 to 3600/,
    ],
    [
      'env not a table',
      '[[command]]\nname = "a"\ncommand = "true"\nenv = ["A=1"]',
      /^my-checks\.toml command\[1\]\.env: must be a table of strings/,
    ],
    [
      'env value not a string',
      '[[command]]\nname = "a"\ncommand = "true"\nenv = { A = 1 }',
      /^my-checks\.toml command\[1\]\.env\.A: must be a string/,
    ],
    [
      'relative file path',
      '[[file]]\nname = "a"\npath = "etc/passwd"',
      /^my-checks\.toml file\[1\]\.path: "etc\/passwd" is not absolute/,
    ],
    [
      'bad mode',
      '[[file]]\nname = "a"\npath = "/x"\nmode = "rwx"',
      /^my-checks\.toml file\[1\]\.mode: "rwx" is not a mode/,
    ],
    [
      'exists = false with contents',
      '[[file]]\nname = "a"\npath = "/x"\nexists = false\ncontents = "x"',
      /^my-checks\.toml file\[1\]: exists = false cannot be combined/,
    ],
    [
      'exists not a bool',
      '[[file]]\nname = "a"\npath = "/x"\nexists = "no"',
      /^my-checks\.toml file\[1\]\.exists: must be true or false/,
    ],
  ])('%s → InputError naming the file and key', (_what, toml, message) => {
    expect(error(toml).message).toMatch(message);
  });
});
