import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { normalise, resolveImage } from '../../src/image/reference.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe("Memoh's image reference rules", () => {
  it.each([
    // a bare name gets docker.io/library/
    ['debian', 'docker.io/library/debian:latest', 'docker.io', 'library/debian', 'latest'],
    ['debian:bookworm-slim', 'docker.io/library/debian:bookworm-slim', 'docker.io', 'library/debian', 'bookworm-slim'],
    ['my.image', 'docker.io/library/my.image:latest', 'docker.io', 'library/my.image', 'latest'],
    // user/name gets docker.io/
    ['memoh-test/debian:amd64', 'docker.io/memoh-test/debian:amd64', 'docker.io', 'memoh-test/debian', 'amd64'],
    ['org/team/img', 'docker.io/org/team/img:latest', 'docker.io', 'org/team/img', 'latest'],
    // a first segment with `.` or `:` or `localhost` is a registry
    ['ghcr.io/org/img:1', 'ghcr.io/org/img:1', 'ghcr.io', 'org/img', '1'],
    ['127.0.0.1:5000/img:t', '127.0.0.1:5000/img:t', '127.0.0.1:5000', 'img', 't'],
    ['registry:5000/img', 'registry:5000/img:latest', 'registry:5000', 'img', 'latest'],
    ['localhost/img', 'localhost/img:latest', 'localhost', 'img', 'latest'],
    ['localhost:5000/a/b:c', 'localhost:5000/a/b:c', 'localhost:5000', 'a/b', 'c'],
  ])('%s → %s', (input, resolved, registry, repository, tag) => {
    const r = resolveImage(input);
    expect(r).toMatchObject({ input, resolved, registry, repository, tag });
  });

  it('keeps a digest and adds no tag', () => {
    const r = resolveImage(`debian@${digest}`);
    expect(r).toMatchObject({ resolved: `docker.io/library/debian@${digest}`, repository: 'library/debian', digest });
    expect(r.tag).toBeUndefined();
    expect(resolveImage(`ghcr.io/o/i:1@${digest}`)).toMatchObject({
      tag: '1',
      digest,
      resolved: `ghcr.io/o/i:1@${digest}`,
    });
  });

  it('with a registry mirror: REGISTRY/IMAGE, not normalised (no library/, no docker.io)', () => {
    expect(resolveImage('debian:bookworm-slim', 'memoh.cn')).toMatchObject({
      resolved: 'memoh.cn/debian:bookworm-slim',
      registry: 'memoh.cn',
      repository: 'debian',
      tag: 'bookworm-slim',
    });
    expect(resolveImage('user/name', 'memoh.cn').resolved).toBe('memoh.cn/user/name:latest');
    expect(resolveImage('img:1', '127.0.0.1:5000').resolved).toBe('127.0.0.1:5000/img:1');
    // Memoh prefixes even a reference that names its own registry.
    expect(resolveImage('ghcr.io/org/img:1', 'memoh.cn')).toMatchObject({
      resolved: 'memoh.cn/ghcr.io/org/img:1',
      repository: 'ghcr.io/org/img',
    });
  });

  it('normalise() is the bare rule without tags', () => {
    expect(normalise('debian')).toBe('docker.io/library/debian');
    expect(normalise('a/b')).toBe('docker.io/a/b');
    expect(normalise('a.b/c')).toBe('a.b/c');
    expect(normalise('a:1/c')).toBe('a:1/c');
    expect(normalise('localhost/c')).toBe('localhost/c');
  });

  it.each([
    'UPPER',
    'Debian:1',
    'a b',
    '$(rm -rf /)',
    '`id`',
    'x;rm -rf /',
    '../x',
    './x',
    '/abs',
    'a//b',
    'debian:',
    ':tag',
    '-x',
    'a/-b',
    '',
    'x'.repeat(600),
    `debian@sha256:${'z'.repeat(64)}`,
    'a\nb',
  ])('rejects %j as an input error naming the input', (bad) => {
    let err: unknown;
    try {
      resolveImage(bad, '', '--image');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe('--image');
    expect((err as InputError).message).toMatch(/not a valid image reference.*Fix:/);
  });

  it.each(['https://memoh.cn', 'memoh.cn/path', 'a b', 'memoh.cn:port', '$(id)', '-memoh.cn'])(
    'rejects registry %j',
    (bad) => {
      expect(() => resolveImage('debian', bad)).toThrow(InputError);
      expect(() => resolveImage('debian', bad)).toThrow(/registry: .*not a registry host/);
    },
  );
});
