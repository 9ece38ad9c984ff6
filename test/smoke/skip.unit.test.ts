import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/core/check.js';
import { smokeSkip } from '../../src/pipeline.js';

// No engine: smokeSkip is the pure rule of why an image × platform is not smoked, reasons in precedence order.
const check = (id: string, status: Check['status']): Check => ({ id, status, detail: '' });
const passed = { status: 'pass' as const, checks: [check('image.pull', 'pass')] };
const failed = {
  status: 'fail' as const,
  checks: [check('image.pull', 'pass'), check('image.user', 'fail'), check('image.shell', 'fail')],
};

describe('smokeSkip', () => {
  it('smokes a validated image with a bridge and no failed toolkit', () => {
    expect(smokeSkip({ arch: 'amd64', validated: passed, bridge: true })).toBeUndefined();
  });

  it('a failed toolkit comes first and names the architecture', () => {
    expect(
      smokeSkip({ arch: 'arm64', validated: failed, bridge: false, toolkitFailed: 'the toolkit build failed' }),
    ).toBe('the toolkit build failed for arm64');
  });

  it('an image not validated is skipped before the bridge is asked for', () => {
    expect(smokeSkip({ arch: 'amd64', validated: undefined, bridge: false })).toBe('not validated');
  });

  it('a failed validation names its failed checks, in order', () => {
    expect(smokeSkip({ arch: 'amd64', validated: failed, bridge: true })).toBe(
      'validation failed (image.user, image.shell)',
    );
  });

  it('a validated image without a bridge is skipped for the bridge', () => {
    expect(smokeSkip({ arch: 'amd64', validated: passed, bridge: false })).toBe('no bridge');
  });

  it('a warning is not a failure', () => {
    expect(smokeSkip({ arch: 'amd64', validated: { ...passed, status: 'warn' }, bridge: true })).toBeUndefined();
  });
});
