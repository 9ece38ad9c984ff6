#!/usr/bin/env node
// npm run bench:toolkit [-- --arch amd64|arm64] [--node-version V] [--repeat N] [--json] [--check] [--cli FILE]
//
// Against the test world's loopback mirror (test/world/mirror/server.mjs), measures:
//   cold      `memoh-workspace toolkit` (dist/cli.js) with an empty cache dir
//   warm      the same again, same cache dir, into a new dir
//   baseline  what a shell script does: one artefact at a time, curl to disk, then sha256sum, then tar -x
//             (Memoh's install.sh steps, plus the verification it lacks)
// and prints wall times, the ratios and the CLI's peak RSS (VmHWM). Targets: cold <= 0.5 x baseline,
// warm < 1 s, peak RSS <= 150 MB; --check exits 1 when one is missed. With --repeat N, medians of N runs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const TARGET = { coldRatio: 0.5, warmMs: 1000, rssMB: 150 };

if (!existsSync(CLI)) {
  console.error('bench: dist/cli.js missing, building it (npm run build)');
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
  '--arch', arch, '--node-version', nodeVersion,
  '--node-mirror', mirror.urls.node, '--node-musl-mirror', mirror.urls.nodeMusl, '--npm-mirror', mirror.urls.npm,
  '--uv-mirror', mirror.urls.uv, '--alpine-mirror', mirror.urls.alpine,
];

/** Runs a command, timing it and sampling its peak RSS (VmHWM) until it exits. */
function measure(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let hwm = 0;
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 10);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code}\n${err.slice(-2000)}`));
      else resolve({ ms, rssMB: hwm / 1024, out });
    });
  });
}

function baselineScript(dir) {
  const na = arch === 'arm64' ? 'arm64' : 'x64';
  const ua = arch === 'arm64' ? 'aarch64' : 'x86_64';
  const v = nodeVersion;
  const u = mirror.urls;
  // Plain POSIX tools, strictly one step after the other, like docker/toolkit/install.sh (gz archives as ours).
  return `set -eu
O=${dir}/toolkit; D=${dir}/dl; mkdir -p "$O/node-glibc" "$O/node-musl" "$D"
get() { curl -fsS -o "$D/$2" "$1"; }
check() { echo "$1  $D/$2" | sha256sum -c --quiet -; }
get ${u.node}/v${v}/SHASUMS256.txt glibc.sums
get ${u.node}/v${v}/node-v${v}-linux-${na}.tar.gz glibc.tgz
check "$(awk '$2=="node-v${v}-linux-${na}.tar.gz"{print $1}' "$D/glibc.sums")" glibc.tgz
tar -xzf "$D/glibc.tgz" --strip-components=1 -C "$O/node-glibc"
get ${u.nodeMusl}/index.json musl-index.json
grep -q 'linux-${na}-musl' "$D/musl-index.json"
get ${u.nodeMusl}/v${v}/SHASUMS256.txt musl.sums
get ${u.nodeMusl}/v${v}/node-v${v}-linux-${na}-musl.tar.gz musl.tgz
check "$(awk '$2=="node-v${v}-linux-${na}-musl.tar.gz"{print $1}' "$D/musl.sums")" musl.tgz
tar -xzf "$D/musl.tgz" --strip-components=1 -C "$O/node-musl"
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
R=${u.alpine}/v3.23/main/${ua}
get "$R/APKINDEX.tar.gz" APKINDEX.tar.gz
mkdir -p "$O/node-musl/runtime-lib"
for p in libgcc libstdc++; do
  f=$(tar -xzOf "$D/APKINDEX.tar.gz" APKINDEX | awk -v p="$p" '$0=="P:"p{h=1;next} h&&/^V:/{print p"-"substr($0,3)".apk";exit} /^$/{h=0}')
  get "$R/$f" "$f"; mkdir -p "$D/x-$p"; tar -xzf "$D/$f" -C "$D/x-$p" 2>/dev/null; cp -a "$D/x-$p/usr/lib/." "$O/node-musl/runtime-lib/"
done
`;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = { cold: [], warm: [], baseline: [], rss: [], warmRss: [] };
try {
  // Prime the page cache with the mirror's files, so no contender pays for the first disk read.
  spawnSync('sh', ['-c', `cat $(find ${mirror.root} -type f) > /dev/null`]);
  // Every step starts with clean page-cache state (`sync`), and nothing big is deleted until the end: on
  // some filesystems (ext4 with discard) a large rm slows the file creation that follows it for seconds.
  const settle = () => spawnSync('sync');
  for (let i = 0; i < repeat; i++) {
    const dir = join(work, `run${i}`);
    settle();
    const b = await measure('bash', ['-c', baselineScript(join(dir, 'baseline'))]);
    runs.baseline.push(b.ms);

    const cache = join(dir, 'cache');
    const before = mirror.requests.length;
    settle();
    const cold = await measure(process.execPath, [CLI, 'toolkit', '--out', join(dir, 'cold'), '--cache-dir', cache, '--json', ...flags]);
    const coldResult = JSON.parse(cold.out);
    if (coldResult.fromCache) throw new Error('the cold build came from the cache');
    runs.cold.push(cold.ms);
    runs.rss.push(cold.rssMB);

    const mid = mirror.requests.length;
    settle();
    const warm = await measure(process.execPath, [CLI, 'toolkit', '--out', join(dir, 'warm'), '--cache-dir', cache, '--json', ...flags]);
    const warmResult = JSON.parse(warm.out);
    if (!warmResult.fromCache || mirror.requests.length !== mid) throw new Error('the warm build downloaded something');
    runs.warm.push(warm.ms);
    runs.warmRss.push(warm.rssMB);
    console.error(`bench: run ${i + 1}: baseline ${Math.round(b.ms)} ms, cold ${Math.round(cold.ms)} ms (stage ${JSON.stringify(coldResult.durations)}, ${mid - before} requests), warm ${Math.round(warm.ms)} ms (stage ${warmResult.durations.totalMs} ms, 0 requests)`);
  }
} finally {
  await cleanup();
}

const r = {
  arch,
  node: nodeVersion,
  repeat,
  coldMs: Math.round(median(runs.cold)),
  warmMs: Math.round(median(runs.warm)),
  baselineMs: Math.round(median(runs.baseline)),
  coldRatio: +(median(runs.cold) / median(runs.baseline)).toFixed(2),
  warmRatio: +(median(runs.warm) / median(runs.baseline)).toFixed(3),
  peakRssMB: Math.round(Math.max(...runs.rss)),
  warmPeakRssMB: Math.round(Math.max(...runs.warmRss)),
};
const ok = { cold: r.coldRatio <= TARGET.coldRatio, warm: r.warmMs < TARGET.warmMs, rss: r.peakRssMB <= TARGET.rssMB };
if (argv.includes('--json')) console.log(JSON.stringify({ ...r, targets: TARGET, met: ok }, null, 2));
else {
  const mark = (b) => (b ? 'ok' : 'MISSED');
  console.log(`toolkit bench (${arch}, Node ${nodeVersion}, loopback mirror, ${repeat === 1 ? '1 run' : `median of ${repeat} runs`}, wall time incl. process start)`);
  console.log(`  baseline (sequential curl → sha256sum → tar)  ${(r.baselineMs / 1000).toFixed(2)} s`);
  console.log(`  cold build                                    ${(r.coldMs / 1000).toFixed(2)} s   ${r.coldRatio}× baseline   target ≤ ${TARGET.coldRatio}×  ${mark(ok.cold)}`);
  console.log(`  warm build (from cache)                       ${(r.warmMs / 1000).toFixed(2)} s   ${r.warmRatio}× baseline   target < 1 s   ${mark(ok.warm)}`);
  console.log(`  peak RSS (cold / warm)                        ${r.peakRssMB} / ${r.warmPeakRssMB} MB                  target ≤ ${TARGET.rssMB} MB ${mark(ok.rss)}`);
}
if (argv.includes('--check') && !(ok.cold && ok.warm && ok.rss)) process.exit(1);
