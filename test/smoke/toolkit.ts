import { resolveOptions } from '../../src/config/index.js';
import type { Arch } from '../../src/core/platform.js';
import { buildToolkit } from '../../src/toolkit/index.js';
import type { ToolkitResult } from '../../src/toolkit/types.js';
import { testContext } from '../support/context.js';
import { mirrorLayer } from '../support/mirror.js';
import { startMirror } from '../world/mirror/server.mjs';

/**
 * A real toolkit for `arch`, built by the toolkit stage from the test world's loopback mirror. The mirror
 * offers arm64 Node.js only for 24.21.0 (ARM64_NODE).
 */
export const ARM64_NODE = '24.21.0';

export async function buildTestToolkit(arch: Arch, out: string): Promise<ToolkitResult> {
  const mirror = await startMirror();
  try {
    const o = resolveOptions([mirrorLayer(mirror)], {});
    const ctx = testContext();
    try {
      const nodeVersion = arch === 'arm64' ? ARM64_NODE : o.toolkit.nodeVersion;
      return await buildToolkit({ ...o.toolkit, nodeVersion, cacheDir: '', out, arch }, ctx);
    } finally {
      await ctx.ledger.drain();
    }
  } finally {
    await mirror.close();
  }
}
