#!/usr/bin/env bash
# Build a minimal Debian + Python base image without any registry, for machines where
# `python:3.x-slim` cannot be pulled (scripts/build-image.sh falls back to it):
#
#   debootstrap --variant=minbase (Debian $SUITE) from the apt mirror this machine uses
#   + apt-get install --no-install-recommends python3 python3-venv; docs, caches removed
#   -> a rootfs tarball cached in ${XDG_CACHE_HOME:-~/.cache}/batchemu/ (kept between runs)
#   -> `docker import` (one layer) as batchemu-base/python:$SUITE
#
# Prints the image tag on stdout (everything else goes to stderr). Skips everything when the
# image exists with the label batchemu.base.inputs equal to the hash of the recipe. The same
# approach as examples/thumbnails/image/build.sh (its job image carries boto3 and Pillow; this
# base carries only Python and venv, which the image's builder stage needs). No compiler: the
# builder stage installs wheels only. Needs root (debootstrap, chroot): uses sudo when not root.
#
# Environment: BATCHEMU_DEBIAN_BASE (tag), DEBIAN_SUITE (default trixie), DEBIAN_MIRROR
# (default: the first Debian archive in /etc/apt/sources.list* that serves the suite, else
# http://deb.debian.org/debian), FORCE=1 (re-import the image, keep the rootfs cache).
set -euo pipefail

SUITE="${DEBIAN_SUITE:-trixie}"
IMAGE="${BATCHEMU_DEBIAN_BASE:-batchemu-base/python:$SUITE}"
PACKAGES=(python3 python3-venv)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/batchemu"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { echo "debian-python-base: $*" >&2; }
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
        >"$CACHE/python-base-debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/python-base-debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    # No docs, man pages or translations: dpkg skips writing them.
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
        >"$CACHE/python-base-apt.log" 2>&1 || {
        tail -n 30 "$CACHE/python-base-apt.log" >&2; die "apt-get install in the chroot failed (log above)"; }
    as_root chroot "$root" python3 -c 'import ensurepip, venv, sqlite3, ssl' ||
        die "python3 in the rootfs lacks venv/ensurepip/sqlite3/ssl"
    # Debootstrap's own packages were unpacked before the dpkg excludes existed.
    as_root sh -c "rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/* '$root'/var/cache/debconf/*-old \
        '$root'/var/log/* '$root'/tmp/* '$root'/usr/share/doc/*/changelog* '$root'/usr/share/man/* \
        '$root'/usr/share/info/* '$root'/usr/share/locale/*"
}

ROOTFS_KEY="$( { echo "$SUITE"; echo "${PACKAGES[*]}"; declare -f build_rootfs; } | sha)"
INPUTS_KEY="$ROOTFS_KEY-r1"   # bump r1 when the import below changes

command -v docker >/dev/null 2>&1 || die "no docker client on PATH"
have() { docker image inspect -f '{{ index .Config.Labels "batchemu.base.inputs" }}' "$IMAGE" 2>/dev/null || true; }
if [ "$(have)" = "$INPUTS_KEY" ] && [ "${FORCE:-0}" != "1" ]; then
    log "$IMAGE is up to date ($INPUTS_KEY)"
    echo "$IMAGE"
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/python-base.lock"   # one build at a time per cache
flock 9
if [ "$(have)" = "$INPUTS_KEY" ] && [ "${FORCE:-0}" != "1" ]; then
    log "$IMAGE was built meanwhile ($INPUTS_KEY)"
    echo "$IMAGE"
    exit 0
fi

find_mirror() {
    # Debian archives named in apt's sources (one-line and deb822 formats), then the default;
    # the first that serves dists/$SUITE wins (a host's mirror may be Ubuntu's, or a snapshot).
    local uris uri
    uris="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -nE -e 's/^deb(\s+\[[^]]*\])?\s+(\S+)\s.*/\2/p' -e 's/^URIs:\s*//p' | tr ' ' '\n' |
        grep -E '^https?://' | grep -E '/debian/?$' || true)"
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

ROOTFS_TAR="$CACHE/python-base-rootfs-$SUITE-$ROOTFS_KEY.tar"
if [ ! -s "$ROOTFS_TAR" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get to install it"
        log "installing debootstrap with apt-get ..."
        { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap ||
          { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
        } >"$CACHE/python-base-host-apt.log" 2>&1 || {
            tail -n 20 "$CACHE/python-base-host-apt.log" >&2; die "could not install debootstrap"; }
    fi
    MIRROR="$(find_mirror)" || die "no Debian mirror serving $SUITE answers; set DEBIAN_MIRROR=http://.../debian"
    log "debootstrap $SUITE (minbase) from $MIRROR + ${PACKAGES[*]} (a few minutes, once) ..."
    ROOT="$(mktemp -d "$CACHE/python-base-rootfs.XXXXXX")"
    trap 'as_root rm -rf "$ROOT"' EXIT
    build_rootfs "$ROOT" "$MIRROR"
    as_root tar --numeric-owner -C "$ROOT" -cf "$ROOTFS_TAR.part" .
    as_root chown "$(id -u):$(id -g)" "$ROOTFS_TAR.part"
    mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    as_root rm -rf "$ROOT"
    trap - EXIT
    # Older rootfs tarballs of this base are dead weight now.
    find "$CACHE" -maxdepth 1 -name 'python-base-rootfs-*.tar' ! -name "$(basename "$ROOTFS_TAR")" -delete
    log "cached the rootfs in $ROOTFS_TAR"
else
    log "using the cached rootfs $ROOTFS_TAR"
fi

OLD_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL batchemu.base.inputs=$INPUTS_KEY" \
    --change 'CMD ["python3"]' \
    "$ROOTFS_TAR" "$IMAGE" >/dev/null
NEW_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    # The engine may store every layer in full (vfs): drop the image this one replaces.
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi
docker run --rm --network none "$IMAGE" python3 -c 'import venv, ensurepip' ||
    die "the imported base cannot run python3 -m venv"
log "imported $IMAGE ($INPUTS_KEY, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$IMAGE"
