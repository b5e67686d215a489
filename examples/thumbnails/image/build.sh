#!/usr/bin/env bash
# Build the thumbnails example's job image without any registry:
#
#   debootstrap --variant=minbase (Debian $SUITE) from the apt mirror this machine uses
#   + apt-get install --no-install-recommends python3-boto3 python3-pil, caches and docs removed
#   -> a rootfs tarball cached in ${XDG_CACHE_HOME:-~/.cache}/batchemu/
#   + /app/worker.py -> `docker import` (a single layer) as batchemu-examples/thumbnails:latest
#
# The Debian steps (mirror, debootstrap, the rootfs cache, the lock, the import) are the
# repository's shared library scripts/lib/debian-rootfs.sh; this script says what goes in.
#
# Skips everything when the image exists with the label batchemu.example.inputs equal to the
# hash of the inputs (this script, the library, worker.py, suite, packages). A change to
# worker.py only re-imports the cached rootfs. Needs root (debootstrap, chroot): uses sudo when
# not root.
#
# Why trixie and not bookworm: bookworm's python3-botocore (1.29) ignores AWS_ENDPOINT_URL
# (botocore reads it from 1.31 on), and the worker must reach the emulator through the
# variables batchemu injects, never through an endpoint baked into its code.
#
# Environment: THUMBNAILS_IMAGE (tag), DEBIAN_SUITE (default trixie), DEBIAN_MIRROR (default:
# the first Debian archive in /etc/apt/sources.list* that serves the suite, else
# http://deb.debian.org/debian), FORCE=1 (rebuild the image, keep the rootfs cache).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib/debian-rootfs.sh
source "$HERE/../../../scripts/lib/debian-rootfs.sh"
LOG_NAME=thumbnails/build
IMAGE="${THUMBNAILS_IMAGE:-batchemu-examples/thumbnails:latest}"
SUITE="${DEBIAN_SUITE:-trixie}"
PACKAGES=(python3-boto3 python3-pil)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/batchemu"
CACHE_NAME=thumbnails
debian_need_root

rootfs_extra() {
    local root="$1"
    as_root chroot "$root" python3 -c 'import boto3, PIL.Image' || die "python3 cannot import boto3 and PIL"
    # botocore's service models are 100+ MB of JSON; its loader reads .json.gz just the same.
    as_root find "$root/usr/lib/python3/dist-packages/botocore/data" -name '*.json' -exec gzip -9 {} +
    as_root chroot "$root" python3 -c 'import boto3; boto3.client("s3", region_name="us-east-1")' ||
        die "botocore cannot read its gzipped models"
}

# Keys: the rootfs depends on suite, packages and the recipe; the image adds this whole
# script, the library and the worker.
ROOTFS_KEY="$(debian_rootfs_key)"
INPUTS_KEY="$(debian_inputs_key "$ROOTFS_KEY" "${BASH_SOURCE[0]}" "$HERE/worker.py")"
if debian_image_current "$IMAGE" batchemu.example.inputs "$INPUTS_KEY" "$CACHE/thumbnails.lock" "${FORCE:-0}"; then
    exit 0
fi

debian_rootfs_tar "$ROOTFS_KEY"
# The cached rootfs plus /app/worker.py, appended to a copy: one tarball, so one layer.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$ROOTFS_TAR" "$WORK/image.tar"
mkdir -p "$WORK/add/app"
cp "$HERE/worker.py" "$WORK/add/app/worker.py"
chmod 755 "$WORK/add/app" && chmod 644 "$WORK/add/app/worker.py"
tar --numeric-owner --owner=0 --group=0 -C "$WORK/add" -rf "$WORK/image.tar" ./app

debian_import "$WORK/image.tar" "$IMAGE" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'ENV PYTHONUNBUFFERED=1' \
    'WORKDIR /app' \
    "LABEL batchemu.example.inputs=$INPUTS_KEY" \
    'CMD ["python3", "/app/worker.py"]'
docker run --rm --network none "$IMAGE" python3 -c 'import boto3, PIL.Image' ||
    die "the imported image cannot import boto3 and PIL"
log "built $IMAGE ($INPUTS_KEY, $(debian_image_size "$IMAGE"))"
