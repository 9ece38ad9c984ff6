import { createHash, randomBytes } from 'node:crypto';
import { expect, expectAbsent, expectEqual, expectOneOf, expectStatus, outcomeOf } from './assert.js';
import type { EraRules } from './eras.js';
import type { CheckSpec, CheckTools, CustomCheck, Outcome } from './runner.js';
import { show } from './runner.js';

/** The file RPCs (contract §3.1–3.10, §5 items 3–28). Every check works in its own subdirectory of t.work. */

export const custom = (
  id: string,
  run: (t: CheckTools) => Promise<Outcome>,
  extra: Partial<CustomCheck> = {},
): CustomCheck => ({
  kind: 'custom',
  id,
  run,
  ...extra,
});
export const pass = (detail: string): Outcome => ({ status: 'pass', detail });

/** The same place as a path relative to /data: relative paths must resolve onto /data (contract §3.0). */
export const rel = (t: CheckTools, sub: string): string => `${t.work.replace(/^\/data\//, '')}/${sub}`;
export const abs = (t: CheckTools, sub: string): string => `${t.work}/${sub}`;

const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/;
const MiB = 1024 * 1024;

interface Line {
  n?: number;
  text: string;
}

/** ReadFile content split into lines; the `%6d\t` prefix is parsed when present (later bridges drop it). */
function lines(content: string): Line[] {
  if (content === '') return [];
  const parts = content.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.map((p) => {
    const m = /^ *(\d+)\t(.*)$/s.exec(p);
    return m ? { n: Number(m[1]), text: m[2] ?? '' } : { text: p };
  });
}

const texts = (ls: Line[]): string => JSON.stringify(ls.map((l) => l.text));
/** Of one buffer, or of several taken in order as one (what a stream of chunks adds up to, never joined). */
const sha256 = (b: Buffer | readonly Buffer[]): string => {
  const h = createHash('sha256');
  for (const c of Buffer.isBuffer(b) ? [b] : b) h.update(c);
  return h.digest('hex');
};
const names = (entries: { path: string }[]): string[] => entries.map((e) => e.path);
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** What the file checks expect of this bridge, decided once from the era's rules. */
interface FileSuite {
  rules: EraRules;
  /** ReadFile numbers its lines (`%6d\t`): one value, or both when nothing dates the change. */
  numbered: boolean[];
  limits: { lines: number; budget: number; cut: number }[];
  maxLines: number;
}

export function fileChecks(rules: EraRules): CheckSpec[] {
  const numbered = rules.pick('readfileRaw', true, false);
  const limits = rules.pick(
    'readfileLimits',
    { lines: 200, budget: 5120, cut: 1000 },
    { lines: 2000, budget: 0, cut: 0 },
  );
  const maxLines = Math.max(...limits.map((l) => l.lines));
  const s: FileSuite = { rules, numbered, limits, maxLines };
  return FILE_CHECKS.flatMap((build) => build(s));
}

/** The checks in the order the suite runs them, each built from what the suite knows of the bridge. */
const FILE_CHECKS: readonly ((s: FileSuite) => CheckSpec | CheckSpec[])[] = [
  statRootCheck,
  statErrorsCheck,
  writefileModeCheck,
  readfileFormatCheck,
  readfileBinaryCheck,
  readfileLineCapCheck,
  readfileByteBudgetCheck,
  readfileLongLineCheck,
  readfileOffsetCheck,
  readfileCrlfCheck,
  readfileErrorsCheck,
  readfileInvalidUtf8Check,
  listdirSortedCheck,
  listdirRecursiveCheck,
  listdirErrorsCheck,
  listdirSymlinkCheck,
  mkdirPCheck,
  renameParentsCheck,
  renameReplaceCheck,
  deleteRecursiveCheck,
  writerawNoPathCheck,
  readrawChunksCheck,
  writerawCountCheck,
  rawRoundtripCheck,
  writerawEmptyCheck,
  writerawModeCheck,
  readrawErrorsCheck,
  writefileTooLargeCheck,
];

function statRootCheck(): CheckSpec {
  return custom('stat.root', async ({ client }) => {
    const e = await client.stat('/');
    expectEqual(e.path, '/', 'Stat("/") entry.path');
    expect(e.isDir, 'Stat("/"): is_dir is false');
    expect(e.mode.startsWith('d'), `Stat("/"): mode ${e.mode} does not start with d`);
    expect(
      RFC3339_SECONDS.test(e.modTime),
      `Stat("/"): mod_time ${show(e.modTime)} is not RFC 3339 with whole seconds`,
    );
    const dot = await client.stat('.');
    expectEqual(dot.path, 'data', 'Stat(".") entry.path (relative paths resolve onto /data)');
    return pass(`/ is ${e.mode}, mod_time ${e.modTime}; "." is /data`);
  });
}

function statErrorsCheck(): CheckSpec {
  return custom('stat.errors', async ({ client }) => {
    await expectStatus(client.stat(''), 'INVALID_ARGUMENT', 'Stat("")');
    await expectStatus(client.stat('/no/such/smoke-path'), 'NOT_FOUND', 'Stat of a missing path', {
      message: 'not found',
    });
    await expectStatus(client.stat('/etc/passwd/x'), 'INTERNAL', 'Stat("/etc/passwd/x") (through a file)');
    return pass('"" → INVALID_ARGUMENT, missing → NOT_FOUND "not found", through a file → INTERNAL');
  });
}

function writefileModeCheck(): CheckSpec {
  return custom('writefile.mode', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'writefile/a/b.txt'), 'hello\n');
    const e = await client.stat(abs(t, 'writefile/a/b.txt'));
    expectEqual(e.size, 6, 'size after WriteFile("hello\\n")');
    expect(!e.isDir, 'the written file is a directory');
    expectEqual(
      e.mode,
      '-rw-------',
      'mode of a file WriteFile created',
      'WriteFile creates files 0600 (contract §3.3)',
    );
    const parent = await client.stat(abs(t, 'writefile/a'));
    expectEqual(parent.mode, 'drwxr-x---', 'mode of the parent WriteFile created (mkdir -p 0750)');
    await client.writeFile(rel(t, 'writefile/a/b.txt'), 'x');
    const again = await client.stat(abs(t, 'writefile/a/b.txt'));
    expectEqual(again.size, 1, 'size after a second, shorter WriteFile (truncates)');
    return pass('new file -rw------- (6 bytes), parents drwxr-x---, rewrite truncates');
  });
}

function readfileFormatCheck({ rules, numbered }: FileSuite): CheckSpec {
  return custom('readfile.format', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'readfile/hello.txt'), 'hello\n');
    await client.writeFile(rel(t, 'readfile/empty.txt'), '');
    await client.writeFile(rel(t, 'readfile/newline.txt'), '\n');
    const r = await client.readFile(rel(t, 'readfile/hello.txt'));
    const line = (text: string): string[] => numbered.map((n) => (n ? `     1\t${text}\n` : `${text}\n`));
    expectOneOf(
      r.content,
      line('hello'),
      'ReadFile content',
      'v3 bridges number lines as %6d\\t; later ones (7d7d0e4b5, v0.6.0) return raw lines',
    );
    expectEqual(r.totalLines, 1, 'total_lines');
    expectEqual(r.binary, false, 'binary');
    const empty = await client.readFile(rel(t, 'readfile/empty.txt'));
    expect(
      empty.content === '' && empty.totalLines === 0,
      `empty file: content ${show(empty.content)}, total_lines ${empty.totalLines}; expected "" and 0`,
    );
    const nl = await client.readFile(rel(t, 'readfile/newline.txt'));
    expect(
      line('').includes(nl.content) && nl.totalLines === 1,
      `file "\\n": content ${show(nl.content)}, total_lines ${nl.totalLines}; expected ${line('')
        .map((l) => show(l))
        .join(' or ')} and 1`,
    );
    return pass(
      `${show(r.content)}, total_lines 1; empty file 0 lines; "\\n" is 1 empty line${rules.note('readfileRaw')}`,
    );
  });
}

function readfileBinaryCheck(): CheckSpec {
  return custom('readfile.binary', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'binary/nul.bin'), Buffer.from('abc\0def\n'));
    const r = await client.readFile(rel(t, 'binary/nul.bin'));
    expect(
      r.binary && r.content === '' && r.totalLines === 0,
      `NUL in the first 8 KiB: binary=${r.binary}, content ${show(r.content)}, total_lines ${r.totalLines}; expected true, "", 0`,
    );
    await client.writeFile(
      rel(t, 'binary/late-nul.txt'),
      Buffer.concat([Buffer.alloc(8192, 'a'), Buffer.from('\0\n')]),
    );
    const late = await client.readFile(rel(t, 'binary/late-nul.txt'));
    expect(
      !late.binary && late.totalLines === 1,
      `NUL after the first 8192 bytes: binary=${late.binary}, total_lines ${late.totalLines}; expected false, 1 (only 8 KiB are probed)`,
    );
    return pass('NUL in the first 8 KiB → binary, empty; a NUL after 8192 bytes is not looked at');
  });
}

function readfileLineCapCheck({ rules, limits, maxLines }: FileSuite): CheckSpec {
  return custom('readfile.line-cap', async (t) => {
    const { client } = t;
    // A file longer than the cap: n_lines below 1 or above the cap means the cap (200 for v3, 2000 later).
    const total = maxLines + 100;
    const file = rel(t, `linecap/${total}.txt`);
    await client.writeFile(file, 'x\n'.repeat(total));
    const seen: string[] = [];
    for (const nLines of [0, 1000, 5]) {
      const r = await client.readFile(file, { nLines });
      const ls = lines(r.content);
      const want = limits.map(({ lines: cap }) => Math.min(total, nLines < 1 || nLines > cap ? cap : nLines));
      expectOneOf(
        ls.length,
        want,
        `lines returned with n_lines=${nLines} from a ${total}-line file`,
        'ReadFile caps n_lines at 200 (v3) or 2000 (≥v0.7.0)',
      );
      expectEqual(r.totalLines, total, 'total_lines');
      const last = ls[ls.length - 1];
      if (last?.n !== undefined) expectEqual(last.n, ls.length, 'number of the last line returned');
      seen.push(`n_lines ${nLines} → ${ls.length}`);
    }
    return pass(`${seen.join(', ')} of ${total}${rules.note('readfileLimits')}`);
  });
}

function readfileByteBudgetCheck({ rules, limits }: FileSuite): CheckSpec {
  return custom('readfile.byte-budget', async (t) => {
    const { client } = t;
    const line = 'x'.repeat(100);
    await client.writeFile(rel(t, 'budget/100x100.txt'), `${line}\n`.repeat(100));
    const r = await client.readFile(rel(t, 'budget/100x100.txt'));
    const ls = lines(r.content);
    const bytes = Buffer.byteLength(r.content);
    expectEqual(r.totalLines, 100, 'total_lines');
    expect(ls.length > 0, 'no lines returned');
    expect(
      ls.every((l) => l.text === line),
      'a returned line is not a complete 100-character line (no partial lines allowed)',
    );
    // Whatever the line format, the budget keeps every whole line that fits in 5120 bytes and no more;
    // without a budget (≥v0.7.0) all 100 lines come back.
    const perLine = bytes / ls.length;
    const want = limits.map(({ budget }) => (budget ? Math.min(100, Math.floor(budget / perLine)) : 100));
    if (!want.includes(100))
      expect(
        bytes <= 5120,
        `content is ${bytes} bytes (${ls.length} lines), over the 5120-byte budget`,
        'v3 bridges cap ReadFile content at 5120 bytes (contract §3.2)',
      );
    expectOneOf(ls.length, want, `lines returned (${perLine} bytes each)`, 'v3: 5120-byte budget; ≥v0.7.0: no budget');
    return pass(`${ls.length} of 100 lines (${bytes} bytes), total_lines 100${rules.note('readfileLimits')}`);
  });
}

function readfileLongLineCheck({ rules, limits }: FileSuite): CheckSpec {
  return custom('readfile.long-line', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'longline/long.txt'), `${'a'.repeat(1500)}\n${'é'.repeat(1500)}\n`);
    const r = await client.readFile(rel(t, 'longline/long.txt'));
    const ls = lines(r.content);
    expectEqual(ls.length, 2, 'lines returned');
    const [a, e] = ls;
    const cut = (c: string): string[] => limits.map(({ cut: n }) => (n ? `${c.repeat(n)}...` : c.repeat(1500)));
    expect(
      cut('a').includes(a?.text ?? ''),
      `a line of 1500 "a": returned ${a?.text.length} characters ${show(a?.text.slice(-10) ?? '')} at the end; expected ${limits.map((l) => (l.cut ? '1000 "a" then "..."' : 'all 1500')).join(' or ')}`,
      'v3: lines over 1000 code points are cut to 1000 plus "..."; ≥v0.7.0: no cut',
    );
    expect(
      cut('é').includes(e?.text ?? ''),
      `a line of 1500 "é": returned ${e ? [...e.text].length : 0} code points; expected ${limits.map((l) => (l.cut ? '1000 "é" then "..." (code points, not bytes)' : 'all 1500')).join(' or ')}`,
    );
    const how = (a?.text.length ?? 0) > 1500 || a?.text.endsWith('...') ? '1000 code points + "..."' : 'whole';
    // A line of 1 MiB or more ends the scan: the lines before it come back; v0.18 counts it in total_lines.
    await client.writeFile(rel(t, 'longline/huge.txt'), `before\n${'h'.repeat(MiB + 10)}\nafter\n`, {
      deadlineMs: 30_000,
    });
    const huge = await client.readFile(rel(t, 'longline/huge.txt'));
    expectEqual(texts(lines(huge.content)), '["before"]', 'lines returned before a line of 1 MiB');
    expectOneOf(
      huge.totalLines,
      rules.pick('hugeLineCounted', 1, 2),
      'total_lines of "before", a 1 MiB line, "after"',
      'the scan stops at the 1 MiB line; v0.18 counts that line too',
    );
    return pass(
      `1500 "a" and 1500 "é" → ${how}; a 1 MiB line ends the output (total_lines ${huge.totalLines})${rules.note('readfileLimits')}`,
    );
  });
}

function readfileOffsetCheck(): CheckSpec {
  return custom('readfile.offset', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'offset/5.txt'), 'line1\nline2\nline3\nline4\nline5\n');
    const r = await client.readFile(rel(t, 'offset/5.txt'), { lineOffset: 3, nLines: 2 });
    const ls = lines(r.content);
    expectEqual(texts(ls), '["line3","line4"]', 'line_offset=3, n_lines=2');
    if (ls.every((l) => l.n !== undefined)) expectEqual(ls.map((l) => l.n).join(','), '3,4', 'line numbers');
    expectEqual(r.totalLines, 5, 'total_lines with an offset');
    const past = await client.readFile(rel(t, 'offset/5.txt'), { lineOffset: 99 });
    expect(
      past.content === '' && past.totalLines === 5,
      `line_offset=99: content ${show(past.content)}, total_lines ${past.totalLines}; expected "" and 5`,
    );
    const below = await client.readFile(rel(t, 'offset/5.txt'), { lineOffset: -5, nLines: 1 });
    expectEqual(texts(lines(below.content)), '["line1"]', 'line_offset=-5 (below 1 means 1)');
    return pass('offset 3 n 2 → lines 3–4; offset 99 → empty, total 5; offset -5 → from line 1');
  });
}

function readfileCrlfCheck(): CheckSpec {
  return custom('readfile.crlf', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'crlf/crlf.txt'), 'a\r\nb\r\nc');
    const r = await client.readFile(rel(t, 'crlf/crlf.txt'));
    expect(!r.content.includes('\r'), `content ${show(r.content)} still has \\r`);
    expectEqual(texts(lines(r.content)), '["a","b","c"]', 'lines of "a\\r\\nb\\r\\nc"');
    expect(r.content.endsWith('\n'), 'the last line (no newline in the file) is not returned with \\n');
    expectEqual(r.totalLines, 3, 'total_lines (an unterminated last line counts)');
    return pass('CRLF read back as LF; the unterminated last line counts and ends with \\n');
  });
}

function readfileErrorsCheck(): CheckSpec {
  return custom('readfile.errors', async (t) => {
    const { client } = t;
    await expectStatus(client.readFile(abs(t, 'no-such-file')), 'NOT_FOUND', 'ReadFile of a missing file');
    await expectStatus(client.readFile(''), 'INVALID_ARGUMENT', 'ReadFile("")', { message: 'path is required' });
    const dir = await client.readFile('/tmp');
    expect(
      dir.content === '' && dir.totalLines === 0 && !dir.binary,
      `ReadFile("/tmp"): content ${show(dir.content)}, total_lines ${dir.totalLines}, binary ${dir.binary}; expected OK, empty`,
    );
    return pass('missing → NOT_FOUND, "" → INVALID_ARGUMENT, a directory → OK and empty');
  });
}

function readfileInvalidUtf8Check(): CheckSpec {
  return custom('readfile.invalid-utf8', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'utf8/latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    await expectStatus(client.readFile(rel(t, 'utf8/latin1.txt')), 'INTERNAL', 'ReadFile of Latin-1 text (byte 0xE9)');
    return pass('Latin-1 text → INTERNAL (invalid UTF-8 cannot be sent as a string)');
  });
}

function listdirSortedCheck(): CheckSpec {
  return custom('listdir.sorted', async (t) => {
    const { client } = t;
    const data = names(await client.listDir(''));
    expect(!data.includes('.') && !data.includes('..'), 'ListDir("") lists . or ..');
    expect(
      data.includes(t.work.split('/').pop() ?? ''),
      `ListDir("") does not list ${t.work} (empty path must mean /data)`,
    );
    const want = ['10', '9', 'B', '_', 'a', 'a.b', 'b'];
    for (const n of ['b', 'a', 'B', '_', 'a.b', '10', '9']) await client.writeFile(rel(t, `sorted/${n}`), n);
    const got = names(await client.listDir(abs(t, 'sorted')));
    expectEqual(JSON.stringify(got), JSON.stringify(want), 'ListDir order', 'entries are sorted by name in byte order');
    expect(
      [...data].sort(byteOrder).join('\n') === data.join('\n'),
      `ListDir("") is not sorted: ${show(data.join(' '))}`,
    );
    return pass(`byte order (${want.join(' ')}); "" lists /data (${data.length} entries)`);
  });
}

function listdirRecursiveCheck({ rules }: FileSuite): CheckSpec {
  return custom('listdir.recursive', async (t) => {
    const { client } = t;
    for (const f of ['a/b.txt', 'a/c/d.txt', 'a-b.txt', 'z.txt']) await client.writeFile(rel(t, `tree/${f}`), f);
    const got = (await client.listDir(rel(t, 'tree'), true)).map((e) => `${e.path}${e.isDir ? '/' : ''}`).join(' ');
    // "a-b.txt" sorts between "a" and "a/…" by whole path ('-' < '/'), after a's subtree in a pre-order walk.
    const orders = rules.pick(
      'sortedWalk',
      'a/ a/b.txt a/c/ a/c/d.txt a-b.txt z.txt',
      'a/ a-b.txt a/b.txt a/c/ a/c/d.txt z.txt',
    );
    expectOneOf(
      got,
      orders,
      'recursive ListDir ("/" marks is_dir)',
      'v3: pre-order walk; v0.18: sorted by the whole relative path',
    );
    return pass(`${got.startsWith('a/ a-b') ? 'sorted by path' : 'pre-order'}: ${got}${rules.note('sortedWalk')}`);
  });
}

function listdirErrorsCheck({ rules }: FileSuite): CheckSpec {
  return custom('listdir.errors', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'listerr/file.txt'), 'x');
    await expectStatus(client.listDir(rel(t, 'listerr/no-such')), 'NOT_FOUND', 'ListDir of a missing dir');
    await expectStatus(client.listDir(rel(t, 'listerr/file.txt')), 'NOT_FOUND', 'ListDir of a file');
    // v3 skips every error of a recursive walk; v0.18 reports a bad root as NOT_FOUND "walk: …".
    const want = rules.pick('sortedWalk', 'OK, 0 entries', 'NOT_FOUND');
    const missing = await outcomeOf(client.listDir(rel(t, 'listerr/no-such'), true));
    expectOneOf(missing, want, 'recursive ListDir of a missing dir');
    const file = await outcomeOf(client.listDir(rel(t, 'listerr/file.txt'), true));
    expectOneOf(file, want, 'recursive ListDir of a file');
    return pass(`missing or file → NOT_FOUND; recursive → ${missing}${rules.note('sortedWalk')}`);
  });
}

function listdirSymlinkCheck(): CheckSpec {
  return custom('listdir.symlink', async (t) => {
    const { client } = t;
    const dir = abs(t, 'symlink');
    const r = await client.exec({ command: `mkdir -p '${dir}' && ln -s /etc '${dir}/link'` });
    const listed = await client.listDir(dir);
    const link = listed.find((e) => e.path === 'link');
    expect(link !== undefined, () => `could not make a symlink with Exec (ln -s): stderr ${show(r.stderr.toString())}`);
    expect(
      !link.isDir && link.mode.startsWith('L'),
      `ListDir shows the link as is_dir=${link.isDir}, mode ${link.mode}; expected false and L…`,
    );
    const target = await client.stat(`${dir}/link`);
    expect(
      target.isDir && target.mode.startsWith('d'),
      `Stat of the link: is_dir=${target.isDir}, mode ${target.mode}; expected the target /etc (d…)`,
    );
    const walked = await client.listDir(dir, true);
    expect(!walked.some((e) => e.path.startsWith('link/')), 'recursive ListDir descended through the symlink');
    return pass(`ListDir: link ${link.mode}; Stat follows it to a directory; the walk does not descend`);
  });
}

function mkdirPCheck(): CheckSpec {
  return custom('mkdir.p', async (t) => {
    const { client } = t;
    await client.mkdir(rel(t, 'mkdir/m/n/o'));
    const e = await client.stat(abs(t, 'mkdir/m/n/o'));
    expect(e.isDir, 'Mkdir("…/m/n/o") made no directory');
    expectEqual(e.mode, 'drwxr-x---', 'mode of a directory Mkdir created');
    await client.mkdir(rel(t, 'mkdir/m/n/o'));
    await client.writeFile(rel(t, 'mkdir/file'), 'x');
    await expectStatus(client.mkdir(rel(t, 'mkdir/file')), 'INTERNAL', 'Mkdir over a file');
    await expectStatus(client.mkdir(rel(t, 'mkdir/file/sub')), 'INTERNAL', 'Mkdir below a file');
    await expectStatus(client.mkdir(''), 'INVALID_ARGUMENT', 'Mkdir("")');
    return pass('creates missing parents (drwxr-x---), repeat OK, over/below a file → INTERNAL');
  });
}

function renameParentsCheck({ rules }: FileSuite): CheckSpec {
  return custom('rename.parents', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'rename/a/b.txt'), 'hello\n');
    await client.rename(rel(t, 'rename/a/b.txt'), rel(t, 'rename/r/s/t.txt'));
    const moved = await client.stat(abs(t, 'rename/r/s/t.txt'));
    expectEqual(moved.size, 6, 'size of the renamed file');
    await expectAbsent(client, abs(t, 'rename/a/b.txt'), 'old path after Rename');
    const want = rules.pick('renameNotFound', 'INTERNAL', 'NOT_FOUND');
    const missing = await outcomeOf(client.rename(rel(t, 'rename/a/b.txt'), rel(t, 'rename/x.txt')));
    expectOneOf(missing, want, 'Rename from a missing path', 'v3: INTERNAL; v0.18: NOT_FOUND');
    await expectStatus(client.rename('', rel(t, 'rename/x.txt')), 'INVALID_ARGUMENT', 'Rename("", …)', {
      message: 'old_path and new_path are required',
    });
    return pass(
      `new parents created; missing source → ${missing}; empty path → INVALID_ARGUMENT${rules.note('renameNotFound')}`,
    );
  });
}

function renameReplaceCheck(): CheckSpec {
  return custom('rename.replace', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'replace/src.txt'), 'new');
    await client.writeFile(rel(t, 'replace/dst.txt'), 'old content');
    await client.rename(rel(t, 'replace/src.txt'), rel(t, 'replace/dst.txt'));
    const got = Buffer.concat(await client.readRaw(abs(t, 'replace/dst.txt'))).toString();
    expectEqual(got, 'new', 'destination content after Rename onto it');
    await expectAbsent(client, abs(t, 'replace/src.txt'), 'source after Rename');
    return pass('an existing destination is replaced silently');
  });
}

function deleteRecursiveCheck(): CheckSpec {
  return custom('delete.recursive', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'delete/d/x/y.txt'), 'y');
    await expectStatus(
      client.deleteFile(rel(t, 'delete/d')),
      'INTERNAL',
      'DeleteFile(non-empty dir, recursive=false)',
      { message: /not empty/ },
    );
    await client.deleteFile(rel(t, 'delete/d'), true);
    await expectAbsent(client, abs(t, 'delete/d'), 'after a recursive DeleteFile');
    await client.deleteFile(rel(t, 'delete/d'), true);
    await client.deleteFile(rel(t, 'delete/d'), false);
    await client.writeFile(rel(t, 'delete/f.txt'), 'x');
    await client.deleteFile(rel(t, 'delete/f.txt'));
    await expectAbsent(client, abs(t, 'delete/f.txt'), 'after DeleteFile of a file');
    await expectStatus(client.deleteFile(''), 'INVALID_ARGUMENT', 'DeleteFile("")');
    return pass('non-empty dir needs recursive (INTERNAL "not empty"); missing path OK both ways');
  });
}

function writerawNoPathCheck(): CheckSpec {
  return custom('writeraw.no-path', async ({ client }) => {
    await expectStatus(
      client.writeRaw([{ data: Buffer.from('x') }], { label: 'WriteRaw(first chunk without path)' }),
      'INVALID_ARGUMENT',
      'WriteRaw whose first chunk has no path',
      { message: 'first chunk must include path' },
    );
    return pass('INVALID_ARGUMENT "first chunk must include path"');
  });
}

function readrawChunksCheck(): CheckSpec {
  return custom('readraw.chunks', async (t) => {
    const { client } = t;
    const data = randomBytes(204_800);
    await client.writeRawFile(abs(t, 'raw/200k.bin'), data);
    const chunks = await client.readRaw(abs(t, 'raw/200k.bin'));
    const sizes = chunks.map((c) => c.length).join(',');
    expectEqual(
      sizes,
      '65536,65536,65536,8192',
      'ReadRaw chunk sizes of 204800 bytes',
      'ReadRaw streams 64 KiB chunks (contract §3.9)',
    );
    expect(Buffer.concat(chunks).equals(data), 'ReadRaw content differs from what WriteRaw wrote');
    return pass('204800 bytes → chunks 65536,65536,65536,8192, byte-identical');
  });
}

function writerawCountCheck({ rules }: FileSuite): CheckSpec {
  return custom('writeraw.count', async (t) => {
    const { client } = t;
    expectEqual(
      await client.writeRawFile(abs(t, 'count/200k.bin'), randomBytes(204_800)),
      204_800,
      'bytes_written for 204800 bytes in 64 KiB chunks',
    );
    const two = await client.writeRaw([
      { path: abs(t, 'count/two.bin'), data: Buffer.from('abc') },
      { data: Buffer.from('de') },
    ]);
    expectEqual(two, 5, 'bytes_written for data in the first and a second chunk');
    expectEqual(
      await client.writeRaw([{ path: abs(t, 'count/empty.bin') }]),
      0,
      'bytes_written for a path-only message',
    );
    const none = await outcomeOf(client.writeRaw([], { label: 'WriteRaw(no messages)' }));
    expectOneOf(
      none,
      rules.pick('atomicWriteRaw', 'OK 0', 'INVALID_ARGUMENT'),
      'WriteRaw with zero messages',
      'v3: OK, bytes_written 0; ≥v0.17.0: INVALID_ARGUMENT',
    );
    return pass(
      `bytes_written 204800, 5 (data in the first chunk counts), 0; zero messages → ${none}${rules.note('atomicWriteRaw')}`,
    );
  });
}

function rawRoundtripCheck(): CheckSpec {
  return custom(
    'raw.roundtrip',
    async (t) => {
      const { client } = t;
      const data = randomBytes(5 * MiB);
      const want = sha256(data);
      const path = abs(t, 'raw/5m.bin');
      const w0 = performance.now();
      await client.writeRawFile(path, data, { deadlineMs: 60_000 });
      const wMs = Math.round(performance.now() - w0);
      const inside = await client.exec({ command: `sha256sum '${path}'` });
      const theirs = /^([0-9a-f]{64})\b/.exec(inside.stdout.toString())?.[1];
      if (theirs) expectEqual(theirs, want, 'sha256 of the file inside the container (sha256sum) vs what was sent');
      const r0 = performance.now();
      const back = await client.readRaw(path, { deadlineMs: 60_000 });
      const rMs = Math.round(performance.now() - r0);
      expectEqual(
        back.reduce((n, c) => n + c.length, 0),
        data.length,
        'bytes read back',
      );
      expectEqual(sha256(back), want, 'sha256 of what ReadRaw returned');
      const note = theirs ? 'sha256sum inside agrees' : 'no sha256sum in the image: compared on this side only';
      return pass(`5 MiB: WriteRaw ${wMs} ms, ReadRaw ${rMs} ms, sha256 ${want.slice(0, 12)}… both ways (${note})`);
    },
    { timeoutMs: 90_000 },
  );
}

function writerawEmptyCheck({ rules }: FileSuite): CheckSpec {
  return custom('writeraw.empty', async (t) => {
    const { client } = t;
    const f = abs(t, 'empty/truncated.bin');
    await client.writeRawFile(f, Buffer.from('abc'));
    await client.writeRaw([{ path: f }]);
    expectEqual((await client.stat(f)).size, 0, 'size after a path-only WriteRaw over a 3-byte file');
    await client.writeRaw([{ path: abs(t, 'empty/new.bin') }]);
    const e = await client.stat(abs(t, 'empty/new.bin'));
    expect(!e.isDir && e.size === 0, `a path-only WriteRaw made ${e.mode} of ${e.size} bytes; expected an empty file`);
    const before = names(await client.listDir(abs(t, 'empty'))).join(' ');
    // Whether anything was created is the point here; writeraw.count judges the count.
    const none = (await outcomeOf(client.writeRaw([], { label: 'WriteRaw(no messages)' }))).replace(/^OK.*/, 'OK');
    expectOneOf(none, rules.pick('atomicWriteRaw', 'OK', 'INVALID_ARGUMENT'), 'WriteRaw with zero messages');
    const after = names(await client.listDir(abs(t, 'empty'))).join(' ');
    expectEqual(after, before, 'entries after a WriteRaw with zero messages');
    return pass(
      `path-only creates/truncates an empty file; zero messages → ${none}, nothing created${rules.note('atomicWriteRaw')}`,
    );
  });
}

function writerawModeCheck({ rules }: FileSuite): CheckSpec {
  return custom('writeraw.mode', async (t) => {
    const { client } = t;
    await client.writeRawFile(abs(t, 'rawmode/f.bin'), Buffer.from('x'));
    const e = await client.stat(abs(t, 'rawmode/f.bin'));
    expectOneOf(
      e.mode,
      rules.pick('atomicWriteRaw', '-rw-r--r--', '-rw-------'),
      'mode of a file WriteRaw created',
      'v3: 0666 before umask (0644), unlike WriteFile; ≥v0.17.0: a 0600 temp file renamed into place',
    );
    return pass(`${e.mode}${rules.note('atomicWriteRaw')}`);
  });
}

function readrawErrorsCheck(): CheckSpec {
  return custom('readraw.errors', async (t) => {
    const { client } = t;
    await client.writeFile(rel(t, 'readraw/empty'), '');
    const chunks = await client.readRaw(abs(t, 'readraw/empty'));
    expectEqual(chunks.length, 0, 'ReadRaw chunks of an empty file');
    await expectStatus(client.readRaw(abs(t, 'readraw/no-such')), 'NOT_FOUND', 'ReadRaw of a missing file');
    await expectStatus(client.readRaw(abs(t, 'readraw')), 'INTERNAL', 'ReadRaw of a directory');
    await expectStatus(client.readRaw(''), 'INVALID_ARGUMENT', 'ReadRaw("")');
    return pass('empty file → 0 chunks; missing → NOT_FOUND; directory → INTERNAL; "" → INVALID_ARGUMENT');
  });
}

function writefileTooLargeCheck({ rules }: FileSuite): CheckSpec {
  return custom(
    'writefile.too-large',
    async (t) => {
      const { client } = t;
      // v3: grpc-go's 4 MiB default; ≥v0.7.0: 16 MiB. 5 MiB sits between them, 17 MiB above both. Zeros: the
      // content is not the point, and untouched zero pages cost no memory until the request is framed.
      const big = Buffer.alloc(5 * MiB);
      const fix =
        'v3 bridges refuse requests over 4 MiB (grpc-go default), later ones over 16 MiB; clients use WriteRaw for big files';
      const want = rules.pick('bigMessages', 'RESOURCE_EXHAUSTED', 'OK');
      const file = await outcomeOf(client.writeFileOfSize(rel(t, 'large/5m.txt'), 5 * MiB, { deadlineMs: 30_000 }));
      expectOneOf(file, want, 'WriteFile of 5 MiB', fix);
      if (file === 'OK')
        expectEqual((await client.stat(abs(t, 'large/5m.txt'))).size, 5 * MiB, 'size after a 5 MiB WriteFile');
      else await expectAbsent(client, abs(t, 'large/5m.txt'), 'after the refused WriteFile');
      const raw = await outcomeOf(
        client.writeRaw([{ path: abs(t, 'large/5m.bin'), data: big }], { deadlineMs: 30_000 }),
      );
      expectOneOf(raw.startsWith('OK') ? 'OK' : raw, want, 'WriteRaw with one 5 MiB chunk', fix);
      let over = '';
      if (!want.includes('RESOURCE_EXHAUSTED') || file === 'OK') {
        await expectStatus(
          client.writeFileOfSize(rel(t, 'large/17m.txt'), 17 * MiB, { deadlineMs: 30_000 }),
          'RESOURCE_EXHAUSTED',
          'WriteFile of 17 MiB',
          { fix },
        );
        await expectAbsent(client, abs(t, 'large/17m.txt'), 'after the refused 17 MiB WriteFile');
        over = '; 17 MiB WriteFile → RESOURCE_EXHAUSTED, nothing written';
      }
      return pass(`5 MiB WriteFile → ${file}, a 5 MiB WriteRaw chunk → ${raw}${over}${rules.note('bigMessages')}`);
    },
    { timeoutMs: 60_000 },
  );
}
