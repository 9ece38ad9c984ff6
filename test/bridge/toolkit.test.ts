import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_TEMPLATE, runSmokeSuite } from '../../src/bridge/index.js';
import type { ToolkitResult } from '../../src/toolkit/types.js';
import { buildTestToolkit } from '../smoke/toolkit.js';
import { tempDir } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { ctx, startWorkspaceStandin, table, type WorkspaceStandin } from './fixture.js';

const TOOLKIT_CHECKS = ['toolkit.node', 'toolkit.npm', 'toolkit.uv', 'toolkit.musl-selection'];

/** The toolkit checks against a toolkit the toolkit stage built from the test world's mirror. */
describe('toolkit checks with a real toolkit', () => {
  let dir: string;
  let toolkit: ToolkitResult;
  beforeAll(async () => {
    dir = tempDir('bridge-test-toolkit');
    const t0 = performance.now();
    toolkit = await buildTestToolkit('amd64', join(dir, 'toolkit'));
    console.log(`toolkit built in ${Math.round(performance.now() - t0)} ms`);
  }, 300_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['debian', IMAGES.debianAmd64, 'glibc'],
    ['musl', IMAGES.muslAmd64, 'musl'],
  ] as const)(
    '%s',
    async (_n, image, libc) => {
      let ws: WorkspaceStandin | undefined;
      try {
        ws = await startWorkspaceStandin({ era: 'v3', image: `docker.io/${image}`, toolkitDir: join(dir, 'toolkit') });
        const m = toolkit.manifest;
        const checks = await runSmokeSuite(
          ws.connection,
          {
            era: 'v3',
            libc,
            probeTemplate: PROBE_TEMPLATE,
            toolkit: { nodeVersion: m.node.version, npmVersion: m.npm.version, uvVersion: m.uv.version },
          },
          {},
          ctx(),
          { only: TOOLKIT_CHECKS },
        );
        console.log(table(checks));
        const by = Object.fromEntries(checks.map((c) => [c.id, c]));
        expect(checks.filter((c) => c.status !== 'pass')).toEqual([]);
        expect(by['toolkit.node']!.detail).toBe(`node --version → v${m.node.version} (/opt/memoh/toolkit/bin/node)`);
        expect(by['toolkit.npm']!.detail).toBe(`npm --version → ${m.npm.version} (/opt/memoh/toolkit/bin/npm)`);
        expect(by['toolkit.uv']!.detail).toMatch(
          new RegExp(`^uv --version → uv ${m.uv.version.replace(/\./g, '\\.')}`),
        );
        expect(by['toolkit.musl-selection']!.detail).toBe(
          libc === 'musl'
            ? 'musl image: the wrapper runs node-musl, LD_LIBRARY_PATH=/opt/memoh/toolkit/node-musl/runtime-lib:/smoke-keep'
            : 'glibc image: the wrapper runs node-glibc',
        );
      } finally {
        await ws?.remove();
      }
    },
    120_000,
  );
});
