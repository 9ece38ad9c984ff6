#!/usr/bin/env node
// Loopback HTTP download mirror for the test world: serves the tree built by prepare.sh, laid out like the real
// sites, with on-demand fault injection. Plain ESM (Node >= 20), no dependencies; types in server.d.mts.
//
//   import { startMirror } from './server.mjs';
//   const m = await startMirror();            // http://127.0.0.1:<free port>
//   m.urls.node  -> `${m.url}/node`          (nodejs.org/dist layout)
//   m.fault('linux-x64.tar.gz', 'reset', { times: 1 });
//   m.setLine({ bytesPerSecond: 5e6, shared: true, latencyMs: 200 });   // a slow line (see LineModel below)
//
// CLI: node test/world/mirror/server.mjs [--port N] [--root DIR] [--omit-musl-arm64 24.21.0[,V...]]
//                                        [--fault MATCH=KIND[,times=N][,bytes=N][,bytesPerSecond=N]]...
//                                        [--rate BYTES_PER_SECOND [--shared]] [--latency MS]
//      prints {"url":...,"urls":{...},"root":...} on one line, serves until SIGINT/SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** ${MEMOH_WORLD_DIR:-/var/cache/memoh-world} */
export function worldDir() {
  return process.env.MEMOH_WORLD_DIR || '/var/cache/memoh-world';
}
/** Where prepare.sh puts the mirror tree. */
export function defaultMirrorRoot() {
  return path.join(worldDir(), 'mirror');
}
/** The real Node 24 prepare.sh keeps for other tests. */
export function node24Path() {
  return path.join(worldDir(), 'node24', 'bin', 'node');
}

/** Runs prepare.sh (seconds when cached, a few minutes cold). Resolves to the mirror root. */
export function ensureMirror({ quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(HERE, 'prepare.sh')], {
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
      env: { ...process.env, MEMOH_WORLD_DIR: worldDir() },
    });
    child.on('error', reject);
    child.on('exit', (code, sig) =>
      code === 0 ? resolve(defaultMirrorRoot()) : reject(new Error(`prepare.sh failed (${code ?? sig})`)),
    );
  });
}

const TYPES = [
  [/\.json$/, 'application/json'],
  [/(\.txt|\.sha256|\.sum|\.tab)$/, 'text/plain; charset=utf-8'],
  [/(\.tar\.gz|\.tgz)$/, 'application/gzip'],
  [/\.tar\.xz$/, 'application/x-xz'],
  [/\.apk$/, 'application/vnd.android.package-archive'],
];
const contentType = (p) => TYPES.find(([re]) => re.test(p))?.[1] ?? 'application/octet-stream';

const KINDS = new Set(['500', '404', 'reset', 'slow', 'truncate', 'corrupt', 'stall', 'hang']);
const normVersion = (v) => String(v).replace(/^v/, '');

/**
 * The line between the mirror and its clients, as a model: every request waits `latencyMs` before it is
 * answered (a round trip), and body bytes leave no faster than `bytesPerSecond`, either on each connection
 * separately (a CDN: more connections, more throughput; a client may fetch one file as several ranges, each
 * on its own connection and its own share) or on one line all connections share (a slow access link: more
 * connections only split it). Bytes are scheduled on a virtual clock per line, so timer lateness
 * under load makes the line slower, never faster, and never lets it catch up in a burst beyond one piece.
 * @param {{bytesPerSecond?: number, shared?: boolean, latencyMs?: number} | undefined} line
 */
export function checkLine(line) {
  if (line === undefined || line === null) return undefined;
  const { bytesPerSecond, shared = false, latencyMs = 0 } = line;
  if (bytesPerSecond !== undefined && !(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0)) {
    throw new Error(`line: bytesPerSecond must be a positive number (got ${bytesPerSecond})`);
  }
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0 && latencyMs <= 60_000)) {
    throw new Error(`line: latencyMs must be 0..60000 (got ${latencyMs})`);
  }
  if (shared && bytesPerSecond === undefined) throw new Error('line: shared needs bytesPerSecond');
  return { bytesPerSecond, shared: Boolean(shared), latencyMs };
}

/** Pieces small enough that a shared line interleaves its connections finely, large enough to keep timers few. */
const LINE_PIECE = 32 * 1024;

/**
 * A Transform that releases each piece when the line's clock says its last byte has crossed the line. The
 * rate is read per piece, so a line changed by setLine() applies to transfers already under way.
 */
function pace(clock, rateNow, onPaced) {
  let timer;
  return new Transform({
    transform(chunk, _enc, cb) {
      let off = 0;
      const next = () => {
        timer = undefined;
        while (off < chunk.length) {
          const piece = chunk.subarray(off, off + LINE_PIECE);
          const bytesPerSecond = rateNow();
          if (!bytesPerSecond) {
            off += piece.length;
            this.push(piece);
            continue;
          }
          const now = performance.now();
          // An idle line earns no credit: a piece starts now, or when the line frees up.
          const start = Math.max(now, clock.free);
          clock.free = start + (piece.length * 1000) / bytesPerSecond;
          off += piece.length;
          onPaced(piece.length, clock.free - start);
          if (clock.free - now >= 1) {
            timer = setTimeout(() => {
              this.push(piece);
              next();
            }, clock.free - now);
            return;
          }
          this.push(piece);
        }
        cb();
      };
      next();
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
}

/**
 * @param {{root?: string, port?: number, omitMuslArm64?: string[], line?: {bytesPerSecond?: number, shared?: boolean, latencyMs?: number}}} [options]
 */
export async function startMirror(options = {}) {
  const root = path.resolve(options.root ?? defaultMirrorRoot());
  if (!fs.existsSync(path.join(root, '.recipe'))) {
    throw new Error(`no mirror tree at ${root}: run  bash test/world/mirror/prepare.sh  (or ensureMirror()) first`);
  }
  const faults = [];
  const hidden = new Set();
  const requests = [];
  let omitted = new Set((options.omitMuslArm64 ?? []).map(normVersion));
  let line = checkLine(options.line);
  // The shared line's clock, and one per connection for the per-connection model.
  let sharedClock = { free: 0 };
  const connClocks = new WeakMap();

  const muslArm64Omitted = (p) => {
    const m = p.match(/^\/node-musl\/v(\d+\.\d+\.\d+)\/node-v\d+\.\d+\.\d+-linux-arm64-musl\./);
    return m && omitted.has(m[1]);
  };

  const takeFault = (p, ranged) => {
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i];
      // `ranged: true` faults only a request for a part of a file (a Range header), as a client fetching one
      // file over several connections makes them.
      if (f.opts.ranged && !ranged) continue;
      if (typeof f.match === 'string' ? p.includes(f.match) : f.match.test(p)) {
        f.handle.hits++;
        if (f.times !== undefined && --f.times <= 0) faults.splice(i, 1);
        return f;
      }
    }
    return undefined;
  };

  /** Resolves a request path to a body: {size, mtime?, stream(start,end)} or a redirect/404. */
  const resolveBody = (p, origin) => {
    const buf = (data, type) => {
      const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
      return { size: b.length, type, stream: (s, e) => streamOf(b.subarray(s, e + 1)) };
    };
    // npm registry: packument with the tarball URL pointing back at whoever asked
    let m = p.match(/^\/npm-registry\/(npm)(?:\/([^/]+))?\/?$/);
    if (m) {
      const file = path.join(root, 'npm-registry', `${m[1]}.json`);
      if (!fs.existsSync(file)) return { status: 404 };
      const doc = JSON.parse(fs.readFileSync(file, 'utf8').replaceAll('{{MIRROR}}', origin));
      if (!m[2]) return buf(JSON.stringify(doc), 'application/json');
      const v = doc['dist-tags'][m[2]] ?? m[2];
      return doc.versions[v] ? buf(JSON.stringify(doc.versions[v]), 'application/json') : { status: 404 };
    }
    // uv "latest" download URLs redirect to the served release, like GitHub
    m = p.match(/^\/uv\/releases\/latest\/download\/(.+)$/);
    if (m) {
      const dir = path.join(root, 'uv', 'releases', 'download');
      const latest = fs.existsSync(dir) ? fs.readdirSync(dir).sort().at(-1) : undefined;
      return latest ? { redirect: `/uv/releases/download/${latest}/${m[1]}` } : { status: 404 };
    }
    // nodejs.org/dist aliases: latest, latest-v24.x, latest-krypton
    m = p.match(/^\/(node|node-musl)\/(latest(?:-[^/]+)?)\/(.*)$/);
    if (m) {
      const index = JSON.parse(fs.readFileSync(path.join(root, m[1], 'index.json'), 'utf8'));
      const alias = m[2];
      const hit = index.find(
        (r) =>
          alias === 'latest' ||
          alias === `latest-${r.version.split('.')[0]}.x` ||
          (r.lts && alias === `latest-${String(r.lts).toLowerCase()}`),
      );
      return hit ? { redirect: `/${m[1]}/${hit.version}/${m[3]}` } : { status: 404 };
    }
    if (muslArm64Omitted(p)) return { status: 404 };
    if (omitted.size && p === '/node-musl/index.json') {
      const rows = JSON.parse(fs.readFileSync(path.join(root, 'node-musl', 'index.json'), 'utf8')).map((r) =>
        omitted.has(normVersion(r.version)) ? { ...r, files: r.files.filter((f) => f !== 'linux-arm64-musl') } : r,
      );
      return buf(`[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`, 'application/json');
    }
    if (omitted.size && p === '/node-musl/index.tab') {
      const lines = fs.readFileSync(path.join(root, 'node-musl', 'index.tab'), 'utf8').split('\n');
      const out = lines.map((l, i) => {
        const cols = l.split('\t');
        if (i === 0 || cols.length < 3 || !omitted.has(normVersion(cols[0]))) return l;
        cols[2] = cols[2]
          .split(',')
          .filter((f) => f !== 'linux-arm64-musl')
          .join(',');
        return cols.join('\t');
      });
      return buf(out.join('\n'), 'text/plain; charset=utf-8');
    }
    m = p.match(/^\/node-musl\/v(\d+\.\d+\.\d+)\/SHASUMS256\.txt$/);
    if (m && omitted.has(m[1])) {
      const file = path.join(root, p);
      if (!fs.existsSync(file)) return { status: 404 };
      const text = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => !l.includes('-linux-arm64-musl.'))
        .join('\n');
      return buf(text, 'text/plain; charset=utf-8');
    }
    // static file
    const file = path.join(root, p);
    if (file !== root && !file.startsWith(root + path.sep)) return { status: 404 };
    if (p.endsWith('/') || path.basename(file).startsWith('.')) return { status: 404 };
    let st;
    try {
      st = fs.statSync(file);
    } catch {
      return { status: 404 };
    }
    if (!st.isFile()) return { status: 404 };
    return {
      size: st.size,
      mtime: st.mtime,
      type: contentType(p),
      stream: (s, e) => fs.createReadStream(file, { start: s, end: e }),
    };
  };

  const server = http.createServer((req, res) => {
    let p;
    try {
      p = path.posix.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    } catch {
      p = '/';
    }
    const entry = { method: req.method ?? 'GET', path: p, status: 0 };
    requests.push(entry);
    let sent = 0; // body bytes written
    let aborted = false; // a fault cut the body short
    res.on('close', () => {
      entry.bytes = sent;
      entry.complete = res.writableFinished && !aborted;
    });
    const finish = (status, body = '', headers = {}) => {
      entry.status = status;
      res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return finish(405, 'method not allowed\n', { allow: 'GET, HEAD' });

    const f = takeFault(p, Boolean(req.headers.range));
    if (f) entry.fault = f.kind;
    const go = () => {
      if (f?.kind === 'hang') return; // never answer; close() or the client ends it
      if (f && /^\d{3}$/.test(f.kind)) return finish(Number(f.kind), `injected fault: HTTP ${f.kind}\n`);
      if (hidden.has(p)) return finish(404, 'not found (hidden)\n');
      const origin = `http://${req.headers.host ?? `127.0.0.1:${server.address().port}`}`;
      const body = resolveBody(p, origin);
      if (body.redirect) return finish(302, `see ${body.redirect}\n`, { location: body.redirect });
      if (body.status) return finish(body.status, 'not found\n');

      let start = 0;
      let end = body.size - 1;
      let status = 200;
      const headers = { 'content-type': body.type, 'accept-ranges': 'bytes' };
      if (body.mtime) headers['last-modified'] = body.mtime.toUTCString();
      const range = req.headers.range;
      if (range) {
        const r = range.match(/^bytes=(\d*)-(\d*)$/);
        if (r && (r[1] || r[2])) {
          if (r[1]) {
            start = Number(r[1]);
            end = r[2] ? Math.min(Number(r[2]), body.size - 1) : body.size - 1;
          } else {
            start = Math.max(0, body.size - Number(r[2]));
          }
          if (start > end || start >= body.size) {
            return finish(416, 'range not satisfiable\n', { 'content-range': `bytes */${body.size}` });
          }
          status = 206;
          headers['content-range'] = `bytes ${start}-${end}/${body.size}`;
          entry.range = range;
        }
      }
      const length = end - start + 1;
      headers['content-length'] = length;
      entry.status = status;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || length === 0) return res.end();

      const src = body.stream(start, end);
      const kind = f?.kind;
      const cutAt = f?.opts.bytes ?? Math.min(64 * 1024, Math.floor(length / 2));
      let pos = 0;
      const stages = [src];
      if (kind === 'corrupt') {
        // flip bytes at the given absolute offsets (default: the middle of the file): same length, wrong checksum
        const at = f.opts.at ?? [Math.floor(body.size / 2)];
        let abs = start;
        stages.push(
          new Transform({
            transform(chunk, _enc, cb) {
              const c = Buffer.from(chunk);
              for (const o of at) if (o >= abs && o < abs + c.length) c[o - abs] ^= 0xff;
              abs += c.length;
              cb(null, c);
            },
          }),
        );
      }
      if (kind === 'slow') stages.push(throttle(f.opts.bytesPerSecond ?? 64 * 1024));
      if (line?.bytesPerSecond) {
        let clock = sharedClock;
        if (!line.shared) {
          clock = connClocks.get(req.socket) ?? { free: 0 };
          connClocks.set(req.socket, clock);
        }
        entry.lineMs = 0;
        stages.push(
          pace(
            clock,
            () => line?.bytesPerSecond,
            (_n, ms) => {
              entry.lineMs += ms;
            },
          ),
        );
      }
      const out = stages.reduce((a, b) => a.pipe(b));
      const teardown = () => {
        for (const st of stages) st.destroy();
      };
      res.on('close', teardown);
      res.on('error', () => {});
      for (const st of stages) st.on('error', () => res.destroy());
      const cutting = kind === 'reset' || kind === 'truncate' || kind === 'stall';
      const cut = () => {
        // called once `cutAt` body bytes have been handed to the socket
        aborted = true;
        out.pause();
        teardown();
        const sock = res.socket;
        if (kind === 'reset') {
          // TCP RST (the peer may lose what it has not read yet: it gets up to `bytes`, then ECONNRESET)
          if (sock?.resetAndDestroy) sock.resetAndDestroy();
          else sock?.destroy();
        } else if (kind === 'truncate') {
          sock?.end(); // orderly FIN, fewer bytes than content-length declared
        } // stall: keep the connection open, send nothing more
      };
      if (cutting && cutAt <= 0) {
        res.flushHeaders();
        return void setTimeout(cut, 20);
      }
      out.on('data', (chunk) => {
        if (res.destroyed || aborted) return;
        if (cutting) {
          const piece = chunk.subarray(0, Math.max(0, cutAt - pos));
          pos += piece.length;
          sent += piece.length;
          if (pos >= cutAt) {
            out.pause();
            res.write(piece, () => cut());
          } else {
            res.write(piece);
          }
          return;
        }
        sent += chunk.length;
        if (!res.write(chunk)) {
          out.pause();
          res.once('drain', () => out.resume());
        }
      });
      out.on('end', () => {
        if (!aborted && !res.destroyed) res.end();
      });
    };
    const delay = (f?.opts.delayMs ?? 0) + (line?.latencyMs ?? 0);
    if (line) entry.latencyMs = line.latencyMs;
    if (delay > 0) setTimeout(go, delay);
    else go();
  });
  server.keepAliveTimeout = 2000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  let closed;
  return {
    url,
    root,
    urls: {
      node: `${url}/node`,
      nodeMusl: `${url}/node-musl`,
      npm: `${url}/npm-registry`,
      uv: `${url}/uv/releases/download`,
      alpine: `${url}/alpine`,
    },
    requests,
    fault(match, kind, opts = {}) {
      kind = String(kind);
      if (!KINDS.has(kind) && !/^\d{3}$/.test(kind)) throw new Error(`unknown fault kind ${kind}`);
      const handle = {
        hits: 0,
        remove: () => {
          const i = faults.indexOf(rec);
          if (i >= 0) faults.splice(i, 1);
        },
      };
      const rec = { match, kind, opts, times: opts.times, handle };
      faults.push(rec);
      return handle;
    },
    clearFaults() {
      faults.length = 0;
    },
    hide(p) {
      hidden.add(p.startsWith('/') ? p : `/${p}`);
    },
    unhide(p) {
      if (p === undefined) hidden.clear();
      else hidden.delete(p.startsWith('/') ? p : `/${p}`);
    },
    setOmitMuslArm64(versions) {
      omitted = new Set((versions ?? []).map(normVersion));
    },
    setLine(next) {
      line = checkLine(next);
      // A new line starts idle: nothing scheduled on the old one carries over.
      sharedClock = { free: 0 };
    },
    get line() {
      return line ? { ...line } : undefined;
    },
    close() {
      closed ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function streamOf(buf) {
  return Readable.from([buf], { objectMode: false });
}

/** A Transform that lets through at most bytesPerSecond, in 10 slices a second. */
function throttle(bytesPerSecond) {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  let timer;
  return new Transform({
    transform(chunk, _enc, cb) {
      let off = 0;
      const push = () => {
        this.push(chunk.subarray(off, off + slice));
        off += slice;
        if (off >= chunk.length) return cb();
        timer = setTimeout(push, 100);
      };
      timer = setTimeout(push, 100);
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
}

// ---------------------------------------------------------------- CLI
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  const val = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const port = Number(val('--port') ?? 0);
  const omit = val('--omit-musl-arm64');
  // --rate BYTES_PER_SECOND [--shared] [--latency MS]: serve through a line model (see checkLine)
  const rate = val('--rate');
  const latency = val('--latency');
  const lineOpt =
    rate !== undefined || latency !== undefined
      ? {
          bytesPerSecond: rate !== undefined ? Number(rate) : undefined,
          shared: argv.includes('--shared'),
          latencyMs: Number(latency ?? 0),
        }
      : undefined;
  const m = await startMirror({ port, root: val('--root'), omitMuslArm64: omit ? omit.split(',') : [], line: lineOpt });
  // --fault MATCH=KIND[,times=N][,bytes=N][,bytesPerSecond=N][,delayMs=N]   (repeatable; MATCH is a substring)
  argv.forEach((a, i) => {
    if (a !== '--fault') return;
    const spec = argv[i + 1] ?? '';
    const eq = spec.indexOf('=');
    const [kind, ...kv] = spec.slice(eq + 1).split(',');
    const opts = Object.fromEntries(kv.map((x) => [x.split('=')[0], Number(x.split('=')[1])]));
    m.fault(spec.slice(0, eq), kind, opts);
  });
  process.stdout.write(`${JSON.stringify({ url: m.url, urls: m.urls, root: m.root, line: m.line ?? null })}\n`);
  const stop = () => m.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
