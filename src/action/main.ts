import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { docker } from '../core/docker.js';
import { describeError, EXIT, errorMessage } from '../core/errors.js';
import { CleanupLedger } from '../core/ledger.js';
import { guardStream, onSecret, redact } from '../core/redact.js';
import type { Reporter } from '../core/reporter.js';
import { runPipeline, toolkitCacheKey } from '../pipeline.js';
import { annotations, toJson, toJUnit, toMarkdown } from '../report/index.js';
import { readInputs } from './inputs.js';
import { state } from './state.js';

// Every secret found in the inputs is masked by the runner too (core.setSecret), and everything this
// process prints is redacted before it is escaped into a workflow command, where a secret containing
// `%`, `:` or `,` would no longer match. `::add-mask::` lines must carry the secret they mask.
onSecret((s) => core.setSecret(s));
guardStream(process.stdout, (line) => line.startsWith('::add-mask::'));
guardStream(process.stderr);

const reporter: Reporter = {
  info: (m) => core.info(redact(m)),
  warn: (m) => core.warning(redact(m)),
  debug: (m) => core.debug(redact(m)),
  progress: (key, m) => core.info(redact(`${key}: ${m}`)),
  group: (name, fn) => core.group(redact(name), fn),
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
        reporter.info(`toolkit cache: restore failed (${errorMessage(err)}); building`);
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
    writeFileSync(reportPath, toJson(report));
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
    if (report.result === 'failure')
      core.setFailed(
        `memoh-workspace ${inputs.mode}: ${report.status === 'fail' ? 'checks failed' : 'warnings (fail-on: warning)'}`,
      );
    if (!options.smoke.keep) {
      const { errors } = await ledger.drain();
      for (const e of errors) reporter.warn(`cleanup: ${e}`);
    }
    state.markMainDone();
  } catch (err) {
    core.setOutput('result', 'failure');
    const { message, fix, code } = describeError(err);
    core.setFailed(`${message}${fix ? ` Fix: ${fix}` : ''}`);
    // The same exit code as the CLI for bad input; any non-zero fails the step.
    if (code === EXIT.usage) process.exitCode = EXIT.usage;
    // Remove now what can be removed; the post step retries whatever is left in state.
    await ledger.drain();
  }
}

await main();
