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
# The Debian steps (mirror, debootstrap with dpkg's "nodoc" excludes, the rootfs cache, the
# lock, the import) are the shared library scripts/lib/debian-rootfs.sh.
#
# Usage: SNAKEMAKE_PY=<the snakemake venv's python> bash scripts/build-snakemake-image.sh
# Skips everything when the image carries the label batchemu.test.inputs of the same inputs
# (suite, packages, versions, this script, the library). Needs root. Environment:
# SNAKEMAKE_IMAGE (tag), BATCHEMU_CACHE (default ~/.cache/batchemu), DEBIAN_MIRROR.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/debian-rootfs.sh
source "$ROOT_DIR/scripts/lib/debian-rootfs.sh"
LOG_NAME=build-snakemake-image
IMAGE="${SNAKEMAKE_IMAGE:-batchemu-test/snakemake:latest}"
case "$("${SNAKEMAKE_PY:?the snakemake venv python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
    3.11) SUITE=bookworm ;;
    3.13) SUITE=trixie ;;
    *) die "the snakemake venv must be Python 3.11 or 3.13 (a Debian release's python3)" ;;
esac
PACKAGES=(python3 python-is-python3 python3-pip ca-certificates)
CACHE="${BATCHEMU_CACHE:-$HOME/.cache/batchemu}"
CACHE_NAME=snakemake
PY="${SNAKEMAKE_PY:?the snakemake venv python}"
# All of it as root (pip's files go into the image as root's).
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "needs root (debootstrap, chroot) and there is no sudo"
    exec sudo -E bash "${BASH_SOURCE[0]}" "$@"
fi

# The job must run the snakemake the host runs (its command line is the host's).
VERSIONS="$("$PY" -c 'import importlib.metadata as m; print(" ".join(f"{p}=={m.version(p)}" for p in ("snakemake", "snakemake-storage-plugin-s3")))')"
ROOTFS_KEY="$(debian_rootfs_key)"
INPUTS_KEY="$(debian_inputs_key "$ROOTFS_KEY $VERSIONS" "${BASH_SOURCE[0]}")"
if debian_image_current "$IMAGE" batchemu.test.inputs "$INPUTS_KEY" "$CACHE/snakemake-image.lock" 0; then
    exit 0
fi

debian_rootfs_tar "$ROOTFS_KEY"
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
debian_import "$WORK/image.tar" "$IMAGE" \
    'ENV PATH=/opt/snakemake/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV PYTHONPATH=/opt/snakemake' \
    'ENV PIP_CONFIG_FILE=/opt/wheels/pip.conf' \
    'ENV LANG=C.UTF-8' \
    "LABEL batchemu.test.inputs=$INPUTS_KEY"
docker run --rm --network none "$IMAGE" sh -c 'python -c "import snakemake, snakemake_storage_plugin_s3" &&
    pip download -q --no-deps -d /tmp snakemake-storage-plugin-s3' ||
    die "the image cannot import snakemake or its pip cannot find the storage plugin"
log "built $IMAGE ($VERSIONS)"
