#!/usr/bin/env bash
# The test command (npm test): installs what the tests need if it is missing, builds the offline test
# world (cached), then runs both vitest projects, unit then world (vitest.config.ts). Safe to run on a fresh
# Debian 12 machine as root. One project alone: npm run test:unit (no engine needed) or npm run test:world.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash .ci/install-deps.sh; fi
[ -x node_modules/.bin/vitest ] || npm ci --no-audit --no-fund
bash test/world/build.sh
mkdir -p .tmp
rc=0
MEMOH_SKIP_WORLD_BUILD=1 node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@" || rc=$?
# One plain closing line that any CI reads: N passed, N failed, N skipped.
node -e 'const r=JSON.parse(require("fs").readFileSync(".tmp/vitest.json","utf8")); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' || true
exit $rc
