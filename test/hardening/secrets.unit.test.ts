import { describe, expect, it } from 'vitest';
import { addSecret, credentialsIn, redact, redactDeep } from '../../src/core/redact.js';

// The redactor in-process (no engine); the CLI and the Action against the world are in secrets.test.ts.

describe('the redactor', () => {
  it('masks userinfo with and without a scheme, up to the last @ of the authority', () => {
    expect(redact('"https://user:p@ss@host/x" and http://tok3n@h:5000/')).toBe(
      '"https://***@host/x" and http://***@h:5000/',
    );
    expect(redact('--image: "user:pw@host/x" is not valid')).toBe('--image: "***@host/x" is not valid');
    expect(redact('--bridge: "image:user:pw@host/x"')).toBe('--bridge: "***@host/x"');
    expect(redact('pull user:pw@myhost:5000/x')).toBe('pull ***@myhost:5000/x');
  });

  it('leaves digests, e-mail addresses, scp-style git remotes and plain references alone', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const text of [
      `debian:bookworm@${digest}`,
      'memoh-test/debian:amd64@sha256:29654d92e1a4',
      `docker.io/library/debian:12@${digest}`,
      'bob@example.com',
      'git@github.com:org/repo',
      'memoh.cn/postgres:18 ↔ docker.io/library/postgres:18',
    ]) {
      expect(redact(text)).toBe(text);
    }
  });

  it('masks registered secrets whole, the longer first, and cut short where text stops', () => {
    addSecret('pa55-word-one');
    addSecret('pa55-word-one-and-more');
    expect(redact('a pa55-word-one-and-more b pa55-word-one c')).toBe('a *** b *** c');
    expect(redact('stdout "0123 pa55-wo…" and "pa55-word"')).toBe('stdout "0123 ***…" and "***"');
    // A prefix that runs on into other text is not a cut secret.
    expect(redact('pa55-wonderful')).toBe('pa55-wonderful');
  });

  it('finds the credential of a URL to register: the password, else a lone token', () => {
    expect(credentialsIn('https://bob:s%40cret-1@h/ and https://ghp_token123@github.com/x')).toEqual([
      's%40cret-1',
      's@cret-1',
      'ghp_token123',
    ]);
    expect(credentialsIn('https://u:ab@h/')).toEqual([]); // too short to mask everywhere: the URL pattern covers it
  });

  it('redacts every string of a report, keys included, and keeps its shape', () => {
    const report = {
      rows: [{ image: 'https://u:x@h/i', n: 1, ok: true, none: null }],
      facts: { 'https://u:x@h': 'v' },
    };
    expect(redactDeep(report)).toEqual({
      rows: [{ image: 'https://***@h/i', n: 1, ok: true, none: null }],
      facts: { 'https://***@h': 'v' },
    });
  });

  it('handles 100 kB of hostile text in one pass (bounded patterns, no quadratic backtracking)', () => {
    for (const text of [
      'a.'.repeat(50_000),
      'a:b,'.repeat(25_000),
      `"${'a'.repeat(100_000)}`,
      `https://${'a:'.repeat(50_000)}`,
    ]) {
      expect(redact(text).length).toBeGreaterThan(0);
    }
  });
});
