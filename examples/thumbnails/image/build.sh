#!/usr/bin/env bash
# Build the thumbnails example's job image without any registry:
#
#   debootstrap --variant=minbase (Debian $SUITE) from the apt mirror this machine uses
#   + apt-get install --no-install-recommends python3-boto3 python3-pil, caches and docs removed
#   -> a rootfs tarball cached in ${XDG_CACHE_HOME:-~/.cache}/batchemu/
#   + /app/worker.py -> `docker import` (a single layer) as batchemu-examples/thumbnails:latest
#
# Skips everything when the image exists with the label batchemu.example.inputs equal to the
# hash of the inputs (this script, worker.py, suite, packages). A change to worker.py only
# re-imports the cached rootfs. Needs root (debootstrap, chroot): uses sudo when not root.
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
IMAGE="${THUMBNAILS_IMAGE:-batchemu-examples/thumbnails:latest}"
SUITE="${DEBIAN_SUITE:-trixie}"
PACKAGES=(python3-boto3 python3-pil)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/batchemu"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { echo "thumbnails/build: $*" >&2; }
die() { log "$*"; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "needs root (debootstrap, chroot) and there is no sudo"
    SUDO=(sudo)
fi
as_root() { ${SUDO[@]+"${SUDO[@]}"} "$@"; }

sha() { sha256sum | cut -c1-16; }

build_rootfs() {
    # $1: an empty directory to build in, $2: the mirror. Everything here feeds the rootfs
    # cache key (through `declare -f`), so editing this function invalidates the cache.
    local root="$1" mirror="$2"
    as_root debootstrap --variant=minbase --components=main "$SUITE" "$root" "$mirror" \
        >"$CACHE/thumbnails-debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/thumbnails-debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    # No docs, man pages or translations in the image: dpkg skips writing them.
    as_root tee "$root/etc/dpkg/dpkg.cfg.d/01-batchemu-nodoc" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    as_root chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
        sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${PACKAGES[*]} && apt-get clean" \
        >"$CACHE/thumbnails-apt.log" 2>&1 || {
        tail -n 30 "$CACHE/thumbnails-apt.log" >&2; die "apt-get install in the chroot failed (log above)"; }
    as_root chroot "$root" python3 -c 'import boto3, PIL.Image' || die "python3 cannot import boto3 and PIL"
    # Debootstrap's own packages were unpacked before the dpkg excludes existed.
    as_root sh -c "rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/* '$root'/var/cache/debconf/*-old \
        '$root'/var/log/* '$root'/tmp/* '$root'/usr/share/doc/*/changelog* '$root'/usr/share/man/* \
        '$root'/usr/share/info/* '$root'/usr/share/locale/*"
    # botocore's service models are 100+ MB of JSON; its loader reads .json.gz just the same.
    as_root find "$root/usr/lib/python3/dist-packages/botocore/data" -name '*.json' -exec gzip -9 {} +
    as_root chroot "$root" python3 -c 'import boto3; boto3.client("s3", region_name="us-east-1")' ||
        die "botocore cannot read its gzipped models"
}

# Keys: the rootfs depends on suite, packages and the recipe above; the image adds this whole
# script and the worker.
ROOTFS_KEY="$( { echo "$SUITE"; echo "${PACKAGES[*]}"; declare -f build_rootfs; } | sha)"
INPUTS_KEY="$( { echo "$ROOTFS_KEY"; cat "${BASH_SOURCE[0]}" "$HERE/worker.py"; } | sha)"

command -v docker >/dev/null 2>&1 || die "no docker client on PATH"
HAVE="$(docker image inspect -f '{{ index .Config.Labels "batchemu.example.inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$HAVE" = "$INPUTS_KEY" ] && [ "${FORCE:-0}" != "1" ]; then
    log "$IMAGE is up to date ($INPUTS_KEY)"
    exit 0
fi

mkdir -p "$CACHE"
# One build at a time per cache (a test fixture and a user may start one together).
exec 9>"$CACHE/thumbnails.lock"
flock 9
HAVE="$(docker image inspect -f '{{ index .Config.Labels "batchemu.example.inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$HAVE" = "$INPUTS_KEY" ] && [ "${FORCE:-0}" != "1" ]; then
    log "$IMAGE was built meanwhile ($INPUTS_KEY)"
    exit 0
fi

find_mirror() {
    # Debian archives named in apt's sources (one-line and deb822 formats), then the default;
    # the first that serves dists/$SUITE wins (a host's mirror may be Ubuntu's, or a snapshot).
    local uris
    uris="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -nE -e 's/^deb(\s+\[[^]]*\])?\s+(\S+)\s.*/\2/p' -e 's/^URIs:\s*//p' | tr ' ' '\n' |
        grep -E '^https?://' | grep -E '/debian/?$' || true)"
    local uri
    for uri in ${DEBIAN_MIRROR:-} $uris http://deb.debian.org/debian; do
        uri="${uri%/}"
        if python3 - "$uri/dists/$SUITE/Release" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=10)
PY
        then
            echo "$uri"
            return 0
        fi
    done
    return 1
}

ROOTFS_TAR="$CACHE/thumbnails-rootfs-$SUITE-$ROOTFS_KEY.tar"
if [ ! -s "$ROOTFS_TAR" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get to install it"
        log "installing debootstrap with apt-get ..."
        { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap ||
          { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
        } >"$CACHE/thumbnails-host-apt.log" 2>&1 || {
            tail -n 20 "$CACHE/thumbnails-host-apt.log" >&2; die "could not install debootstrap"; }
    fi
    MIRROR="$(find_mirror)" || die "no Debian mirror serving $SUITE answers; set DEBIAN_MIRROR=http://.../debian"
    log "debootstrap $SUITE (minbase) from $MIRROR + ${PACKAGES[*]} (a few minutes, once) ..."
    ROOT="$(mktemp -d "$CACHE/thumbnails-rootfs.XXXXXX")"
    trap 'as_root rm -rf "$ROOT"' EXIT
    build_rootfs "$ROOT" "$MIRROR"
    as_root tar --numeric-owner -C "$ROOT" -cf "$ROOTFS_TAR.part" .
    as_root chown "$(id -u):$(id -g)" "$ROOTFS_TAR.part"
    mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    as_root rm -rf "$ROOT"
    trap - EXIT
    # Older rootfs tarballs of this example are dead weight now.
    find "$CACHE" -maxdepth 1 -name 'thumbnails-rootfs-*.tar' ! -name "$(basename "$ROOTFS_TAR")" -delete
    log "cached the rootfs in $ROOTFS_TAR"
else
    log "using the cached rootfs $ROOTFS_TAR"
fi

# The cached rootfs plus /app/worker.py, appended to a copy: one tarball, so one layer.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$ROOTFS_TAR" "$WORK/image.tar"
mkdir -p "$WORK/add/app"
cp "$HERE/worker.py" "$WORK/add/app/worker.py"
chmod 755 "$WORK/add/app" && chmod 644 "$WORK/add/app/worker.py"
tar --numeric-owner --owner=0 --group=0 -C "$WORK/add" -rf "$WORK/image.tar" ./app

OLD_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'WORKDIR /app' \
    --change "LABEL batchemu.example.inputs=$INPUTS_KEY" \
    --change 'CMD ["python3", "/app/worker.py"]' \
    "$WORK/image.tar" "$IMAGE" >/dev/null
NEW_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    # The engine stores every layer in full (vfs): drop the image this one replaces.
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi
docker run --rm --network none "$IMAGE" python3 -c 'import boto3, PIL.Image' ||
    die "the imported image cannot import boto3 and PIL"
log "built $IMAGE ($INPUTS_KEY, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
