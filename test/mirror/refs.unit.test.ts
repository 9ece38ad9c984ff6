import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { isLoopback, schemeFor } from '../../src/mirror/http.js';
import { imagePair } from '../../src/mirror/index.js';

describe('image pairs, resolved as Memoh does', () => {
  it('memoh.cn/postgres:18-alpine ↔ docker.io/library/postgres:18-alpine on registry-1.docker.io', () => {
    const p = imagePair('postgres:18-alpine', 'memoh.cn', '');
    expect(p.mirror).toEqual({
      ref: 'memoh.cn/postgres:18-alpine',
      host: 'memoh.cn',
      repository: 'postgres',
      reference: '18-alpine',
    });
    expect(p.upstream).toEqual({
      ref: 'docker.io/library/postgres:18-alpine',
      host: 'registry-1.docker.io',
      repository: 'library/postgres',
      reference: '18-alpine',
    });
  });

  it('user images, other registries, implicit latest and digests', () => {
    expect(imagePair('memohai/server', 'memoh.cn', '').upstream).toMatchObject({
      ref: 'docker.io/memohai/server:latest',
      repository: 'memohai/server',
      reference: 'latest',
    });
    expect(imagePair('memohai/server', 'memoh.cn', '').mirror).toMatchObject({
      ref: 'memoh.cn/memohai/server:latest',
      repository: 'memohai/server',
    });
    const ghcr = imagePair('ghcr.io/org/img:1', 'memoh.cn', '');
    expect(ghcr.upstream).toMatchObject({ host: 'ghcr.io', repository: 'org/img', reference: '1' });
    expect(ghcr.mirror).toMatchObject({ host: 'memoh.cn', repository: 'ghcr.io/org/img' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(imagePair(`debian:12@${d}`, 'memoh.cn', '').upstream.reference).toBe(d);
  });

  it('every Docker Hub alias speaks to registry-1.docker.io with library/ for official images', () => {
    for (const alias of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(imagePair(`${alias}/debian:12`, 'memoh.cn', '').upstream).toMatchObject({
        host: 'registry-1.docker.io',
        repository: 'library/debian',
      });
    }
  });

  it('--upstream HOST keeps the normalised repository path', () => {
    expect(imagePair('postgres:18', '127.0.0.1:5001', '127.0.0.1:5000').upstream).toEqual({
      ref: '127.0.0.1:5000/library/postgres:18',
      host: '127.0.0.1:5000',
      repository: 'library/postgres',
      reference: '18',
    });
  });

  it('input errors name the input', () => {
    expect(() => imagePair('debian', '', '')).toThrow(InputError);
    expect(() => imagePair('debian', '', '')).toThrow(/--registry/);
    expect(() => imagePair('Not Valid', 'memoh.cn', '')).toThrow(/--image/);
    expect(() => imagePair('debian', 'memoh.cn', 'https://x')).toThrow(/--upstream/);
  });
});

describe('plain HTTP only for loopback or registries marked insecure', () => {
  it('loopback hosts, with or without a port', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000', '::1'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['memoh.cn', '10.0.0.1:5000', '128.0.0.1', 'localhost.example.com'])
      expect(isLoopback(h), h).toBe(false);
  });
  it('https everywhere else, unless --insecure-registry names the host', () => {
    expect(schemeFor('memoh.cn', [])).toBe('https');
    expect(schemeFor('127.0.0.1:5000', [])).toBe('http');
    expect(schemeFor('registry.lan:5000', ['registry.lan:5000'])).toBe('http');
    expect(schemeFor('registry.lan:5000', ['registry.lan'])).toBe('https');
  });
});
