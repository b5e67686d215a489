#!/usr/bin/env bash
# Build the batchemu container image (the top-level Dockerfile) as batchemu:local.
#
#   bash scripts/build-image.sh            # -> batchemu:local
#
# The base (build arg BASE_IMAGE): $BATCHEMU_BASE_IMAGE when set; else python:3.12-slim when it
# is present or a registry serves it (`docker pull`, which fails at once without a network);
# else a Debian base built here from Debian packages (scripts/debian-python-base.sh:
# debootstrap + python3 + python3-venv, rootfs cached in ~/.cache/batchemu, `docker import`).
# The builder stage installs the wheels from PyPI, so the build runs with `--network host`
# (an engine started with --bridge=none has no network for build containers otherwise).
#
# Skips the build when batchemu:local carries the label batchemu.image.inputs equal to the hash
# of what goes into it (this script, Dockerfile, .dockerignore, pyproject.toml, batchemu/, the
# base image's id); an edit of the code rebuilds only the last builder step and the final copy
# (the dependencies' layer comes from Docker's cache). Prints timings and the image size.
#
# Environment: BATCHEMU_IMAGE (tag, default batchemu:local), BATCHEMU_BASE_IMAGE (a base to
# use as it is), BATCHEMU_BUILD_CA (a CA bundle for pip in the builder stage; default the
# host's PIP_CERT / REQUESTS_CA_BUNDLE / SSL_CERT_FILE), FORCE=1 (build even if up to date).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
IMAGE="${BATCHEMU_IMAGE:-batchemu:local}"
SLIM="python:3.12-slim"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { echo "build-image: $*" >&2; }
die() { log "$*"; exit 1; }
START=$SECONDS

command -v docker >/dev/null 2>&1 || die "no docker client on PATH"
docker info >/dev/null 2>&1 || die "no Docker engine answers (bash scripts/ensure-docker.sh starts one)"

if [ -n "${BATCHEMU_BASE_IMAGE:-}" ]; then
    BASE="$BATCHEMU_BASE_IMAGE"
elif docker image inspect "$SLIM" >/dev/null 2>&1; then
    BASE="$SLIM"
elif timeout 120 docker pull -q "$SLIM" >/dev/null 2>&1; then
    BASE="$SLIM"
else
    log "$SLIM cannot be pulled here; building a Debian base from Debian packages instead"
    BASE="$(FORCE=0 bash "$ROOT/scripts/debian-python-base.sh")"   # FORCE is for this image only
fi
BASE_ID="$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null)" ||
    die "base image $BASE is not present (pull it or unset BATCHEMU_BASE_IMAGE)"

KEY="$( { echo "$BASE_ID"; cat "${BASH_SOURCE[0]}" Dockerfile .dockerignore pyproject.toml;
          find batchemu -type f ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort |
          while read -r f; do echo "$f"; cat "$f"; done; } | sha256sum | cut -c1-16)"
HAVE="$(docker image inspect -f '{{ index .Config.Labels "batchemu.image.inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$HAVE" = "$KEY" ] && [ "${FORCE:-0}" != "1" ]; then
    log "$IMAGE is up to date ($KEY, base $BASE)"
    exit 0
fi

# No buildx plugin (Debian's docker.io, a bare CLI): the classic builder, which needs no
# BuildKit frontend image and takes a local base as it is.
BUILD_ENV=()
if ! docker buildx version >/dev/null 2>&1; then BUILD_ENV=(DOCKER_BUILDKIT=0); fi

# The context: only what the image needs (as .dockerignore says for a plain `docker build .`),
# plus the host's CA bundle when pip here trusts one of its own (a TLS-intercepting proxy in
# front of PyPI, as on CI machines behind an egress proxy): the builder stage's pip needs it.
CTX="$(mktemp -d)"
trap 'rm -rf "$CTX"' EXIT
tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' -cf - Dockerfile .dockerignore pyproject.toml \
    batchemu | tar -C "$CTX" -xf -
for ca in "${BATCHEMU_BUILD_CA:-}" "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}"; do
    if [ -n "$ca" ] && [ -s "$ca" ]; then
        cp "$ca" "$CTX/build-ca.pem"
        echo '!build-ca.pem' >>"$CTX/.dockerignore"
        break
    fi
done

OLD_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
log "building $IMAGE from $BASE (inputs $KEY) ..."
BUILD_START=$SECONDS
LOG="${XDG_CACHE_HOME:-$HOME/.cache}/batchemu/build-image.log"
mkdir -p "$(dirname "$LOG")"
if ! env ${BUILD_ENV[@]+"${BUILD_ENV[@]}"} docker build --network host --force-rm \
        --build-arg "BASE_IMAGE=$BASE" --build-arg "BATCHEMU_INPUTS=$KEY" \
        -t "$IMAGE" "$CTX" >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    die "docker build failed (log: $LOG)"
fi
NEW_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    # The engine may store every layer in full (vfs): drop the image this one replaces.
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi
if [ ${#BUILD_ENV[@]} -gt 0 ]; then
    # The classic builder keeps each code version's last builder step as an untagged image (a
    # full copy of the builder's files on vfs). Keep the one this build used (the cache for
    # the next build), drop the others of this Dockerfile's builder stage.
    LEAF="$(awk '/^Step [0-9]+\/[0-9]+ : FROM /{n++; if (n == 2) {print last; exit}} /^ ---> [0-9a-f]+$/{last=$2}' "$LOG")"
    if [ -n "$LEAF" ]; then
        for stale in $(docker images -q --filter dangling=true --filter label=batchemu.image.stage=builder); do
            case "$LEAF" in "$stale"*) ;; *) docker image rm "$stale" >/dev/null 2>&1 || true ;; esac
        done
    fi
fi
docker run --rm --network none "$IMAGE" --version >/dev/null || die "the image does not run batchemu --version"
SIZE="$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
log "built $IMAGE in $((SECONDS - BUILD_START)) s (total $((SECONDS - START)) s; $SIZE; base $BASE)"
