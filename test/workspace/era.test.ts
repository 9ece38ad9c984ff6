import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { docker } from '../../src/core/docker.js';
import { InputError } from '../../src/core/errors.js';
import { platformOf } from '../../src/core/platform.js';
import { bridgeEraFromBinary } from '../../src/workspace/bridge-source.js';
import { decideEra, smokeMany } from '../../src/workspace/smoke.js';
import { testContext } from '../support/context.js';
import { privateTmp } from '../support/tmp.js';
import { IMAGES } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

const tmp = privateTmp('era');
afterAll(() => tmp.restore());
const dir = tmp.fresh;

describe('the era a bridge binary says it is, without running it', () => {
  it("judges the test world's stand-ins: v3 as a guess (no full paths), v0.18 for certain", async () => {
    expect(await bridgeEraFromBinary(standinBridge('amd64'))).toMatchObject({ era: 'v3', guess: true });
    expect(await bridgeEraFromBinary(standinBridge('amd64', 'v0.18'))).toMatchObject({ era: 'v0.18' });
    expect((await bridgeEraFromBinary(standinBridge('amd64', 'v0.18')))?.guess).toBeUndefined();
  });
});

describe('the era, decided once before the container exists', () => {
  const v3Bridge = standinBridge('amd64');
  it("the user's choice, then the image's contract, then the bridge binary, then today's Memoh as a guess", async () => {
    expect((await decideEra({ memoh: 'v3', backend: 'containerd', bridgePath: v3Bridge })).judgement).toMatchObject({
      era: 'v3',
      by: 'option',
    });
    const image = { era: 'v0.18' as const, why: 'contract_version 2' };
    const byImage = await decideEra({ memoh: 'auto', backend: 'containerd', bridgePath: v3Bridge, imageHint: image });
    // The v3 stand-in disagrees: the image wins, said to be a guess, and the shape is v0.18's.
    expect(byImage.judgement).toMatchObject({
      era: 'v0.18',
      by: 'image',
      guess: true,
      why: expect.stringMatching(/contract_version 2; but .*mcpcontainer/),
    });
    expect(byImage.shape.args[0]).toBe('/usr/bin/tini');
    expect((await decideEra({ memoh: 'auto', backend: 'containerd', bridgePath: v3Bridge })).judgement).toMatchObject({
      era: 'v3',
      by: 'bridge',
    });
    const nothing = await decideEra({ memoh: 'auto', backend: 'docker', bridgePath: join(dir(), 'missing') });
    expect(nothing.judgement).toMatchObject({ era: 'v0.18', by: 'default', guess: true });
    expect(nothing.shape.transport).toBe('tcp');
  });

  it('a docker backend for a v3 workspace is refused, naming --backend and --memoh', async () => {
    const err = await decideEra({ memoh: 'auto', backend: 'docker', bridgePath: v3Bridge }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^--backend: Memoh v3 had no docker backend.*Fix: .*--memoh v0\.18/);
  });

  it('smokeMany refuses it before any workspace starts, even when other requests are fine', async () => {
    const ctx = testContext();
    const okId = `era-ok-${randomBytes(3).toString('hex')}`;
    const base = {
      image: 'w',
      platform: platformOf('amd64'),
      timeoutSeconds: 30,
      service: 'auto' as const,
      keep: false,
    };
    try {
      const err = await smokeMany(
        [
          {
            ...base,
            resolved: `docker.io/${IMAGES.workspaceAmd64}`,
            bridgePath: standinBridge('amd64', 'v0.18'),
            botId: okId,
            memoh: 'v0.18',
            backend: 'docker',
          },
          {
            ...base,
            resolved: `docker.io/${IMAGES.debianAmd64}`,
            bridgePath: v3Bridge,
            botId: `${okId}-bad`,
            memoh: 'v3',
            backend: 'docker',
          },
        ],
        2,
        ctx,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      // Had the good request been started, its container would exist by now.
      await new Promise((r) => setTimeout(r, 3000));
      await expect(docker().getContainer(`workspace-${okId}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(ctx.ledger.entries()).toEqual([]);
    } finally {
      await ctx.ledger.drain();
    }
  }, 60_000);
});
