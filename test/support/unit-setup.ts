import { ensureBuilt } from './cli.js';

/** The unit project's global setup: nothing but a current dist/ (no engine, no world). */
export function setup(): void {
  ensureBuilt();
}
