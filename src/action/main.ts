import * as core from '@actions/core';

// The Actions face: inputs → the same typed options as the CLI → the pipeline (issue 7 fills this in).
try {
  core.info(`memoh-workspace ${__VERSION__}`);
  core.setFailed('the Action surface is not built yet');
} catch (err) {
  core.setFailed(err instanceof Error ? err.message : String(err));
}
