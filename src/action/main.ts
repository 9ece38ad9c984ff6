import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { docker } from '../core/docker.js';
import { InputError, StageError, errorMessage } from '../core/errors.js';
import { CleanupLedger } from '../core/ledger.js';
import type { Reporter } from '../core/reporter.js';
import { runPipeline, toolkitCacheKey } from '../pipeline.js';
import { annotations, toJUnit, toMarkdown } from '../report/index.js';
import { readInputs } from './inputs.js';
import { state } from './state.js';

const reporter: Reporter = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  progress: (key, m) => core.info(`${key}: ${m}`),
  group: (name, fn) => core.group(name, fn),
};

async function main(): Promise<void> {
  const ledger = new CleanupLedger(docker, { onWait: (m) => core.warning(m) });
  // Saved on every change, so a post step after a killed main still knows what to remove.
  ledger.onChange((entries) => state.saveLedger(entries));
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      core.warning(`${sig}: cancelling; the post step removes what was created`);
      abort.abort(new Error(`cancelled by ${sig}`));
    });
  }
  try {
    const inputs = readInputs();
    const runnerTemp = process.env.RUNNER_TEMP || tmpdir();
    const outDir = join(runnerTemp, 'memoh-workspace');
    mkdirSync(outDir, { recursive: true });
    const { options } = inputs;

    if (inputs.cache && inputs.mode !== 'plan' && cache.isFeatureAvailable()) {
      const key = toolkitCacheKey(options);
      const hit = await cache.restoreCache([options.toolkit.cacheDir], key).catch((err: unknown) => {
        core.info(`toolkit cache: restore failed (${errorMessage(err)}); building`);
        return undefined;
      });
      core.info(hit ? `toolkit cache: restored ${hit}` : 'toolkit cache: miss');
      if (hit !== key) state.saveCacheRequest({ key, paths: [options.toolkit.cacheDir] });
    }

    const result = await runPipeline(
      { options, mode: inputs.mode, workDir: outDir, credentials: inputs.credentials },
      { reporter, ledger, signal: abort.signal },
    );
    const { report } = result;
    const reportPath = join(outDir, 'report.json');
    const junitPath = join(outDir, 'junit.xml');
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(junitPath, toJUnit(report));
    await core.summary.addRaw(toMarkdown(report), true).write();
    for (const a of annotations(report)) {
      if (a.level === 'error') core.error(a.message, { title: a.title });
      else core.warning(a.message, { title: a.title });
    }
    core.setOutput('result', report.result);
    core.setOutput('report', reportPath);
    core.setOutput('junit', junitPath);
    core.setOutput('toolkit-path', result.toolkitPaths.join('\n'));
    core.setOutput('matrix', JSON.stringify(result.matrix));
    if (report.result === 'failure') core.setFailed(`memoh-workspace ${inputs.mode}: ${report.status === 'fail' ? 'checks failed' : 'warnings (fail-on: warning)'}`);
    if (!options.smoke.keep) {
      const { errors } = await ledger.drain();
      for (const e of errors) core.warning(`cleanup: ${e}`);
    }
    state.markMainDone();
  } catch (err) {
    core.setOutput('result', 'failure');
    if (err instanceof InputError) {
      core.setFailed(err.message);
      // The same exit code as the CLI for bad input; any non-zero fails the step.
      process.exitCode = 2;
    }
    else if (err instanceof StageError) core.setFailed(`${err.message}${err.fix ? ` Fix: ${err.fix}` : ''}`);
    else core.setFailed(errorMessage(err));
    // Remove now what can be removed; the post step retries whatever is left in state.
    await ledger.drain();
  }
}

await main();
