#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#
# - If an engine already answers (with the current DOCKER_HOST / context),
#   do nothing: never disturb a running engine (e.g. Docker Desktop).
# - Otherwise install Debian's docker.io if dockerd is missing, and start
#   `dockerd --storage-driver=vfs --iptables=false --bridge=none` in the
#   background (works in unprivileged-ish CI containers without overlayfs
#   or iptables), then wait for it to answer.
#
# Idempotent: a second run is a fast no-op.
set -euo pipefail

log() { echo "ensure-docker: $*" >&2; }

# Debian's docker.io installs /usr/bin/docker and /usr/sbin/dockerd;
# make sure the sbin dirs are on PATH (non-login root shells may lack them).
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    exit 0
fi

case "${DOCKER_HOST:-}" in
    ""|unix:///var/run/docker.sock|unix:///run/docker.sock) ;;
    *)
        log "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local dockerd. Fix or unset DOCKER_HOST."
        exit 1 ;;
esac

if [ "$(uname -s)" != "Linux" ]; then
    log "docker does not answer and this is not Linux; start Docker Desktop (or your engine) and retry."
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        log "not root and no sudo: cannot install or start dockerd; start a Docker engine yourself."
        exit 1
    fi
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        log "dockerd is missing and apt-get is not available; install Docker yourself."
        exit 1
    fi
    log "installing docker.io with apt-get (this takes a while) ..."
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package's postinst from trying to start the service through
    # systemd/invoke-rc.d (no init system in containers): policy-rc.d exit 101
    # means "action forbidden". Only add it if none exists, remove it after.
    POLICY=/usr/sbin/policy-rc.d
    ADDED_POLICY=0
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' | ${SUDO[@]+"${SUDO[@]}"} tee "$POLICY" >/dev/null
        ${SUDO[@]+"${SUDO[@]}"} chmod 755 "$POLICY"
        ADDED_POLICY=1
    fi
    rc=0
    {
        ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends docker.io
    } >/tmp/batchemu-apt-docker.log 2>&1 || rc=$?
    if [ "$ADDED_POLICY" = 1 ]; then
        ${SUDO[@]+"${SUDO[@]}"} rm -f "$POLICY"
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        log "apt-get install docker.io failed (rc=$rc); last lines of /tmp/batchemu-apt-docker.log:"
        tail -n 30 /tmp/batchemu-apt-docker.log >&2 || true
        exit 1
    fi
    if [ "$rc" -ne 0 ]; then
        # A failing postinst (service start) is harmless here: we start dockerd ourselves.
        log "apt-get returned $rc but dockerd is installed; continuing (see /tmp/batchemu-apt-docker.log)."
    fi
    hash -r
fi

LOG_DIR="${XDG_RUNTIME_DIR:-/tmp}"
[ -d "$LOG_DIR" ] && [ -w "$LOG_DIR" ] || LOG_DIR=/tmp
DOCKERD_LOG="$LOG_DIR/batchemu-dockerd.log"

# If we started a dockerd earlier that is still coming up, don't start another.
if pgrep -x dockerd >/dev/null 2>&1; then
    log "a dockerd process is already running; waiting for it to answer ..."
else
    log "starting dockerd (vfs, no iptables, no bridge); log: $DOCKERD_LOG"
    # dockerd starts its own containerd when none is running.
    # setsid: own session, so it outlives the shell / job that started it.
    SETSID=()
    if command -v setsid >/dev/null 2>&1; then SETSID=(setsid); fi
    ${SUDO[@]+"${SUDO[@]}"} ${SETSID[@]+"${SETSID[@]}"} nohup dockerd \
        --storage-driver=vfs --iptables=false --bridge=none \
        >"$DOCKERD_LOG" 2>&1 </dev/null &
    DOCKERD_PID=$!
    disown || true
fi

for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then
        log "dockerd is up."
        exit 0
    fi
    if [ -n "${DOCKERD_PID:-}" ] && ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
        log "dockerd exited during startup. Last lines of $DOCKERD_LOG:"
        tail -n 40 "$DOCKERD_LOG" >&2 || true
        exit 1
    fi
    sleep 0.5
done

log "dockerd did not answer within 60 s. Last lines of $DOCKERD_LOG:"
tail -n 40 "$DOCKERD_LOG" >&2 || true
exit 1
