import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingReporter } from '../../src/core/reporter.js';
import { Fetcher } from '../../src/toolkit/fetch.js';
import { RangedBody } from '../../src/toolkit/ranged.js';
import { rmrf, tempDir } from '../support/tmp.js';
import { type Mirror, startMirror } from '../world/mirror/server.mjs';

/**
 * Whether a large file is split into ranges, decided on real loopback HTTP (the test world's mirror serving
 * one file): the decision must be the line's, not this process's. A block of the event loop is made here on
 * purpose, synchronously, as a busy build or a loaded machine makes one.
 */
const SIZE = 24 << 20;
let dir: string;
let mirror: Mirror;
let data: Buffer;

beforeAll(async () => {
  dir = tempDir('ranged');
  writeFileSync(join(dir, '.recipe'), 'one file, for the split decision\n');
  data = randomBytes(SIZE);
  writeFileSync(join(dir, 'big.bin'), data);
  mirror = await startMirror({ root: dir });
});
afterAll(async () => {
  await mirror?.close();
  rmrf(dir);
});

/** Streams big.bin, holding the event loop `blockMs` as soon as the response is there; the body and its bytes. */
async function fetchBlocked(blockMs: number): Promise<{ connections: number; bytes: Buffer; requests: number }> {
  mirror.requests.length = 0;
  const f = new Fetcher(recordingReporter(), new AbortController().signal);
  try {
    const { body } = await f.stream({ file: 'big.bin', url: `${mirror.url}/big.bin`, option: '--node-mirror' });
    const until = performance.now() + blockMs;
    while (performance.now() < until) {
      // the process is busy: the socket fills, nothing is read
    }
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
    expect(body).toBeInstanceOf(RangedBody);
    return {
      connections: (body as RangedBody).connections,
      bytes: Buffer.concat(chunks),
      requests: mirror.requests.length,
    };
  } finally {
    f.close();
  }
}

describe('splitting a large file into ranges', () => {
  it('loopback read late by a blocked process is timed again, found fast, and stays one connection', async () => {
    // Timed three times: a machine loaded by other tests may slow one later window too (without re-timing the
    // blocked one, all three are split). The mirror runs in this process, so it shares the block.
    const runs = [await fetchBlocked(80), await fetchBlocked(80), await fetchBlocked(80)];
    for (const r of runs) expect(r.bytes.equals(data)).toBe(true);
    const whole = runs.filter((r) => r.connections === 1 && r.requests === 1);
    expect(whole.length, JSON.stringify(runs.map((r) => [r.connections, r.requests]))).toBeGreaterThanOrEqual(2);
  });

  it('a slow line read late is still split: the window after the block is the line alone', async () => {
    mirror.setLine({ bytesPerSecond: 12e6, shared: false });
    try {
      const r = await fetchBlocked(80);
      expect(r.bytes.equals(data)).toBe(true);
      expect(r.connections).toBe(4);
      expect(r.requests).toBeGreaterThan(1);
    } finally {
      mirror.setLine(undefined);
    }
  });
});
