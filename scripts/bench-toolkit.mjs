#!/usr/bin/env node
// npm run bench:toolkit [-- --arch amd64|arm64] [--node-version V] [--repeat N] [--lines all|loopback] [--json]
//                          [--check] [--cli FILE] [--no-write]
//
// Against the test world's loopback mirror (test/world/mirror/server.mjs), on three lines in one run:
//   loopback                     the mirror as fast as this machine serves it
//   per-connection 20 MB/s+80 ms a CDN: every connection gets 20 MB/s, every request waits 80 ms
//   shared 5 MB/s+200 ms         a slow access line (the mainland-China case): all connections split 5 MB/s
// it measures, cold (empty cache), a full amd64 toolkit (glibc + musl + npm + uv + Alpine libs):
//   cold      `memoh-workspace toolkit` (dist/cli.js), which picks .tar.xz or .tar.gz by measuring the line and
//             fetches a large archive over 4 connections (HTTP ranges, read in order in one streaming pass)
//   baseline  what Memoh's docker/toolkit/install.sh does: one artefact at a time, curl to disk, the Node.js
//             archives as .tar.xz (as install.sh fetches them), then sha256sum, then tar -x (plus the
//             verification install.sh lacks)
// and on loopback also a warm build (from the cache). It prints wall times, the ratios, the bytes floor (the
// smallest archive set ÷ the line's bandwidth, what no client can beat) and peak RSS (the CLI's VmHWM, and the
// xz child's), and writes them into the toolkit section of BENCHMARKS.md (between its markers).
// Targets: cold ≤ 0.5× baseline on loopback and per-connection, ≤ 0.8× on the shared line; warm < 1 s; peak RSS
// ≤ 150 MB. --check exits 1 when one is missed. With --repeat N, medians of N runs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const CLI = opt('cli', join(REPO, 'dist', 'cli.js'));
const arch = opt('arch', 'amd64');
const nodeVersion = opt('node-version', arch === 'arm64' ? '24.21.0' : '24.14.0');
const repeat = Math.max(1, Number(opt('repeat', '1')));
const TARGET = { warmMs: 1000, rssMB: 150 };
const LINES = [
  { id: 'loopback', label: 'loopback', target: 0.5 },
  {
    id: 'per-connection',
    label: 'per-connection 20 MB/s + 80 ms',
    line: { bytesPerSecond: 20e6, shared: false, latencyMs: 80 },
    target: 0.5,
  },
  {
    id: 'shared',
    label: 'shared 5 MB/s + 200 ms',
    line: { bytesPerSecond: 5e6, shared: true, latencyMs: 200 },
    target: 0.8,
  },
].filter((l) => opt('lines', 'all') === 'all' || opt('lines', 'all').split(',').includes(l.id));
const log = (s) => process.stderr.write(`bench: ${s}\n`);

if (!existsSync(CLI)) {
  log('dist/cli.js missing, building it (npm run build)');
  const b = spawnSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);
}
const { startMirror } = await import(join(REPO, 'test', 'world', 'mirror', 'server.mjs'));
const mirror = await startMirror();
const work = mkdtempSync(join(tmpdir(), 'memoh-bench-toolkit-'));
const cleanup = async () => {
  await mirror.close();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

const flags = [
  '--arch',
  arch,
  '--node-version',
  nodeVersion,
  '--node-mirror',
  mirror.urls.node,
  '--node-musl-mirror',
  mirror.urls.nodeMusl,
  '--npm-mirror',
  mirror.urls.npm,
  '--uv-mirror',
  mirror.urls.uv,
  '--alpine-mirror',
  mirror.urls.alpine,
];

const hwmOf = (pid) => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited between samples
  }
};
const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/** Runs a command, timing it and sampling its peak RSS (VmHWM) and its children's (the xz decoders) until it exits. */
function measure(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let hwm = 0;
    let childHwm = 0;
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const sample = () => {
      hwm = Math.max(hwm, hwmOf(child.pid));
      for (const c of childrenOf(child.pid)) childHwm = Math.max(childHwm, hwmOf(c));
    };
    const timer = setInterval(sample, 10);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code}\n${err.slice(-2000)}`));
      else resolve({ ms, rssMB: hwm / 1024, childRssMB: childHwm / 1024, out });
    });
  });
}

const na = arch === 'arm64' ? 'arm64' : 'x64';
const ua = arch === 'arm64' ? 'aarch64' : 'x86_64';
const v = nodeVersion;
const u = mirror.urls;
const apkRepo = `${u.alpine}/v3.23/main/${ua}`;

function baselineScript(dir) {
  // Plain POSIX tools, strictly one step after the other, like docker/toolkit/install.sh (.tar.xz for Node.js, as it).
  return `set -eu
O=${dir}/toolkit; D=${dir}/dl; mkdir -p "$O/node-glibc" "$O/node-musl" "$D"
get() { curl -fsS -o "$D/$2" "$1"; }
check() { echo "$1  $D/$2" | sha256sum -c --quiet -; }
get ${u.node}/v${v}/SHASUMS256.txt glibc.sums
get ${u.node}/v${v}/node-v${v}-linux-${na}.tar.xz glibc.txz
check "$(awk '$2=="node-v${v}-linux-${na}.tar.xz"{print $1}' "$D/glibc.sums")" glibc.txz
tar -xJf "$D/glibc.txz" --strip-components=1 -C "$O/node-glibc"
get ${u.nodeMusl}/index.json musl-index.json
grep -q 'linux-${na}-musl' "$D/musl-index.json"
get ${u.nodeMusl}/v${v}/SHASUMS256.txt musl.sums
get ${u.nodeMusl}/v${v}/node-v${v}-linux-${na}-musl.tar.xz musl.txz
check "$(awk '$2=="node-v${v}-linux-${na}-musl.tar.xz"{print $1}' "$D/musl.sums")" musl.txz
tar -xJf "$D/musl.txz" --strip-components=1 -C "$O/node-musl"
get ${u.npm}/npm packument.json
get ${u.npm}/npm/-/npm-10.9.2.tgz npm.tgz
want=$(node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1]));process.stdout.write(Buffer.from(d.versions["10.9.2"].dist.integrity.slice(7),"base64").toString("hex"))' "$D/packument.json")
[ "$(sha512sum "$D/npm.tgz" | cut -d' ' -f1)" = "$want" ]
for n in node-glibc node-musl; do
  rm -rf "$O/$n/lib/node_modules/npm"; mkdir -p "$O/$n/lib/node_modules/npm"
  tar -xzf "$D/npm.tgz" --strip-components=1 -C "$O/$n/lib/node_modules/npm"
done
get ${u.uv}/0.9.5/uv-${ua}-unknown-linux-musl.tar.gz.sha256 uv.sha256
get ${u.uv}/0.9.5/uv-${ua}-unknown-linux-musl.tar.gz uv.tgz
check "$(cut -d' ' -f1 "$D/uv.sha256")" uv.tgz
mkdir -p "$D/uv"; tar -xzf "$D/uv.tgz" --strip-components=1 -C "$D/uv"; mv "$D/uv/uv" "$O/uv"
R=${apkRepo}
get "$R/APKINDEX.tar.gz" APKINDEX.tar.gz
mkdir -p "$O/node-musl/runtime-lib"
for p in libgcc libstdc++; do
  f=$(tar -xzOf "$D/APKINDEX.tar.gz" APKINDEX | awk -v p="$p" '$0=="P:"p{h=1;next} h&&/^V:/{print p"-"substr($0,3)".apk";exit} /^$/{h=0}')
  get "$R/$f" "$f"; mkdir -p "$D/x-$p"; tar -xzf "$D/$f" -C "$D/x-$p" 2>/dev/null; cp -a "$D/x-$p/usr/lib/." "$O/node-musl/runtime-lib/"
done
`;
}

/** The smallest set of files a full toolkit needs (each Node.js archive in its smaller format), in bytes. */
function smallestSet() {
  const size = (rel) => statSync(join(mirror.root, rel)).size;
  const node = (dir, base) => Math.min(size(`${dir}/v${v}/${base}.tar.gz`), size(`${dir}/v${v}/${base}.tar.xz`));
  const apks = readdirSync(join(mirror.root, 'alpine', 'v3.23', 'main', ua)).filter((f) =>
    /^(libgcc|libstdc\+\+)-.*\.apk$/.test(f),
  );
  const files = {
    'node-glibc': node('node', `node-v${v}-linux-${na}`),
    'node-musl': node('node-musl', `node-v${v}-linux-${na}-musl`),
    npm: size('npm-registry/npm/-/npm-10.9.2.tgz'),
    uv: size(`uv/releases/download/0.9.5/uv-${ua}-unknown-linux-musl.tar.gz`),
    alpine:
      apks.reduce((n, f) => n + size(`alpine/v3.23/main/${ua}/${f}`), 0) +
      size(`alpine/v3.23/main/${ua}/APKINDEX.tar.gz`),
  };
  return { files, total: Object.values(files).reduce((a, b) => a + b, 0), largest: Math.max(...Object.values(files)) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const set = smallestSet();
const results = [];
const loadStart = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
try {
  // Prime the page cache with the mirror's files, so no contender pays for the first disk read.
  spawnSync('sh', ['-c', `cat $(find ${mirror.root} -type f) > /dev/null`]);
  // Every step starts with clean page-cache state (`sync`), and nothing big is deleted until the end: on
  // some filesystems (ext4 with discard) a large rm slows the file creation that follows it for seconds.
  const settle = () => spawnSync('sync');
  for (const L of LINES) {
    const runs = { cold: [], warm: [], baseline: [], rss: [], xzRss: [], warmRss: [], formats: [], bytes: [] };
    for (let i = 0; i < repeat; i++) {
      const dir = join(work, `${L.id}-${i}`);
      mirror.setLine(L.line);
      settle();
      const b = await measure('bash', ['-c', baselineScript(join(dir, 'baseline'))]);
      runs.baseline.push(b.ms);

      const cache = join(dir, 'cache');
      const before = mirror.requests.length;
      mirror.setLine(L.line);
      settle();
      const cold = await measure(process.execPath, [
        CLI,
        'toolkit',
        '--out',
        join(dir, 'cold'),
        '--cache-dir',
        cache,
        '--json',
        ...flags,
      ]);
      const coldResult = JSON.parse(cold.out);
      if (coldResult.fromCache) throw new Error('the cold build came from the cache');
      runs.cold.push(cold.ms);
      runs.rss.push(cold.rssMB);
      runs.xzRss.push(cold.childRssMB);
      runs.formats.push(coldResult.manifest.archives);
      runs.bytes.push(coldResult.downloadedBytes);
      const mid = mirror.requests.length;
      let warmNote = '';
      if (L.id === 'loopback') {
        settle();
        const warm = await measure(process.execPath, [
          CLI,
          'toolkit',
          '--out',
          join(dir, 'warm'),
          '--cache-dir',
          cache,
          '--json',
          ...flags,
        ]);
        const warmResult = JSON.parse(warm.out);
        if (!warmResult.fromCache || mirror.requests.length !== mid)
          throw new Error('the warm build downloaded something');
        runs.warm.push(warm.ms);
        runs.warmRss.push(warm.rssMB);
        warmNote = `, warm ${Math.round(warm.ms)} ms`;
      }
      log(
        `${L.label} run ${i + 1}: baseline ${Math.round(b.ms)} ms, cold ${Math.round(cold.ms)} ms ` +
          `(.tar.${coldResult.manifest.archives?.format}, ${(coldResult.downloadedBytes / 1e6).toFixed(1)} MB, ${mid - before} requests, stage ${JSON.stringify(coldResult.durations)})${warmNote}`,
      );
    }
    const rate = L.line?.bytesPerSecond;
    // On a shared line every byte crosses the one line; per connection, the largest file is the wait.
    const floorMs = rate ? ((L.line.shared ? set.total : set.largest) / rate) * 1000 : undefined;
    const baselineMs = median(runs.baseline);
    results.push({
      line: L.id,
      label: L.label,
      coldMs: Math.round(median(runs.cold)),
      baselineMs: Math.round(baselineMs),
      coldRatio: +(median(runs.cold) / baselineMs).toFixed(2),
      target: L.target,
      floorMs: floorMs && Math.round(floorMs),
      floorRatio: floorMs ? +(floorMs / baselineMs).toFixed(2) : undefined,
      format: runs.formats.at(-1)?.format,
      why: runs.formats.at(-1)?.why,
      downloadedMB: +(median(runs.bytes) / 1e6).toFixed(1),
      peakRssMB: Math.round(Math.max(...runs.rss)),
      xzPeakRssMB: Math.round(Math.max(...runs.xzRss)),
      ...(runs.warm.length
        ? { warmMs: Math.round(median(runs.warm)), warmPeakRssMB: Math.round(Math.max(...runs.warmRss)) }
        : {}),
    });
  }
} finally {
  await cleanup();
}
const loadEnd = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');

const loop = results.find((r) => r.line === 'loopback');
const peakRssMB = Math.max(...results.map((r) => r.peakRssMB));
const ok = {
  lines: results.every((r) => r.coldRatio <= r.target),
  warm: !loop || loop.warmMs < TARGET.warmMs,
  rss: peakRssMB <= TARGET.rssMB,
};
// The loopback fields keep the shape scripts/bench.mjs reads (coldMs, warmMs, baselineMs, coldRatio, ...).
const summary = {
  arch,
  node: nodeVersion,
  repeat,
  ...(loop
    ? {
        coldMs: loop.coldMs,
        warmMs: loop.warmMs,
        baselineMs: loop.baselineMs,
        coldRatio: loop.coldRatio,
        warmRatio: +(loop.warmMs / loop.baselineMs).toFixed(3),
        warmPeakRssMB: loop.warmPeakRssMB,
      }
    : {}),
  peakRssMB,
  xzPeakRssMB: Math.max(...results.map((r) => r.xzPeakRssMB)),
  smallestSetMB: +(set.total / 1e6).toFixed(1),
  lines: results,
  load: { start: loadStart, end: loadEnd },
};

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mark = (b) => (b ? 'met' : '**missed**');
function section() {
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${s(r.coldMs)} (.tar.${r.format}, ${r.downloadedMB} MB) | ${s(r.baselineMs)} | ${r.coldRatio}× | ${r.floorMs ? `${s(r.floorMs)} = ${r.floorRatio}×` : '—'} | ≤ ${r.target}× | ${mark(r.coldRatio <= r.target)} |`,
  );
  const whys = results.map((r) => `- ${r.label}: .tar.${r.format} — ${r.why}`);
  return `<!-- toolkit-lines:begin (written by scripts/bench-toolkit.mjs) -->
## Toolkit on three lines

Written by \`npm run bench:toolkit\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${repeat === 1 ? 'one run' : `medians of ${repeat} runs`} per line, all lines in
one run; load average ${loadStart} at the start, ${loadEnd} at the end (the machine is shared with other work, so
every number here is noisy; the ratios compare numbers measured side by side). Cold full ${arch} toolkit (Node.js
${nodeVersion} glibc + musl, npm, uv, Alpine libgcc/libstdc++) from an empty cache, wall time including process start,
against the baseline: Memoh's install.sh steps on the same mirror, one at a time (curl, sha256sum, tar; Node.js as
.tar.xz, as install.sh fetches it). The bytes floor is the smallest archive set (${(set.total / 1e6).toFixed(1)} MB, each Node.js archive
in its smaller format) ÷ the line's bandwidth (per connection: the largest file, ${(set.largest / 1e6).toFixed(1)} MB, ÷ the rate).

| Line | Cold build (format, bytes) | Baseline | Ratio | Bytes floor (÷ baseline) | Target | |
|---|---|---|---|---|---|---|
${rows.join('\n')}

${loop ? `Warm build (from cache, loopback): ${s(loop.warmMs)} (target < 1 s: ${mark(loop.warmMs < TARGET.warmMs)}). ` : ''}Peak RSS of the CLI: ${peakRssMB} MB
(target ≤ ${TARGET.rssMB} MB: ${mark(ok.rss)}); the \`xz -dc\` child beside it: ${summary.xzPeakRssMB} MB at most.

The format each cold build chose, and why (from its toolkit.json):
${whys.join('\n')}
<!-- toolkit-lines:end -->`;
}

if (!argv.includes('--no-write')) {
  const file = join(REPO, 'BENCHMARKS.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /<!-- toolkit-lines:begin[\s\S]*?<!-- toolkit-lines:end -->/;
  writeFileSync(file, re.test(text) ? text.replace(re, section()) : `${text.trimEnd()}\n\n${section()}\n`);
  log(`wrote the toolkit section of ${file}`);
}

if (argv.includes('--json')) console.log(JSON.stringify({ ...summary, met: ok }, null, 2));
else {
  console.log(
    `toolkit bench (${arch}, Node ${nodeVersion}, ${repeat === 1 ? '1 run' : `median of ${repeat} runs`} per line, wall time incl. process start; load ${loadStart} → ${loadEnd})`,
  );
  for (const r of results) {
    console.log(
      `  ${r.label.padEnd(32)} cold ${s(r.coldMs)} (.tar.${r.format}, ${r.downloadedMB} MB)  baseline ${s(r.baselineMs)}  ${r.coldRatio}×  target ≤ ${r.target}× ${mark(r.coldRatio <= r.target)}` +
        `${r.floorMs ? `  bytes floor ${s(r.floorMs)} (${r.floorRatio}×)` : ''}`,
    );
  }
  if (loop) console.log(`  warm build (from cache)          ${s(loop.warmMs)}   target < 1 s ${mark(ok.warm)}`);
  console.log(
    `  peak RSS (CLI / xz child)        ${peakRssMB} / ${summary.xzPeakRssMB} MB   target ≤ ${TARGET.rssMB} MB ${mark(ok.rss)}`,
  );
}
if (argv.includes('--check') && !(ok.lines && ok.warm && ok.rss)) process.exit(1);
