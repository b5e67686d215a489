#!/usr/bin/env bash
# Make sure headless Chromium and its WebDriver are installed for the dashboard tests
# (tests/ui): Debian's `chromium` and `chromium-driver`, installed with apt-get when missing.
# Nothing is downloaded at test time (selenium is given the driver's path).
#
# Idempotent: a second run is a fast no-op. Other systems: install Chromium (or Chrome) and a
# matching chromedriver yourself, or point BATCHEMU_CHROMIUM / BATCHEMU_CHROMEDRIVER at them.
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }

have() {
    { [ -n "${BATCHEMU_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } &&
        { [ -n "${BATCHEMU_CHROMEDRIVER:-}" ] || command -v chromedriver >/dev/null 2>&1; }
}

if have; then
    exit 0
fi
SUDO=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        log "not root and no sudo: install chromium and chromium-driver yourself."
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get is not available: install Chromium and chromedriver yourself."
    exit 1
fi
log "installing chromium and chromium-driver with apt-get ..."
if ! { ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
       ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
           chromium chromium-driver; } >/tmp/batchemu-apt-chromium.log 2>&1; then
    log "apt-get install failed; last lines of /tmp/batchemu-apt-chromium.log:"
    tail -20 /tmp/batchemu-apt-chromium.log >&2
    exit 1
fi
have || { log "chromium or chromedriver still missing after apt-get"; exit 1; }
chromium --version >&2 || true
