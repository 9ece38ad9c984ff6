import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

/**
 * The stand-in's own Go tests (go vet of both binaries, then the v0.18 binary's tests, every break's probe
 * included): the stand-in follows the references, and a break that no probe can see would let a suite check
 * pass for the wrong reason. Run here so CI runs them; test.sh works in a temp GOPATH and removes it.
 */
it('the stand-in bridge passes its Go tests (go vet, v0.18 behaviours, every break caught)', async () => {
  const script = fileURLToPath(new URL('./test.sh', import.meta.url));
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code, out.slice(-6000)).toBe(0);
  expect(out).toMatch(/^ok\s+memohstandin\b/m);
}, 600_000);
