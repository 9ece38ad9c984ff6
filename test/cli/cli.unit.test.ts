import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliSync as run } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { REPO } from '../world/paths.js';

describe('memoh-workspace CLI', () => {
  it('--help lists every command and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['run', 'toolkit', 'validate', 'smoke', 'mirror', 'doctor'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('an unknown command or flag is a usage error (exit 2)', () => {
    const a = run(['frobnicate']);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/);
    const b = run(['doctor', '--frob']);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/unknown option '--frob'/);
  });

  it('doctor exits 2 with the fix when no engine answers', () => {
    const r = run(['doctor', '--json'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(report.engine.reachable).toBe(false);
    expect(report.engine.source).toBe('DOCKER_HOST');
    const problem = report.problems.find((p: { id: string }) => p.id === 'engine');
    expect(problem.detail).toMatch(/unix:\/\/\/nonexistent\/docker.sock/);
    expect(problem.fix).toMatch(/DOCKER_HOST/);
  });

  it('doctor reports foreign-arch emulation as the kernel has it', () => {
    const r = run(['doctor', '--json']);
    const report = JSON.parse(r.stdout);
    const foreign = report.host.arch === 'amd64' ? 'aarch64' : 'x86_64';
    let registered = false;
    try {
      registered = /^enabled$/m.test(readFileSync(`/proc/sys/fs/binfmt_misc/qemu-${foreign}`, 'utf8'));
    } catch {}
    expect(report.emulation[0].registered).toBe(registered);
  });
});

/** Memoh's own config files (test/config/memoh), read by `plan --config` from dist/ as a user runs it. */
describe("plan --config with Memoh's config files", () => {
  const dir = tempDir('cli-config');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = (name: string) => join(REPO, 'test/config/memoh', name);
  /** The file as a mainland user has it: the commented registry line switched on. */
  const withRegistry = (name: string) => {
    const text = readFileSync(fixture(name), 'utf8');
    const changed = text.replace(/^# registry = "memoh\.cn".*$/m, 'registry = "memoh.cn"');
    expect(changed).not.toBe(text);
    const p = join(dir, name);
    writeFileSync(p, changed);
    return p;
  };
  const plan = (args: string[]) => {
    const r = run(['plan', '--platform', 'linux/amd64', ...args]);
    return {
      ...r,
      images:
        r.status === 0 ? (JSON.parse(r.stdout) as { include: { image: string }[] }).include.map((i) => i.image) : [],
    };
  };
  const files = [
    ['seed.app.example.toml', 'debian:bookworm-slim'],
    ['seed.app.docker.toml', 'debian:bookworm-slim'],
    ['v0.18.app.example.toml', 'memohai/workspace:debian'],
    ['v0.18.app.docker.toml', 'memohai/workspace:debian'],
  ] as const;

  for (const [name, image] of files) {
    it(`${name}: read as it is, its default image planned`, () => {
      const r = plan(['--config', fixture(name)]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.images).toEqual([image]);
    });
    it(`${name} with registry = "memoh.cn": the default image is prefixed, a listed image is not`, () => {
      const file = withRegistry(name);
      const d = plan(['--config', file]);
      expect(d.status, d.stderr).toBe(0);
      expect(d.images).toEqual([`memoh.cn/${image}`]);
      const listed = plan(['--config', file, '--image', 'memohai/workspace:debian', '--image', 'alpine:3.22']);
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.images).toEqual(['memohai/workspace:debian', 'alpine:3.22']);
    });
  }

  it('with no config: memohai/workspace:debian, and --registry prefixes it', () => {
    expect(plan([]).images).toEqual(['memohai/workspace:debian']);
    expect(plan(['--registry', 'memoh.cn']).images).toEqual(['memoh.cn/memohai/workspace:debian']);
    expect(plan(['--preset', 'cn']).images).toEqual(['memoh.cn/memohai/workspace:debian']);
  });

  it("Memoh's refusals are exit 2 with the key and the fix", () => {
    const both = join(dir, 'both.toml');
    writeFileSync(
      both,
      '[server]\naddr = ":8080"\n[container]\nbackend = "docker"\ndefault_image = "a:1"\n[workspace]\ndefault_image = "b:2"\n',
    );
    const r1 = plan(['--config', both]);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(
      /both\.toml \[container\] default_image: workspace keys are set in both \[container\] and \[workspace\].*Fix: move the \[workspace\] keys into \[container\]/,
    );
    const mcp = join(dir, 'mcp.toml');
    writeFileSync(mcp, '[server]\naddr = ":8080"\n[mcp]\nimage = "memohai/mcp:latest"\n');
    const r2 = plan(['--config', mcp]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/mcp\.toml \[mcp\]: was replaced by the workspace keys of \[container\]/);
    const strict = join(dir, 'strict.toml');
    writeFileSync(strict, '[server]\naddr = ":8080"\n[container]\nbackend = "docker"\n[bridge_tls]\nmode = "strict"\n');
    const r3 = plan(['--config', strict]);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/instance_id: is required when strict\.toml \[bridge_tls\] mode is "strict"/);
    const r4 = plan(['--memoh', 'v0.17']);
    expect(r4.status).toBe(2);
    expect(r4.stderr).toMatch(/--memoh: "v0\.17" is not allowed\. Fix: use one of: auto, v3, v0\.18/);
  });
});

describe('mirror --compose with the default image, from dist/', () => {
  it("pairs Memoh's compose services and adds the workspace default image, by the overlay's registry or --registry", () => {
    const args = [
      'mirror',
      '--compose',
      join(REPO, 'test/mirror/fixtures/docker-compose.yml'),
      '--overlay',
      join(REPO, 'test/mirror/fixtures/docker-compose.cn.yml'),
      '--dry-run',
      '--json',
    ];
    const r = run(args);
    expect(r.status, r.stderr).toBe(0);
    const pairs = (
      JSON.parse(r.stdout) as { pairs: { label: string; mirror: { ref: string }; upstream: { ref: string } }[] }
    ).pairs;
    expect(pairs.map((p) => p.label)).toEqual(['postgres', 'migrate', 'server', 'web', 'memohai/workspace:debian']);
    expect(pairs.at(-1)).toMatchObject({
      mirror: { ref: 'memoh.cn/memohai/workspace:debian' },
      upstream: { ref: 'docker.io/memohai/workspace:debian' },
    });
    const other = run([...args, '--registry', 'mirror.example', '--default-image', 'debian:bookworm-slim']);
    expect(other.status, other.stderr).toBe(0);
    const last = (
      JSON.parse(other.stdout) as { pairs: { mirror: { ref: string }; upstream: { ref: string } }[] }
    ).pairs.at(-1);
    expect(last).toMatchObject({
      mirror: { ref: 'mirror.example/debian:bookworm-slim' },
      upstream: { ref: 'docker.io/library/debian:bookworm-slim' },
    });
  });
});
