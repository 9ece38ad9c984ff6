import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { docker } from '../core/docker.js';
import { describe, undo } from '../core/ledger.js';
import { guardStream } from '../core/redact.js';
import { state } from './state.js';

/**
 * The post step runs even when main failed or the job was cancelled: it removes every container and
 * directory main recorded, then saves the toolkit cache when main asked for it.
 */
// What post prints names containers and directories main made; redacted all the same, as main's output is.
guardStream(process.stdout, (line) => line.startsWith('::add-mask::'));
guardStream(process.stderr);

async function post(): Promise<void> {
  const entries = state.ledger();
  let failed = 0;
  // Containers before the directories they mount.
  for (const entry of [...entries].reverse()) {
    try {
      await undo(entry, docker, { onWait: (m) => core.info(m) });
      core.info(`removed ${describe(entry)}`);
    } catch (err) {
      failed++;
      core.warning(`could not remove ${describe(entry)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (entries.length === 0) core.info('nothing to clean up');
  const req = state.cacheRequest();
  if (req) {
    // A main step that was killed may have left half-written downloads in the cache dir: saving them under
    // the key would keep them for every later job, so only a main that ran to its end saves the cache.
    if (!state.mainDone()) {
      core.info('toolkit cache: not saved, the main step did not finish');
    } else if (!cache.isFeatureAvailable()) {
      core.info('toolkit cache: the Actions cache service is not available here; not saved');
    } else {
      try {
        await cache.saveCache(req.paths, req.key);
        core.info(`toolkit cache: saved as ${req.key}`);
      } catch (err) {
        // Another job saving the same key first is normal in a matrix.
        core.info(`toolkit cache: not saved (${err instanceof Error ? err.message : String(err)})`);
      }
    }
  }
  if (failed) core.warning(`${failed} resource(s) could not be removed`);
}

await post();
