import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { docker } from '../core/docker.js';
import { errorMessage } from '../core/errors.js';
import { CleanupLedger, describe } from '../core/ledger.js';
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
  // The ledger main saved, drained as main drains its own: newest first, containers before their dirs.
  const ledger = CleanupLedger.restore(entries, docker, { onWait: (m) => core.info(m) });
  const { errors } = await ledger.drain((entry) => core.info(`removed ${describe(entry)}`));
  for (const e of errors) core.warning(`could not remove ${e}`);
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
        core.info(`toolkit cache: not saved (${errorMessage(err)})`);
      }
    }
  }
  if (errors.length) core.warning(`${errors.length} resource(s) could not be removed`);
}

await post();
