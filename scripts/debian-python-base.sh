#!/usr/bin/env bash
# Build a minimal Debian + Python base image without any registry, for machines where
# `python:3.x-slim` cannot be pulled (scripts/build-image.sh falls back to it):
#
#   debootstrap --variant=minbase (Debian $SUITE) from the apt mirror this machine uses
#   + apt-get install --no-install-recommends python3 python3-venv; docs, caches removed
#   -> a rootfs tarball cached in ${XDG_CACHE_HOME:-~/.cache}/batchemu/ (kept between runs)
#   -> `docker import` (one layer) as batchemu-base/python:$SUITE
#
# The Debian steps (mirror, debootstrap, the rootfs cache, the lock, the import) are the shared
# library scripts/lib/debian-rootfs.sh, which examples/thumbnails/image/build.sh (its job image
# carries boto3 and Pillow) and scripts/build-snakemake-image.sh use too; this base carries only
# Python and venv, which the image's builder stage needs. No compiler: the builder stage
# installs wheels only. Needs root (debootstrap, chroot): uses sudo when not root.
#
# Prints the image tag on stdout (everything else goes to stderr). Skips everything when the
# image exists with the label batchemu.base.inputs equal to the hash of the inputs (suite,
# packages, this script, the library).
#
# Environment: BATCHEMU_DEBIAN_BASE (tag), DEBIAN_SUITE (default trixie), DEBIAN_MIRROR
# (default: the first Debian archive in /etc/apt/sources.list* that serves the suite, else
# http://deb.debian.org/debian), FORCE=1 (re-import the image, keep the rootfs cache).
set -euo pipefail

# shellcheck source=lib/debian-rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-rootfs.sh"
LOG_NAME=debian-python-base
SUITE="${DEBIAN_SUITE:-trixie}"
IMAGE="${BATCHEMU_DEBIAN_BASE:-batchemu-base/python:$SUITE}"
PACKAGES=(python3 python3-venv)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/batchemu"
CACHE_NAME=python-base
debian_need_root

rootfs_extra() {
    as_root chroot "$1" python3 -c 'import ensurepip, venv, sqlite3, ssl' ||
        die "python3 in the rootfs lacks venv/ensurepip/sqlite3/ssl"
}

ROOTFS_KEY="$(debian_rootfs_key)"
INPUTS_KEY="$(debian_inputs_key "$ROOTFS_KEY" "${BASH_SOURCE[0]}")"
if debian_image_current "$IMAGE" batchemu.base.inputs "$INPUTS_KEY" "$CACHE/python-base.lock" "${FORCE:-0}"; then
    echo "$IMAGE"
    exit 0
fi

debian_rootfs_tar "$ROOTFS_KEY"
debian_import "$ROOTFS_TAR" "$IMAGE" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    "LABEL batchemu.base.inputs=$INPUTS_KEY" \
    'CMD ["python3"]'
docker run --rm --network none "$IMAGE" python3 -c 'import venv, ensurepip' ||
    die "the imported base cannot run python3 -m venv"
log "imported $IMAGE ($INPUTS_KEY, $(debian_image_size "$IMAGE"))"
echo "$IMAGE"
