#!/usr/bin/env bash
# Moves the major tag (v1) to a release tag (v1.4.2) and pushes it, as well-kept actions do, so that
# `uses: memohai/workspace-action@v1` gets every v1 release. Run by .github/workflows/release.yml.
#
#   scripts/move-major-tag.sh TAG [REMOTE]       TAG: the release tag, vMAJOR.MINOR.PATCH; REMOTE: origin
#
# Leaves the major tag alone (exit 0, saying why) for a tag that is not vX.Y.Z (a pre-release such as
# v1.5.0-rc.1 among them), and for a release older than the newest of its major: a fix released on an
# old minor line must not pull v1 back.
set -euo pipefail
tag=${1:?usage: move-major-tag.sh TAG [REMOTE]}
remote=${2:-origin}
if ! [[ $tag =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "$tag is not vMAJOR.MINOR.PATCH: no major tag moved"
  exit 0
fi
major="v${BASH_REMATCH[1]}"
git fetch --quiet --force --tags "$remote"
newest=$(git tag --list "$major.*.*" | grep -E "^$major\.[0-9]+\.[0-9]+$" | sort -V | tail -n 1)
if [ "$newest" != "$tag" ]; then
  echo "$tag is older than $newest: $major stays where it is"
  exit 0
fi
commit=$(git rev-parse "$tag^{commit}")
if [ "$(git rev-parse --verify --quiet "$major^{commit}" || true)" = "$commit" ]; then
  echo "$major is already at $tag ($commit)"
  exit 0
fi
git tag --force --annotate "$major" --message "$major: $tag" "$commit"
git push --force "$remote" "refs/tags/$major"
echo "$major now points at $tag ($commit)"
