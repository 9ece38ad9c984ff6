import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { docker } from '../core/docker.js';
import { EXIT, errorMessage } from '../core/errors.js';
import { guardStream, onSecret, redact } from '../core/redact.js';
import type { Reporter } from '../core/reporter.js';
import { Session } from '../core/session.js';
import { type PipelineRequest, type PipelineResult, runPipeline, toolkitCacheKey } from '../pipeline.js';
import { annotations, failureReason, toJson, toJUnit, toMarkdown } from '../report/index.js';
import { type ActionInputs, readInputs } from './inputs.js';
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
  const session = new Session({
    reporter,
    docker,
    signalWarning: (sig) => `${sig}: cancelling; the post step removes what was created`,
    abortReason: (sig) => `cancelled by ${sig}`,
    // Saved on every change, so a post step after a killed main still knows what to remove.
    onLedgerChange: (entries) => state.saveLedger(entries),
  });
  // Set once the body ran to its end: an error (or a signal) removes everything now, keep or not; the
  // post step retries whatever is left in state.
  let keep = false;
  let finished = false;
  await session.run(
    async (ctx) => {
      const inputs = readInputs();
      await publish(inputs, await runPipeline(await pipelineRequest(inputs), ctx));
      keep = inputs.options.smoke.keep;
      finished = true;
      return EXIT.ok;
    },
    ({ message, fix, code }) => {
      core.setOutput('result', 'failure');
      core.setFailed(`${message}${fix ? ` Fix: ${fix}` : ''}`);
      // The same exit code as the CLI for bad input; any non-zero fails the step.
      process.exitCode = code;
    },
  );
  await session.close(keep);
  if (finished) state.markMainDone();
}

/** Where toolkits are assembled and the report files written. */
const outDir = () => join(process.env.RUNNER_TEMP || tmpdir(), 'memoh-workspace');

/** The pipeline's request, once the toolkit cache is restored (and asked to be saved when it missed). */
async function pipelineRequest(inputs: ActionInputs): Promise<PipelineRequest> {
  mkdirSync(outDir(), { recursive: true });
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
  return { options, mode: inputs.mode, workDir: outDir(), credentials: inputs.credentials };
}

/** The report files, the job summary, one annotation per problem, the outputs, and the step's verdict. */
async function publish(inputs: ActionInputs, result: PipelineResult): Promise<void> {
  const { report } = result;
  const reportPath = join(outDir(), 'report.json');
  const junitPath = join(outDir(), 'junit.xml');
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
  if (report.result === 'failure') core.setFailed(`memoh-workspace ${inputs.mode}: ${failureReason(report)}`);
}

await main();
