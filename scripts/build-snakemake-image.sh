#!/usr/bin/env bash
# Build the job image the Snakemake AWS Batch executor test runs its jobs in, without any
# registry (tests/clients/test_snakemake.py; scripts/real-clients.sh calls this):
#
#   debootstrap --variant=minbase Debian (bookworm for a Python 3.11 venv, trixie for 3.13) +
#   python3, python-is-python3, python3-pip, ca-certificates (cached as a rootfs tarball in
#   ~/.cache/batchemu/)
#   + snakemake and snakemake-storage-plugin-s3, the versions of the host's snakemake venv,
#     installed by that venv's pip into /opt/snakemake (the suite is chosen so Debian's python3
#     is the venv's version: the same wheels serve both; some of snakemake's dependencies are
#     sdists only, so pip cannot fetch wheels for another Python)
#   + a wheelhouse of snakemake-storage-plugin-s3 and its dependencies in /opt/wheels, which
#     the image's pip installs from (PIP_CONFIG_FILE: no index): every job the executor starts
#     first runs `pip install --target .snakemake/pip-deployments snakemake-storage-plugin-s3`
#     (snakemake's auto-deploy of the storage plugin), as it would on AWS from PyPI; here job
#     containers need no index to reach
#   -> `docker import` as $SNAKEMAKE_IMAGE (default batchemu-test/snakemake:latest)
#
# Usage: SNAKEMAKE_PY=<the snakemake venv's python> bash scripts/build-snakemake-image.sh
# Skips everything when the image carries the label of the same inputs. Needs root.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${SNAKEMAKE_IMAGE:-batchemu-test/snakemake:latest}"
case "$("${SNAKEMAKE_PY:?the snakemake venv python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
    3.11) SUITE=bookworm ;;
    3.13) SUITE=trixie ;;
    *) echo "build-snakemake-image: the snakemake venv must be Python 3.11 or 3.13 (a Debian release's python3)" >&2; exit 1 ;;
esac
PACKAGES=(python3 python-is-python3 python3-pip ca-certificates)
CACHE="${BATCHEMU_CACHE:-$HOME/.cache/batchemu}"
PY="${SNAKEMAKE_PY:?the snakemake venv python}"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
log() { echo "build-snakemake-image: $*" >&2; }
die() { log "$*"; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "needs root (debootstrap, chroot) and there is no sudo"
    exec sudo -E bash "${BASH_SOURCE[0]}" "$@"
fi

sha() { sha256sum | cut -c1-16; }
# The job must run the snakemake the host runs (its command line is the host's).
VERSIONS="$("$PY" -c 'import importlib.metadata as m; print(" ".join(f"{p}=={m.version(p)}" for p in ("snakemake", "snakemake-storage-plugin-s3")))')"
ROOTFS_KEY="$( { echo "$SUITE ${PACKAGES[*]}"; sed -n '/^build_rootfs()/,/^}/p' "${BASH_SOURCE[0]}"; } | sha)"
INPUTS_KEY="$( { echo "$ROOTFS_KEY $VERSIONS"; cat "${BASH_SOURCE[0]}"; } | sha)"

HAVE="$(docker image inspect -f '{{ index .Config.Labels "batchemu.test.inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$HAVE" = "$INPUTS_KEY" ]; then
    log "$IMAGE is up to date ($VERSIONS)"
    exit 0
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/snakemake-image.lock"
flock 9

build_rootfs() {
    local root="$1" mirror="$2"
    debootstrap --variant=minbase --components=main "$SUITE" "$root" "$mirror" >"$CACHE/snakemake-debootstrap.log" 2>&1 ||
        { tail -n 30 "$CACHE/snakemake-debootstrap.log" >&2; die "debootstrap failed"; }
    chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 sh -c \
        "apt-get update -q && apt-get install -y -q --no-install-recommends ${PACKAGES[*]} && apt-get clean" \
        >"$CACHE/snakemake-apt.log" 2>&1 || { tail -n 30 "$CACHE/snakemake-apt.log" >&2; die "apt-get failed"; }
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc "$root"/usr/share/man \
        "$root"/usr/share/locale "$root"/var/log/*
}

find_mirror() {
    local uri
    for uri in ${DEBIAN_MIRROR:-} $(sed -nE 's/^deb(\s+\[[^]]*\])?\s+(\S+)\s.*/\2/p; s/^URIs:\s*//p' \
            /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -E '/debian/?$') http://deb.debian.org/debian; do
        if python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=10)' \
                "${uri%/}/dists/$SUITE/Release" 2>/dev/null; then
            echo "${uri%/}"; return 0
        fi
    done
    return 1
}

ROOTFS_TAR="$CACHE/snakemake-rootfs-$SUITE-$ROOTFS_KEY.tar"
if [ ! -s "$ROOTFS_TAR" ]; then
    MIRROR="$(find_mirror)" || die "no Debian mirror serving $SUITE answers; set DEBIAN_MIRROR"
    log "debootstrap $SUITE from $MIRROR (once; cached in $ROOTFS_TAR) ..."
    WORK_ROOT="$(mktemp -d "$CACHE/snakemake-rootfs.XXXXXX")"
    trap 'rm -rf "$WORK_ROOT"' EXIT
    build_rootfs "$WORK_ROOT" "$MIRROR"
    tar --numeric-owner -C "$WORK_ROOT" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf "$WORK_ROOT"
    trap - EXIT
    find "$CACHE" -maxdepth 1 -name 'snakemake-rootfs-*.tar' ! -name "$(basename "$ROOTFS_TAR")" -delete
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log "installing $VERSIONS into /opt/snakemake ..."
"$PY" -m pip install -q --no-compile --target "$WORK/add/opt/snakemake" $VERSIONS >"$CACHE/snakemake-pip.log" 2>&1 ||
    { tail -n 30 "$CACHE/snakemake-pip.log" >&2; die "pip install --target failed"; }
PLUGIN="$(echo "$VERSIONS" | tr ' ' '\n' | grep '^snakemake-storage-plugin-s3==')"
"$PY" -m pip wheel -q -w "$WORK/add/opt/wheels" "$PLUGIN" >>"$CACHE/snakemake-pip.log" 2>&1 ||
    { tail -n 30 "$CACHE/snakemake-pip.log" >&2; die "pip wheel failed"; }
printf '[global]\nno-index = true\nfind-links = /opt/wheels\nbreak-system-packages = true\ndisable-pip-version-check = true\n' \
    >"$WORK/add/opt/wheels/pip.conf"
# pip's console scripts name the host venv's python: one wrapper replaces them.
rm -rf "$WORK/add/opt/snakemake/bin"
mkdir -p "$WORK/add/opt/snakemake/bin"
printf '#!/bin/sh\nexec python3 -m snakemake "$@"\n' >"$WORK/add/opt/snakemake/bin/snakemake"
chmod 755 "$WORK/add/opt/snakemake/bin/snakemake"
cp "$ROOTFS_TAR" "$WORK/image.tar"
# Only new paths (./opt itself is in the rootfs already: a duplicate entry breaks the import).
tar --numeric-owner --owner=0 --group=0 -C "$WORK/add" -rf "$WORK/image.tar" ./opt/snakemake ./opt/wheels
OLD_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
docker import \
    --change 'ENV PATH=/opt/snakemake/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PYTHONPATH=/opt/snakemake' \
    --change 'ENV PIP_CONFIG_FILE=/opt/wheels/pip.conf' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL batchemu.test.inputs=$INPUTS_KEY" \
    "$WORK/image.tar" "$IMAGE" >/dev/null
NEW_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true  # the image this one replaces
fi
docker run --rm --network none "$IMAGE" sh -c 'python -c "import snakemake, snakemake_storage_plugin_s3" &&
    pip download -q --no-deps -d /tmp snakemake-storage-plugin-s3' ||
    die "the image cannot import snakemake or its pip cannot find the storage plugin"
log "built $IMAGE ($VERSIONS)"
