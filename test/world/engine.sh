#!/usr/bin/env bash
# Test-world engine: make sure a Docker daemon answers and qemu-aarch64 binfmt (flag F) is registered.
#
#  * If a daemon already answers (DOCKER_HOST or /var/run/docker.sock), it is left alone.
#  * Otherwise (root, Debian's docker.io installed) dockerd is started in the background, detached
#    (setsid + nohup), logging to /var/log/memoh-dockerd.log, storage driver overlay2. Never a second one:
#    the pidfile /var/run/docker.pid and the process behind it are checked first.
#  * Waits (bounded by MEMOH_ENGINE_TIMEOUT seconds, default 60) until `docker version` answers.
#
# Idempotent; prints what it did. Exit status non-zero with a message when the engine cannot be made to answer.
set -euo pipefail

log() { echo "engine: $*"; }
die() { echo "engine: ERROR: $*" >&2; exit 1; }

TIMEOUT="${MEMOH_ENGINE_TIMEOUT:-60}"
DOCKERD_LOG=/var/log/memoh-dockerd.log
PIDFILE=/var/run/docker.pid

# Prefer Debian's client (matches the daemon); any docker client on PATH works too.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER="$(command -v docker || true)"; fi
[ -n "$DOCKER" ] || die "no docker client found (install Debian's docker.io: .ci/install-deps.sh)"

answers() { timeout 10 "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------------- binfmt
ensure_binfmt() {
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [ "$(uname -m)" = aarch64 ]; then log "binfmt: host is aarch64, no emulation needed"; return 0; fi
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    if [ "$(id -u)" != 0 ]; then log "binfmt: WARNING binfmt_misc not mounted and not root; arm64 images will not run"; return 0; fi
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
      && log "binfmt: mounted binfmt_misc" \
      || { log "binfmt: WARNING cannot mount binfmt_misc; arm64 images will not run"; return 0; }
  fi
  if [ -e "$entry" ] && grep -q '^enabled' "$entry" && grep -q '^flags:.*F' "$entry"; then
    log "binfmt: qemu-aarch64 already registered ($(grep '^flags' "$entry"))"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then log "binfmt: WARNING qemu-aarch64 not registered with flag F and not root"; return 0; fi
  if [ -e "$entry" ]; then
    # Registered but disabled or without F: drop it and register again with F.
    echo -1 > "$entry" || true
  fi
  if command -v update-binfmts >/dev/null 2>&1 && [ -f /usr/share/binfmts/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  if ! { [ -e "$entry" ] && grep -q '^flags:.*F' "$entry"; }; then
    [ -e "$entry" ] && { echo -1 > "$entry" || true; }
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf line
    [ -f "$conf" ] || die "binfmt: $conf missing (install qemu-user-static)"
    line="$(grep -v '^#' "$conf" | grep ':qemu-aarch64:' | head -n1)"
    case "$line" in *:) ;; *) line="${line%:*}:$(sed 's/[^FOPC]//g' <<<"${line##*:}")";; esac
    case "${line##*:}" in *F*) ;; *) line="${line}F";; esac
    printf '%s' "$line" > /proc/sys/fs/binfmt_misc/register || die "binfmt: registering qemu-aarch64 failed"
    log "binfmt: registered qemu-aarch64 from $conf"
  else
    log "binfmt: enabled qemu-aarch64 via update-binfmts"
  fi
  grep -q '^flags:.*F' "$entry" || die "binfmt: qemu-aarch64 registered without flag F: $(grep '^flags' "$entry")"
  log "binfmt: $(grep '^interpreter' "$entry"), $(grep '^flags' "$entry")"
}

# ---------------------------------------------------------------------------------------------------- dockerd
dockerd_pid() {
  # Prints the pid of a running dockerd recorded in the pidfile, or of any running dockerd process.
  local pid
  if [ -s "$PIDFILE" ]; then
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ]; then echo "$pid"; return 0; fi
  fi
  pid="$(pgrep -x dockerd 2>/dev/null | head -n1 || true)"
  [ -n "$pid" ] && { echo "$pid"; return 0; }
  return 1
}

ensure_engine() {
  if answers; then
    log "docker daemon already answers ($("$DOCKER" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null)); left alone"
    return 0
  fi
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix:///var/run/docker.sock}" = "$DOCKER_HOST" ] \
     && [ "${DOCKER_HOST#unix:///run/docker.sock}" = "$DOCKER_HOST" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local dockerd for a remote engine"
  fi
  local pid
  if pid="$(dockerd_pid)"; then
    log "dockerd already running (pid $pid) but not answering yet; waiting"
  else
    [ "$(id -u)" = 0 ] || die "no docker daemon answers and not root: cannot start dockerd"
    local dockerd
    dockerd="$(command -v dockerd || true)"; [ -n "$dockerd" ] || dockerd=/usr/sbin/dockerd
    [ -x "$dockerd" ] || die "dockerd not found (install Debian's docker.io: .ci/install-deps.sh)"
    # A stale pidfile (process gone) would make dockerd refuse to start.
    if [ -e "$PIDFILE" ]; then log "removing stale $PIDFILE"; rm -f "$PIDFILE"; fi
    # Managed containerd leaves its own pidfile; if it is stale, dockerd restarts it itself.
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    log "starting $dockerd (storage overlay2, log $DOCKERD_LOG)"
    {
      echo "==== $(date -u +%FT%TZ) memoh engine.sh starting dockerd"
    } >>"$DOCKERD_LOG"
    # setsid: own session, so it survives the caller's job/process group being killed.
    # 8>&-: the daemon must not inherit our lock, or every later engine.sh would wait for it forever.
    setsid nohup "$dockerd" --storage-driver=overlay2 --pidfile="$PIDFILE" \
      -H unix:///var/run/docker.sock >>"$DOCKERD_LOG" 2>&1 </dev/null 8>&- &
    pid=$!
    log "dockerd started (pid $pid)"
  fi
  local waited=0
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null && ! dockerd_pid >/dev/null; then
      echo "---- last lines of $DOCKERD_LOG:" >&2; tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd exited before answering"
    fi
    if [ "$waited" -ge "$TIMEOUT" ]; then
      echo "---- last lines of $DOCKERD_LOG:" >&2; tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd did not answer within ${TIMEOUT}s"
    fi
    sleep 1; waited=$((waited + 1))
  done
  log "docker daemon answers after ${waited}s ($("$DOCKER" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null))"
}

# One engine.sh at a time: two concurrent callers must not both start a dockerd.
if [ "$(id -u)" = 0 ]; then
  exec 8>/var/run/memoh-engine.lock
  flock -w $((TIMEOUT + 30)) 8 || die "another engine.sh held /var/run/memoh-engine.lock too long"
fi
ensure_engine
ensure_binfmt
log "ok"
