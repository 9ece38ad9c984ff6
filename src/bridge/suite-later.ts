import { randomBytes } from 'node:crypto';
import { BRIDGE_IN_CONTAINER, TINI } from '../era/index.js';
import { expect, expectAbsent, expectEqual, expectOneOf, expectStatus, fail, outcomeOf, sleep } from './assert.js';
import { BridgeCallError, type BridgeClient, type ExecResult } from './client.js';
import type { EraRules } from './eras.js';
import type { CheckSpec, CheckTools, Outcome } from './runner.js';
import { show } from './runner.js';
import { abs, custom, pass, rel } from './suite-files.js';

/**
 * The RPCs and fields later bridges added (memoh-current.md §5): ListDir paging, collapse and max_entries,
 * atomic writes, WriteRaw abort, the NoFollow RPCs, Tunnel and ReverseHTTP. Each check exists only where
 * the era table says the bridge has what it checks.
 */

/** The in-container tools proxy of ≥v0.10.0 bridges (MEMOH_ACP_TOOLS_PROXY_ADDR). */
const TOOLS_PROXY = '127.0.0.1:18732';

const stdoutOf = (r: ExecResult): string => r.stdout.toString('utf8');
const names = (entries: { path: string }[]): string[] => entries.map((e) => e.path);
const text = async (t: CheckTools, path: string): Promise<string> =>
  Buffer.concat(await t.client.readRaw(path)).toString('utf8');
const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

export function laterChecks(rules: EraRules): CheckSpec[] {
  return LATER_CHECKS.flatMap((build) => build(rules));
}

/** In the order the suite runs them; each builder gives its checks when the bridge has the behaviour, else none. */
const LATER_CHECKS: readonly ((rules: EraRules) => CheckSpec[])[] = [
  listdirPagingChecks,
  listdirMaxEntriesChecks,
  writeAtomicChecks,
  writerawAbortChecks,
  nofollowChecks,
  tunnelChecks,
  reverseHttpChecks,
];

function listdirPagingChecks(rules: EraRules): CheckSpec[] {
  return rules.has('listDirPaging')
    ? [
        custom('listdir.paging', async (t) => {
          const { client } = t;
          const dir = abs(t, 'paging');
          for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await client.writeFile(rel(t, `paging/${n}`), n);
          const page = (p: { entries: { path: string }[]; totalCount: number; truncated: boolean }): string =>
            `[${names(p.entries).join(',')}] total ${p.totalCount}${p.truncated ? ' truncated' : ''}`;
          const cases: [string, { offset?: number; limit?: number }, string][] = [
            ['no limit', {}, '[p1,p2,p3,p4,p5] total 5'],
            ['offset 1, limit 2', { offset: 1, limit: 2 }, '[p2,p3] total 5 truncated'],
            ['offset 4, limit 2', { offset: 4, limit: 2 }, '[p5] total 5'],
            ['offset -3 (→ 0), limit 1', { offset: -3, limit: 1 }, '[p1] total 5 truncated'],
          ];
          for (const [what, o, want] of cases)
            expectEqual(
              page(await client.listDirPage(dir, o)),
              want,
              `ListDir ${what}`,
              'ListDir pages by offset/limit after sorting; total_count counts before paging (≥v0.6.2)',
            );
          return pass(`${cases.map(([w, , r]) => `${w} → ${r}`).join('; ')}${rules.note('listDirPaging')}`);
        }),
        custom('listdir.collapse', async (t) => {
          const { client } = t;
          for (const f of ['big/1', 'big/2', 'big/3', 'big/4', 'small/x'])
            await client.writeFile(rel(t, `collapse/${f}`), f);
          const r = await client.listDirPage(abs(t, 'collapse'), { recursive: true, collapseThreshold: 2 });
          const got = r.entries.map((e) => `${e.path}${e.summary ? ` (${e.summary})` : ''}`);
          const synthetic = r.entries.find((e) => e.path === 'big/');
          expect(
            synthetic !== undefined,
            `no synthetic "big/" entry for a directory of 4 with collapse_threshold 2: ${show(got.join(', '))}`,
            'directories with more descendants than collapse_threshold are replaced by one summary entry',
          );
          expect(
            synthetic.isDir && /^4 items \(not expanded\)$/.test(synthetic.summary),
            `the synthetic entry: is_dir ${synthetic.isDir}, summary ${show(synthetic.summary)}; expected true and "4 items (not expanded)"`,
          );
          expect(
            !r.entries.some((e) => e.path.startsWith('big/') && e.path !== 'big/'),
            `big's contents are listed despite the collapse: ${show(got.join(', '))}`,
          );
          const entry = (p: string): boolean => r.entries.some((e) => e.path === p);
          expect(
            entry('big') && entry('small') && entry('small/x'),
            `expected big, small and small/x (1 ≤ threshold) to be listed: ${show(got.join(', '))}`,
          );
          return pass(`collapse_threshold 2: ${got.join(', ')}`);
        }),
      ]
    : [];
}

function listdirMaxEntriesChecks(rules: EraRules): CheckSpec[] {
  return rules.has('maxEntries')
    ? [
        custom('listdir.max-entries', async (t) => {
          const { client } = t;
          const dir = abs(t, 'maxent');
          for (const n of ['a', 'b', 'c', 'd/e']) await client.writeFile(rel(t, `maxent/${n}`), n);
          await expectStatus(
            client.listDirPage(dir, { maxEntries: 3 }),
            'RESOURCE_EXHAUSTED',
            'ListDir of 4 entries with max_entries 3',
            { message: 'directory listing exceeds 3 entries' },
          );
          await expectStatus(
            client.listDirPage(dir, { recursive: true, maxEntries: 4 }),
            'RESOURCE_EXHAUSTED',
            'recursive ListDir of 5 entries with max_entries 4',
            { message: 'recursive listing exceeds 4 entries' },
          );
          const fits = await client.listDirPage(dir, { maxEntries: 4 });
          expectEqual(fits.entries.length, 4, 'entries of a ListDir of 4 with max_entries 4');
          return pass(
            '4 entries, max 3 → RESOURCE_EXHAUSTED "directory listing exceeds 3 entries"; recursive 5, max 4 → "recursive listing exceeds 4 entries"; max 4 → OK',
          );
        }),
      ]
    : [];
}

function writeAtomicChecks(rules: EraRules): CheckSpec[] {
  return rules.has('atomicWriteFile')
    ? [
        custom('write.atomic', async (t) => {
          const { client } = t;
          const dir = abs(t, 'atomic');
          const made = await client.exec({
            command: `mkdir -p ${q(dir)} && cd ${q(dir)} && printf old > f && printf old > g && chmod 644 f g && echo ok`,
          });
          expectEqual(
            stdoutOf(made).trim(),
            'ok',
            `making two 0644 files with Exec (stderr ${show(made.stderr.toString())})`,
          );
          await client.writeFile(`${dir}/f`, 'new');
          const f = await client.stat(`${dir}/f`);
          expectOneOf(
            f.mode,
            rules.pick('atomicWriteFile', '-rw-r--r--', '-rw-------'),
            'mode after WriteFile over an existing 0644 file',
            '≥v0.15.0 WriteFile writes a 0600 temp file and renames it into place',
          );
          expectEqual(await text(t, `${dir}/f`), 'new', 'content after WriteFile');
          let raw = '';
          if (rules.has('atomicWriteRaw')) {
            await client.writeRawFile(`${dir}/g`, Buffer.from('new'));
            const g = await client.stat(`${dir}/g`);
            expectOneOf(
              g.mode,
              rules.pick('atomicWriteRaw', '-rw-r--r--', '-rw-------'),
              'mode after WriteRaw over an existing 0644 file',
              '≥v0.17.0 WriteRaw commits a 0600 temp file at EOF',
            );
            expectEqual(await text(t, `${dir}/g`), 'new', 'content after WriteRaw');
            raw = `; WriteRaw over 0644 → ${g.mode}`;
          }
          expectEqual(
            names(await client.listDir(dir))
              .sort()
              .join(' '),
            'f g',
            'entries after the writes (no temp files left)',
          );
          return pass(`WriteFile over 0644 → ${f.mode}${raw}; no temp files left${rules.note('atomicWriteFile')}`);
        }),
      ]
    : [];
}

function writerawAbortChecks(rules: EraRules): CheckSpec[] {
  return rules.has('writeRawAbort')
    ? [
        custom('writeraw.abort', async (t) => {
          const { client } = t;
          const target = abs(t, 'abort/target.txt');
          await client.writeFile(target, 'old');
          await expectStatus(
            client.writeRaw([{ path: target, data: Buffer.from('new, partial') }, { abort: true }], {
              label: `WriteRaw(${show(target)}, then abort)`,
            }),
            'ABORTED',
            'WriteRaw with abort=true in its second chunk',
            { message: 'write aborted by sender' },
          );
          expectEqual(
            await text(t, target),
            'old',
            'the target after an aborted WriteRaw',
            'an aborted WriteRaw removes its temp file and leaves the target untouched',
          );
          expectEqual(
            names(await client.listDir(abs(t, 'abort'))).join(' '),
            'target.txt',
            'entries after the aborted WriteRaw (temp file removed)',
          );
          return pass('ABORTED "write aborted by sender"; target untouched, no temp file left');
        }),
      ]
    : [];
}

function nofollowChecks(rules: EraRules): CheckSpec[] {
  return rules.has('noFollow') ? [nofollowReadCheck(), nofollowWriteCheck()] : [];
}

function nofollowReadCheck(): CheckSpec {
  return custom(
    'nofollow.read',
    withoutOpenat2(async (t) => {
      const { client, work } = t;
      await client.writeFile(abs(t, 'nf/a.txt'), 'anchored\n');
      const links = await client.exec({
        command: `cd ${q(abs(t, 'nf'))} && ln -s a.txt link && mkdir d && cd .. && ln -s nf nflink && echo ok`,
      });
      expectEqual(stdoutOf(links).trim(), 'ok', `making symlinks with Exec (stderr ${show(links.stderr.toString())})`);
      const sub = work.split('/').pop() ?? '';
      const got = Buffer.concat(await client.readRawNoFollow('/data', `${sub}/nf/a.txt`)).toString();
      expectEqual(got, 'anchored\n', 'ReadRawNoFollow("/data", "<work>/nf/a.txt")');
      const refused = 'FAILED_PRECONDITION';
      await expectStatus(client.readRawNoFollow(work, 'nf/link'), refused, 'ReadRawNoFollow of a symlink', {
        message: /unsafe or unsupported path/,
      });
      await expectStatus(
        client.readRawNoFollow(work, 'nflink/a.txt'),
        refused,
        'ReadRawNoFollow through a symlinked directory',
      );
      await expectStatus(
        client.readRawNoFollow(work, 'nf/d'),
        refused,
        'ReadRawNoFollow of a directory (not a regular file)',
      );
      await expectStatus(
        client.readRawNoFollow(work, '../etc/passwd'),
        'INVALID_ARGUMENT',
        'ReadRawNoFollow of "../etc/passwd"',
        { message: /invalid anchored read path/ },
      );
      await expectStatus(client.readRawNoFollow(work, 'nf/no-such'), 'NOT_FOUND', 'ReadRawNoFollow of a missing file');
      return pass(
        'anchored read OK; symlink, symlinked dir, directory → FAILED_PRECONDITION; ".." → INVALID_ARGUMENT; missing → NOT_FOUND',
      );
    }),
  );
}

function nofollowWriteCheck(): CheckSpec {
  return custom(
    'nofollow.write',
    withoutOpenat2(async (t) => {
      const { client, work } = t;
      const n = await client.writeRawNoFollow([
        { root: work, relativePath: 'nfw/new/b.txt', data: Buffer.from('anchored') },
      ]);
      expectEqual(n, 8, 'bytes_written of an anchored write');
      const e = await client.stat(abs(t, 'nfw/new/b.txt'));
      expectEqual(
        e.mode,
        '-rw-------',
        'mode of the anchored file',
        'WriteRawNoFollow creates the file O_EXCL with mode 0600',
      );
      expectEqual((await client.stat(abs(t, 'nfw/new'))).mode, 'drwxr-x---', 'mode of the parent it created');
      expectEqual(await text(t, abs(t, 'nfw/new/b.txt')), 'anchored', 'content of the anchored file');
      await expectStatus(
        client.writeRawNoFollow([{ root: work, relativePath: 'nfw/new/b.txt', data: Buffer.from('again') }]),
        'ALREADY_EXISTS',
        'a second anchored write to the same file',
        { message: /target already exists/ },
      );
      expectEqual(await text(t, abs(t, 'nfw/new/b.txt')), 'anchored', 'content after the refused second write');
      const made = await client.exec({
        command: `cd ${q(abs(t, 'nfw'))} && mkdir real && ln -s real dirlink && echo ok`,
      });
      expectEqual(
        stdoutOf(made).trim(),
        'ok',
        `making a symlinked directory with Exec (stderr ${show(made.stderr.toString())})`,
      );
      const through = await outcomeOf(
        client.writeRawNoFollow([{ root: work, relativePath: 'nfw/dirlink/c.txt', data: Buffer.from('x') }]),
      );
      expect(
        !through.startsWith('OK'),
        'an anchored write through a symlinked directory succeeded',
        'WriteRawNoFollow must not follow symlinks',
      );
      await expectAbsent(client, abs(t, 'nfw/real/c.txt'), 'after the refused write through the symlink');
      await expectStatus(
        client.writeRawNoFollow([
          { root: work, relativePath: 'nfw/aborted.txt', data: Buffer.from('part') },
          { abort: true },
        ]),
        'ABORTED',
        'an anchored write aborted in its second chunk',
        { message: 'anchored write aborted by sender' },
      );
      await expectStatus(
        client.writeRawNoFollow([{ root: abs(t, 'nfw/no-such-root'), relativePath: 'x', data: Buffer.from('x') }]),
        'NOT_FOUND',
        'an anchored write under a missing root',
      );
      return pass(
        `anchored write 0600 with parents 0750; again → ALREADY_EXISTS; through a symlinked dir → ${through}, nothing written; abort → ABORTED; missing root → NOT_FOUND`,
      );
    }),
  );
}

function tunnelChecks(rules: EraRules): CheckSpec[] {
  return rules.has('tunnel')
    ? [
        custom('tunnel.loopback', async ({ client }) => {
          if (!rules.has('reverseHTTP'))
            return {
              status: 'skip',
              detail: `no loopback listener to reach: the tools proxy ${TOOLS_PROXY} came with v0.10.0`,
            };
          await loopbackThroughTunnel(client);
          await refusedBeyondLoopback(client);
          return pass(
            `${TOOLS_PROXY}: empty data frame (ack), HTTP 503 "not connected" through the tunnel, close ""; 0.0.0.0 and 10.255.255.1 → PERMISSION_DENIED`,
          );
        }),
      ]
    : [];
}

/** The tools proxy through a tunnel: the empty ack frame, its 503 while no ReverseHTTP is open, close "". */
async function loopbackThroughTunnel(client: BridgeClient): Promise<void> {
  const s = client.openTunnel(TOOLS_PROXY);
  try {
    await s.waitFor((f) => f.length > 0, 3000, 'first frame (the empty data frame that acknowledges the connection)');
    if (s.frames.length === 0) {
      await s.done; // the stream ended at once: its status is the finding (e.g. UNAVAILABLE: nothing listens)
      fail(`the tunnel to ${TOOLS_PROXY} ended without a frame`);
    }
    const first = s.frames[0]!;
    expect(
      first.kind === 'data' && (first.data?.length ?? 0) === 0,
      `the first frame is ${first.kind} with ${first.data?.length ?? 0} bytes; expected the empty data frame that acknowledges the connection`,
    );
    s.send('GET /smoke HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n');
    await s.waitFor((f) => f.some((x) => x.kind === 'close'), 5000, 'close frame after the HTTP answer');
    const answer = s.received.toString('utf8');
    expect(
      /^HTTP\/1\.[01] 503 /.test(answer) && answer.includes('memoh tools proxy is not connected'),
      `through the tunnel: ${show(answer, 200)}; expected 503 "memoh tools proxy is not connected" (no ReverseHTTP stream is open)`,
    );
    const close = s.frames.find((f) => f.kind === 'close');
    expect(
      close !== undefined,
      `the tunnel ended without a close frame after the target's EOF (frames: ${s.frames.map((f) => f.kind).join(', ')})`,
      'the bridge sends close{error:""} when the target closes',
    );
    expectEqual(close.error ?? '', '', 'error of the close frame at the target’s EOF');
  } finally {
    s.halfClose();
    await Promise.race([s.done.catch(() => undefined), sleep(2000)]);
    s.cancel();
  }
}

async function refusedBeyondLoopback(client: BridgeClient): Promise<void> {
  // 0.0.0.0 first: a bridge that dials it anyway reaches the local proxy at once (10.255.255.1 would take
  // the 10 s dial timeout to tell).
  for (const address of [`0.0.0.0:${TOOLS_PROXY.split(':')[1]}`, '10.255.255.1:80']) {
    const other = client.openTunnel(address);
    try {
      // A bridge that dials it anyway acknowledges the connection and waits for data: no status would come.
      await other.waitFor((f) => f.length > 0, 3000, 'frame').catch(() => undefined);
      expect(
        other.frames.length === 0,
        `Tunnel to ${address} was opened (the bridge sent ${other.frames[0]?.kind} first); expected PERMISSION_DENIED`,
        'the bridge tunnels only to loopback addresses',
      );
      await expectStatus(other.done, 'PERMISSION_DENIED', `Tunnel to ${address}`, {
        fix: 'the bridge tunnels only to loopback addresses',
      });
    } finally {
      other.cancel();
    }
  }
}

function reverseHttpChecks(rules: EraRules): CheckSpec[] {
  return rules.has('reverseHTTP')
    ? [
        custom('reversehttp.roundtrip', async ({ client, signal }) => {
          const nonce = randomBytes(4).toString('hex');
          const body = `ping-${nonce}`;
          const session = client.serveReverseHTTP(
            () => ({ statusCode: 201, headers: [{ name: 'X-Smoke', values: [nonce] }], body: `pong-${nonce}` }),
            { deadlineMs: 30_000 },
          );
          try {
            // The stream has no ack: a request can reach the proxy before the bridge registered it (503); asked again then.
            let r: ExecResult | undefined;
            let out = '';
            for (let i = 0; i < 20; i++) {
              r = await client.exec({ command: httpPost(body) });
              out = stdoutOf(r);
              if (!/ 503 |not connected/.test(out) || signal.aborted) break;
              await sleep(100, signal);
            }
            const how = /^client: (.*)$/m.exec(out)?.[1] ?? '?';
            if (how === 'none')
              return {
                status: 'skip',
                detail:
                  'no HTTP client in the image to call the tools proxy from inside (tried curl, bash /dev/tcp, node, wget)',
              };
            expect(
              /\b201\b/.test(out) && out.includes(`pong-${nonce}`),
              `${how} → ${TOOLS_PROXY}/mcp: ${show(out, 240)}; expected 201 and "pong-${nonce}" from our stream`,
            );
            if (how !== 'wget')
              expect(
                new RegExp(`x-smoke: ${nonce}`, 'i').test(out),
                `our X-Smoke header did not come back: ${show(out, 240)}`,
              );
            const req = session.requests.at(-1);
            expect(req !== undefined, 'the HTTP call succeeded but our stream received no request');
            expect(/^reverse-http-\d+$/.test(req.id), `request id ${show(req.id)}; expected reverse-http-<n>`);
            expectEqual(`${req.method} ${req.url}`, 'POST /mcp', 'method and URL the bridge forwarded');
            expectEqual(Buffer.from(req.body).toString(), body, 'body the bridge forwarded');
            expect(
              !req.headers.some((h) => /^content-length$/i.test(h.name)),
              'Content-Length was forwarded (the bridge removes it)',
            );
            return pass(
              `POST ${TOOLS_PROXY}/mcp from inside (${how}) → our stream got ${req.id} (${req.method} ${req.url}, ${req.body.length} bytes) → 201 "pong-${nonce}" back`,
            );
          } finally {
            session.close();
            await Promise.race([session.done.catch(() => undefined), sleep(2000)]);
          }
        }),
      ]
    : [];
}

/**
 * One POST to the tools proxy with whatever HTTP client the image has; prints `client: <name>` first, then
 * the status line, headers and body. Debian's slim images have neither curl nor wget, but bash's /dev/tcp.
 */
function httpPost(body: string): string {
  const [host, port] = TOOLS_PROXY.split(':') as [string, string];
  const url = `http://${TOOLS_PROXY}/mcp`;
  const raw = `POST /mcp HTTP/1.0\\r\\nHost: ${host}\\r\\nContent-Type: text/plain\\r\\nContent-Length: ${body.length}\\r\\n\\r\\n${body}`;
  const node = `const r=require('http').request('${url}',{method:'POST',headers:{'content-type':'text/plain'}},(s)=>{let b='';s.on('data',(d)=>b+=d);s.on('end',()=>{console.log('HTTP/1.1 '+s.statusCode);for(let i=0;i<s.rawHeaders.length;i+=2)console.log(s.rawHeaders[i]+': '+s.rawHeaders[i+1]);console.log();console.log(b)})});r.end('${body}')`;
  return [
    `if command -v curl >/dev/null 2>&1; then echo 'client: curl'; curl -sS -i --data-binary '${body}' -H 'Content-Type: text/plain' ${url}`,
    `elif command -v bash >/dev/null 2>&1; then echo 'client: bash /dev/tcp'; bash -c 'exec 3<>/dev/tcp/${host}/${port} && printf "${raw}" >&3 && cat <&3'`,
    `elif command -v node >/dev/null 2>&1; then echo 'client: node'; node -e "${node.replace(/"/g, '\\"')}"`,
    `elif command -v wget >/dev/null 2>&1; then echo 'client: wget'; wget -q -S -O - --post-data='${body}' ${url} 2>&1`,
    `else echo 'client: none'; fi`,
  ].join('\n');
}

/** v0.18 workspace: tini is PID 1 (memoh-current.md §2), and it reaps. */
export function tiniCheck(): CheckSpec {
  return custom('workspace.tini', async ({ client }) => {
    const r = await client.exec({ command: "tr '\\000' ' ' < /proc/1/cmdline" });
    const seen = stdoutOf(r).trim();
    // Under qemu-user with binfmt's P flag the kernel starts the interpreter, which shows first: "<qemu> <path> <argv…>".
    const emulated = QEMU_BINFMT.exec(seen);
    const cmd = emulated ? emulated[1]! : seen;
    expectEqual(
      cmd,
      `${TINI} -g -- ${BRIDGE_IN_CONTAINER}`,
      'PID 1 (/proc/1/cmdline)',
      `Memoh v0.18 runs the workspace as ${TINI} -g -- ${BRIDGE_IN_CONTAINER} (the image needs Debian's tini package)`,
    );
    return pass(`PID 1 is ${cmd}${emulated ? ' (under qemu-user emulation, which shows its interpreter first)' : ''}`);
  });
}

const QEMU_BINFMT = /^\/\S*qemu\S*\s+\S+\s+(.*)$/;

/**
 * The NoFollow RPCs need openat2 (Linux ≥ 5.6, allowed by seccomp). Where the bridge runs without it — qemu-user
 * emulation here, an old kernel, an old seccomp profile — the bridge answers FAILED_PRECONDITION with ENOSYS
 * (shared/memoh-current.md §8 item 4): a fact of the host, not a fault of the image or bridge, so a warning.
 */
function withoutOpenat2(run: (t: CheckTools) => Promise<Outcome>): (t: CheckTools) => Promise<Outcome> {
  return async (t) => {
    try {
      return await run(t);
    } catch (err) {
      if (
        !(
          err instanceof BridgeCallError &&
          err.codeName === 'FAILED_PRECONDITION' &&
          /function not implemented/.test(err.details)
        )
      )
        throw err;
      return {
        status: 'warn',
        detail: `${err.message}: openat2 is not available where the bridge runs (ENOSYS), so Memoh's anchored reads and writes cannot work on this host`,
        fix: 'run on a Linux ≥ 5.6 host whose seccomp profile allows openat2, natively rather than under qemu-user emulation',
      };
    }
  };
}

/** Memoh's template names, seed and v0.18, plus the suite's own probe: a v0.18 bridge seeds none of them. */
const TEMPLATE_NAMES = [
  'AGENTS.md',
  'HEARTBEAT.md',
  'IDENTITY.md',
  'MEMORY.md',
  'PROFILES.md',
  'SOUL.md',
  'TOOLS.md',
  'SMOKE_PROBE.md',
  '.memoh',
];

export function noSeedingCheck(): CheckSpec {
  return custom('templates.not-seeded', async ({ client }) => {
    let listed: string[];
    try {
      listed = names(await client.listDir('/data'));
    } catch (err) {
      if (err instanceof BridgeCallError && err.codeName === 'NOT_FOUND')
        return pass('/data does not exist yet: nothing seeded (Memoh creates and seeds it over RPC)');
      throw err;
    }
    const seeded = listed.filter((n) => TEMPLATE_NAMES.includes(n));
    if (seeded.length > 0)
      fail(
        `/data already holds ${seeded.join(', ')} before anyone wrote them`,
        'from v0.17.0 the bridge seeds nothing; Memoh writes the templates over RPC after its contract check',
      );
    return pass(`no template files in /data (${listed.length} entries): the bridge seeds nothing`);
  });
}
