import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/core/check.js';
import { checkLines, failing, resultOf } from '../../src/report/index.js';

/**
 * The one check-list printer, in every layout a command uses. The expected lines are the outputs the
 * commands printed before they shared it (validate, smoke, toolkit, mirror, downloads, the run's problem
 * list), character for character: users and scripts read them.
 */
const checks: Check[] = [
  { id: 'image.shell', status: 'pass', detail: '/bin/sh → /usr/bin/dash' },
  { id: 'image.user', status: 'warn', detail: 'runs as nobody', fix: 'run as root' },
  { id: 'image.libc', status: 'fail', detail: 'no libc', fix: 'use glibc or musl' },
  { id: 'image.toolkit', status: 'skip', detail: 'no --toolkit given', fix: 'not shown in a table' },
];

describe('checkLines', () => {
  it('table (validate: ids 26 wide): two spaces apart, the fix under the detail for warnings and failures only', () => {
    expect(checkLines(checks, { style: 'table', indent: '  ', width: 26 })).toEqual([
      `  pass  ${'image.shell'.padEnd(26)}  /bin/sh → /usr/bin/dash`,
      `  WARN  ${'image.user'.padEnd(26)}  runs as nobody`,
      `${' '.repeat(36)}fix: run as root`,
      `  FAIL  ${'image.libc'.padEnd(26)}  no libc`,
      `${' '.repeat(36)}fix: use glibc or musl`,
      `  skip  ${'image.toolkit'.padEnd(26)}  no --toolkit given`,
    ]);
  });

  it('table with auto width (smoke): the longest id sets the column', () => {
    expect(checkLines(checks.slice(1, 3), { style: 'table', indent: '  ', width: 'auto' })).toEqual([
      '  WARN  image.user  runs as nobody',
      `${' '.repeat(20)}fix: run as root`,
      '  FAIL  image.libc  no libc',
      `${' '.repeat(20)}fix: use glibc or musl`,
    ]);
    expect(checkLines([], { style: 'table', width: 'auto' })).toEqual([]);
  });

  it('compact (mirror): upper-case, one space apart, any fix under the id', () => {
    expect(checkLines(checks.slice(0, 2), { style: 'compact', indent: '  ', width: 22 })).toEqual([
      `  PASS ${'image.shell'.padEnd(22)} /bin/sh → /usr/bin/dash`,
      `  WARN ${'image.user'.padEnd(22)} runs as nobody`,
      '       fix: run as root',
    ]);
  });

  it('compact with a colon (downloads), and with the fix inline (the run’s problem list)', () => {
    expect(checkLines(checks.slice(2, 4), { style: 'compact', colon: true })).toEqual([
      'FAIL image.libc: no libc',
      '     fix: use glibc or musl',
      'SKIP image.toolkit: no --toolkit given',
      '     fix: not shown in a table',
    ]);
    expect(checkLines(checks.slice(1, 3), { style: 'compact', colon: true, inlineFix: true })).toEqual([
      'WARN image.user: runs as nobody (fix: run as root)',
      'FAIL image.libc: no libc (fix: use glibc or musl)',
    ]);
  });
});

describe('the fail-on rule', () => {
  it.each([
    ['pass', 'error', false],
    ['skip', 'warning', false],
    ['warn', 'error', false],
    ['warn', 'warning', true],
    ['fail', 'error', true],
    ['fail', 'warning', true],
  ] as const)('%s with fail-on %s fails: %s', (status, failOn, fails) => {
    expect(failing(status, failOn)).toBe(fails);
    expect(resultOf(status, failOn)).toBe(fails ? 'failure' : 'success');
  });
});
