import { describe, expect, it } from 'vitest';
import { runCliSync as run } from '../support/cli.js';

// The one CLI test that needs the engine; the rest (no engine) are in cli.unit.test.ts.
describe('memoh-workspace CLI', () => {
  it('doctor --json reports the engine it found and exits 0', () => {
    const r = run(['doctor', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.engine.reachable).toBe(true);
    expect(report.engine.apiVersion).toMatch(/^1\.\d+$/);
    expect(report.engine.storageDriver).toBeTruthy();
    expect(['amd64', 'arm64']).toContain(report.host.arch);
    expect(report.disk.length).toBeGreaterThan(0);
    expect(report.disk[0].freeBytes).toBeGreaterThan(0);
  });
});
