import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ArchiveCache } from '../../src/toolkit/cache.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('cache-test');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("sweeps a killed build's temp download, and leaves one still being written", async () => {
  const archives = join(dir, 'archives');
  mkdirSync(archives);
  const stale = join(archives, '.tmp-killed');
  const live = join(archives, '.tmp-live');
  writeFileSync(stale, 'partial');
  writeFileSync(live, 'partial');
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(stale, hourAgo, hourAgo);
  const w = await new ArchiveCache(archives).writer();
  await w.discard();
  expect(existsSync(stale)).toBe(false);
  expect(existsSync(live)).toBe(true);
});
