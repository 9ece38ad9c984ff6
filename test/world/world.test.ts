/**
 * Proves the test world is real: every image runs with the architecture and libc it claims, the special images
 * carry the config they claim, and local registries serve pushed images over the v2 API (with and without auth).
 *
 * Needs root, a docker engine and the images: test/world/engine.sh && test/world/images.sh (run here if missing).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_ALIAS, IMAGE_FACTS, IMAGE_KEYS, IMAGES, RECIPE_LABEL, type ImageKey } from './images.js';
import { fetchManifest, pushImage, startRegistry, type LocalRegistry } from './registry.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: readonly string[], timeoutMs = 60_000): Promise<Exec> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

const docker = (args: readonly string[], timeoutMs?: number) => exec(DOCKER, args, timeoutMs);

const containers = new Set<string>();
/** `docker run --rm` with a known name (removed in afterAll if a timeout left it behind). */
async function run(image: string, entrypoint: string, args: readonly string[] = [], extra: readonly string[] = []) {
  const name = `memoh-world-test-${randomBytes(4).toString('hex')}`;
  containers.add(name);
  try {
    return await docker(['run', '--rm', '--name', name, ...extra, '--entrypoint', entrypoint, image, ...args], 90_000);
  } finally {
    containers.delete(name);
  }
}

/** Runs a POSIX script with the image's shell (busybox's sh applet in the image that has no /bin/sh). */
function sh(key: ImageKey, script: string) {
  const f = IMAGE_FACTS[key];
  return f.hasShell ? run(f.tag, '/bin/sh', ['-c', script]) : run(f.tag, f.probe[0]!, ['sh', '-c', script]);
}

interface InspectedImage {
  Id: string;
  Architecture: string;
  Variant?: string;
  Os: string;
  Config: {
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    User: string;
    WorkingDir: string;
    Volumes: Record<string, object> | null;
    Labels: Record<string, string> | null;
  };
}

async function inspect(ref: string): Promise<InspectedImage> {
  const r = await docker(['image', 'inspect', ref]);
  expect(r.code, `docker image inspect ${ref}: ${r.stderr}`).toBe(0);
  return (JSON.parse(r.stdout) as InspectedImage[])[0]!;
}

beforeAll(async () => {
  const engine = await exec(join(HERE, 'engine.sh'), [], 90_000);
  expect(engine.code, `engine.sh failed:\n${engine.stdout}\n${engine.stderr}`).toBe(0);
  const missing: string[] = [];
  for (const tag of Object.values(IMAGES)) if ((await docker(['image', 'inspect', tag])).code !== 0) missing.push(tag);
  if (missing.length > 0) {
    // Cold world: build it (the debootstraps take minutes; afterwards everything is cached).
    const built = await exec(join(HERE, 'images.sh'), [], 590_000);
    expect(built.code, `images.sh failed:\n${built.stdout}\n${built.stderr}`).toBe(0);
  }
}, 600_000);

afterAll(async () => {
  for (const name of containers) await docker(['rm', '-f', name], 30_000).catch(() => undefined);
});

describe('test-world images', () => {
  describe.each(IMAGE_KEYS.map((k) => [IMAGES[k], k] as const))('%s', (_tag, key) => {
    const f = IMAGE_FACTS[key];

    it('has the architecture, config and recipe label it claims', async () => {
      const img = await inspect(f.tag);
      expect(img.Os).toBe('linux');
      expect(img.Architecture).toBe(f.arch);
      expect(img.Variant ?? '').toBe(f.variant);
      expect(img.Config.Labels?.[RECIPE_LABEL]).toMatch(/^[0-9a-f]{64}$/);
      expect(img.Config.Entrypoint ?? null).toEqual(f.config.entrypoint);
      expect(img.Config.Cmd ?? null).toEqual(f.config.cmd);
      expect(img.Config.User).toBe(f.config.user);
      expect(img.Config.WorkingDir).toBe(f.config.workingDir);
      expect(Object.keys(img.Config.Volumes ?? {})).toEqual(f.config.volumes);
    });

    it(`runs and reports uname -m = ${f.unameM}, libc = ${f.libc}`, async () => {
      const script = [
        'echo "arch=$(uname -m)"',
        'for f in /lib/ld-musl-*.so.1; do [ -e "$f" ] || continue; if [ -L "$f" ]; then echo "musl=$f link"; elif [ -f "$f" ]; then echo "musl=$f file"; fi; done',
        'for f in /lib*/ld-linux-*.so.*; do [ -e "$f" ] && echo "glibc=$f"; done',
        'if [ -e /bin/sh ]; then echo sh=yes; else echo sh=no; fi',
        'true',
      ].join('\n');
      const r = await sh(key, script);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toContain(`arch=${f.unameM}`);
      expect(lines).toContain(`sh=${f.hasShell ? 'yes' : 'no'}`);
      const musl = lines.filter((l) => l.startsWith('musl='));
      const glibc = lines.filter((l) => l.startsWith('glibc='));
      if (f.libc === 'musl') {
        // a regular file, not a link: the toolkit's wrappers test `-f /lib/ld-musl-*.so.1`
        expect(musl).toEqual([`musl=${f.loader} file`]);
        expect(glibc).toEqual([]);
      } else if (f.libc === 'glibc') {
        expect(glibc).toContain(`glibc=${f.loader}`);
        expect(musl).toEqual([]);
      } else {
        expect(musl).toEqual([]);
        expect(glibc).toEqual([]);
      }
    });

    it('runs its probe command without a shell', async () => {
      const r = await run(f.tag, f.probe[0]!, f.probe.slice(1));
      expect(r.code, r.stderr).toBe(0);
    });

    it('carries its files', async () => {
      const r = await sh(key, f.files.map((p) => `[ -e '${p}' ] || { echo "missing ${p}"; exit 1; }`).join('\n'));
      expect(r.code, r.stdout + r.stderr).toBe(0);
    });

    if (f.muslHello) {
      it('runs the musl-linked musl-hello', async () => {
        const r = await run(f.tag, '/usr/local/bin/musl-hello');
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('hello from musl\n');
      });
    }
  });

  it('noshell: /bin/sh cannot be started', async () => {
    const r = await run(IMAGES.noshellAmd64, '/bin/sh', ['-c', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such file|not found/i);
  });

  it('entrypoint-user: runs /usr/bin/false as user 1000', async () => {
    const plain = await docker(['run', '--rm', IMAGES.entrypointUserAmd64], 90_000);
    expect(plain.code).toBe(1);
    const id = await run(IMAGES.entrypointUserAmd64, '/usr/bin/id', []);
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toMatch(/^uid=1000\(memoh\) gid=1000\(memoh\)/);
  });

  it('legacy-mcp: pre-bridge layout with its own /opt/memoh, /run/memoh and a /data volume', async () => {
    const r = await run(IMAGES.legacyMcpAmd64, '/bin/sh', [
      '-c',
      'test -x /opt/memoh/mcp-server && test ! -e /opt/memoh/bridge && test -d /run/memoh && pwd',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('/data');
  });

  it('debian amd64 is a Debian bookworm minbase', async () => {
    const r = await run(IMAGES.debianAmd64, '/bin/sh', ['-c', '. /etc/os-release && echo "$ID $VERSION_CODENAME" && dpkg --print-architecture']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('debian bookworm\namd64\n');
  });

  it('debian arm64 is a Debian bookworm for arm64 (under qemu)', async () => {
    const r = await run(IMAGES.debianArm64, '/bin/sh', ['-c', '. /etc/os-release && echo "$ID $VERSION_CODENAME" && dpkg --print-architecture']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('debian bookworm\narm64\n');
  });

  it(`${DEFAULT_IMAGE_ALIAS} exists locally (ours, or a real one left alone)`, async () => {
    const alias = await inspect(DEFAULT_IMAGE_ALIAS);
    if (alias.Config.Labels?.[RECIPE_LABEL]) expect(alias.Id).toBe((await inspect(IMAGES.debianAmd64)).Id);
  });
});

describe('local registries', () => {
  const started: LocalRegistry[] = [];
  afterAll(async () => {
    for (const r of started) await r.stop();
  });

  it('serves a pushed image over the v2 API without auth (docker v2 and OCI manifests)', async () => {
    const reg = await startRegistry();
    started.push(reg);
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);

    const pushed = await pushImage(IMAGES.muslAmd64, reg.host, 'memoh-test/musl:amd64');
    expect(pushed.ref).toBe(`${reg.host}/memoh-test/musl:amd64`);
    const m = await fetchManifest(reg.url, 'memoh-test/musl', 'amd64');
    expect(m.status).toBe(200);
    expect(m.contentType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(m.digestHeader).toBe(m.bodyDigest);
    expect(m.digestHeader).toBe(pushed.digest);
    // by digest too
    const byDigest = await fetchManifest(reg.url, 'memoh-test/musl', pushed.digest);
    expect(byDigest.status).toBe(200);
    expect(byDigest.bodyDigest).toBe(pushed.digest);

    const oci = await pushImage(IMAGES.muslAmd64, reg.host, 'memoh-test/musl:oci', undefined, { format: 'oci' });
    const mo = await fetchManifest(reg.url, 'memoh-test/musl', 'oci');
    expect(mo.status).toBe(200);
    expect(mo.contentType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(mo.digestHeader).toBe(mo.bodyDigest);
    expect(mo.digestHeader).toBe(oci.digest);

    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`, { signal: AbortSignal.timeout(10_000) })).json()) as {
      repositories: string[];
    };
    expect(catalog.repositories).toContain('memoh-test/musl');
  });

  it('keeps the arm64 architecture through a push', async () => {
    const reg = await startRegistry();
    started.push(reg);
    await pushImage(IMAGES.muslArm64, reg.host, 'memoh-test/musl:arm64');
    const m = await fetchManifest(reg.url, 'memoh-test/musl', 'arm64');
    expect(m.status).toBe(200);
    expect(m.digestHeader).toBe(m.bodyDigest);
    const manifest = JSON.parse(m.body.toString('utf8')) as { config: { digest: string } };
    const cfg = (await (
      await fetch(`${reg.url}/v2/memoh-test/musl/blobs/${manifest.config.digest}`, { signal: AbortSignal.timeout(10_000) })
    ).json()) as { architecture: string; variant?: string };
    expect(cfg.architecture).toBe('arm64');
    expect(cfg.variant).toBe('v8');
  });

  it('requires basic auth when started with credentials', async () => {
    const auth = { user: 'memoh', password: `pw-${randomBytes(6).toString('hex')}` };
    const reg = await startRegistry({ auth });
    started.push(reg);

    const anon = await fetch(`${reg.url}/v2/`, { signal: AbortSignal.timeout(10_000) });
    await anon.arrayBuffer();
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate') ?? '').toMatch(/^Basic /);

    await expect(pushImage(IMAGES.noshellAmd64, reg.host, 'memoh-test/noshell:amd64')).rejects.toThrow(/skopeo copy/);
    const pushed = await pushImage(IMAGES.noshellAmd64, reg.host, 'memoh-test/noshell:amd64', auth);

    const without = await fetchManifest(reg.url, 'memoh-test/noshell', 'amd64');
    expect(without.status).toBe(401);
    const wrong = await fetchManifest(reg.url, 'memoh-test/noshell', 'amd64', { user: auth.user, password: 'wrong' });
    expect(wrong.status).toBe(401);
    const ok = await fetchManifest(reg.url, 'memoh-test/noshell', 'amd64', auth);
    expect(ok.status).toBe(200);
    expect(ok.digestHeader).toBe(ok.bodyDigest);
    expect(ok.digestHeader).toBe(pushed.digest);
  });

  it('stop() kills the registry and removes its temp dir', async () => {
    const reg = await startRegistry();
    expect(existsSync(reg.dir)).toBe(true);
    await reg.stop();
    expect(existsSync(reg.dir)).toBe(false);
    await expect(fetch(`${reg.url}/v2/`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    await reg.stop(); // idempotent
  });
});
