# shellcheck shell=bash
# The shared part of the scripts that build Docker images from Debian packages, without any
# registry: scripts/debian-python-base.sh, examples/thumbnails/image/build.sh and
# scripts/build-snakemake-image.sh. Sourced by them (`source .../scripts/lib/debian-rootfs.sh`),
# never run on its own; it defines functions and runs nothing when sourced.
#
# Owns:
#   - root access (debian_need_root, as_root: sudo when not root) and the messages (log, die);
#   - the Debian mirror choice (debian_find_mirror: $DEBIAN_MIRROR, then the Debian archives
#     in apt's sources, then deb.debian.org; the first that serves the suite);
#   - the rootfs recipe (debian_build_rootfs): debootstrap --variant=minbase, dpkg's "nodoc"
#     path excludes, apt-get install --no-install-recommends $PACKAGES, the cleanup, then the
#     caller's optional hook rootfs_extra (checks, extra trimming);
#   - the rootfs tarball cached in $CACHE (debian_rootfs_tar) and its key (debian_rootfs_key);
#   - one build at a time per image and the "is it up to date" test on an image label
#     (debian_image_current), and `docker import` replacing the image a tag named before
#     (debian_import).
# Does not own: what an image holds beyond its packages (files, ENV, CMD: each script passes
# its own), where the cache is and what the environment overrides are (each script keeps its
# documented variables), nor the image tags.
#
# The caller sets before calling these: LOG_NAME (the messages' prefix), SUITE, PACKAGES (an
# array), CACHE (a directory), CACHE_NAME (the prefix of the files in $CACHE: the rootfs
# <name>-rootfs-<suite>-<key>.tar and the logs <name>-debootstrap.log, <name>-apt.log,
# <name>-host-apt.log).
#
# Keys: debian_rootfs_key hashes the suite, the packages and the recipe's functions as bash
# prints them (declare -f: comments do not count), so a recipe edit, here or in a script's
# rootfs_extra, builds the rootfs again. debian_inputs_key hashes a rootfs key, this file and
# the caller's own files, so any edit of this library re-imports every image.

DEBIAN_ROOTFS_LIB="${BASH_SOURCE[0]}"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { echo "$LOG_NAME: $*" >&2; }
die() { log "$*"; exit 1; }
sha() { sha256sum | cut -c1-16; }

SUDO=()
as_root() { ${SUDO[@]+"${SUDO[@]}"} "$@"; }

debian_need_root() {
    # debootstrap and chroot need root: through sudo when the caller is not root.
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "needs root (debootstrap, chroot) and there is no sudo"
        SUDO=(sudo)
    fi
}

debian_find_mirror() {
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

debian_build_rootfs() {
    # $1: an empty directory to build in, $2: the mirror. This function and the caller's
    # rootfs_extra feed the rootfs key (through `declare -f`): editing them rebuilds the rootfs.
    local root="$1" mirror="$2"
    as_root debootstrap --variant=minbase --components=main "$SUITE" "$root" "$mirror" \
        >"$CACHE/$CACHE_NAME-debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/$CACHE_NAME-debootstrap.log" >&2; die "debootstrap failed (log above)"; }
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
        >"$CACHE/$CACHE_NAME-apt.log" 2>&1 || {
        tail -n 30 "$CACHE/$CACHE_NAME-apt.log" >&2; die "apt-get install in the chroot failed (log above)"; }
    # Debootstrap's own packages were unpacked before the dpkg excludes existed.
    as_root sh -c "rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/* '$root'/var/cache/debconf/*-old \
        '$root'/var/log/* '$root'/tmp/* '$root'/usr/share/doc/*/changelog* '$root'/usr/share/man/* \
        '$root'/usr/share/info/* '$root'/usr/share/locale/*"
    if declare -F rootfs_extra >/dev/null; then
        rootfs_extra "$root"
    fi
}

debian_rootfs_key() {
    # The rootfs tarball's key: suite, packages and the recipe (see the header).
    { echo "$SUITE"; echo "${PACKAGES[*]}"; declare -f debian_build_rootfs;
      declare -f rootfs_extra || true; } | sha
}

debian_inputs_key() {
    # An image's key: $1 (the rootfs key, plus whatever else the caller names in it), this
    # library, and the files given after it (the calling script, the files it adds).
    { echo "$1"; shift; cat "$DEBIAN_ROOTFS_LIB" "$@"; } | sha
}

debian_image_current() {
    # $1 image, $2 label, $3 key, $4 lock file, $5 "1" to build anyway (FORCE).
    # Returns 0, with a message, when the image carries the key in the label. Otherwise waits
    # for the lock (one build at a time per cache: a test fixture and a user may start one
    # together), checks again (the other may have built it meanwhile) and returns 1, the lock
    # held (fd 9) until the caller exits.
    local image="$1" label="$2" key="$3" lock="$4" force="${5:-0}"
    command -v docker >/dev/null 2>&1 || die "no docker client on PATH"
    if [ "$(debian_image_label "$image" "$label")" = "$key" ] && [ "$force" != "1" ]; then
        log "$image is up to date ($key)"
        return 0
    fi
    mkdir -p "$CACHE"
    exec 9>"$lock"
    flock 9
    if [ "$(debian_image_label "$image" "$label")" = "$key" ] && [ "$force" != "1" ]; then
        log "$image was built meanwhile ($key)"
        return 0
    fi
    return 1
}

debian_image_label() {
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

debian_need_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get to install it"
    log "installing debootstrap with apt-get ..."
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap ||
      { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
    } >"$CACHE/$CACHE_NAME-host-apt.log" 2>&1 || {
        tail -n 20 "$CACHE/$CACHE_NAME-host-apt.log" >&2; die "could not install debootstrap"; }
}

debian_rootfs_tar() {
    # Sets ROOTFS_TAR to $CACHE/$CACHE_NAME-rootfs-$SUITE-$1.tar ($1: the rootfs key), built
    # first (debootstrap: a few minutes) when it is not there. Kept between runs; the older
    # tarballs of the same name are dead weight once a new one is made, and deleted.
    ROOTFS_TAR="$CACHE/$CACHE_NAME-rootfs-$SUITE-$1.tar"
    if [ -s "$ROOTFS_TAR" ]; then
        log "using the cached rootfs $ROOTFS_TAR"
        return 0
    fi
    debian_need_debootstrap
    local mirror
    mirror="$(debian_find_mirror)" || die "no Debian mirror serving $SUITE answers; set DEBIAN_MIRROR=http://.../debian"
    log "debootstrap $SUITE (minbase) from $mirror + ${PACKAGES[*]} (a few minutes, once) ..."
    DEBIAN_ROOTFS_DIR="$(mktemp -d "$CACHE/$CACHE_NAME-rootfs.XXXXXX")"
    trap 'as_root rm -rf "$DEBIAN_ROOTFS_DIR"' EXIT
    debian_build_rootfs "$DEBIAN_ROOTFS_DIR" "$mirror"
    as_root tar --numeric-owner -C "$DEBIAN_ROOTFS_DIR" -cf "$ROOTFS_TAR.part" .
    as_root chown "$(id -u):$(id -g)" "$ROOTFS_TAR.part"
    mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    as_root rm -rf "$DEBIAN_ROOTFS_DIR"
    trap - EXIT
    find "$CACHE" -maxdepth 1 -name "$CACHE_NAME-rootfs-*.tar" ! -name "$(basename "$ROOTFS_TAR")" -delete
    log "cached the rootfs in $ROOTFS_TAR"
}

debian_import() {
    # $1: a rootfs tarball, $2: the tag, the rest: `docker import --change` instructions. One
    # layer. The image the tag named before is removed (the engine may store every layer in
    # full, vfs), unless a container still uses it.
    local tar="$1" image="$2" old new change
    shift 2
    local changes=()
    for change in "$@"; do changes+=(--change "$change"); done
    old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    docker import "${changes[@]}" "$tar" "$image" >/dev/null
    new="$(docker image inspect -f '{{.Id}}' "$image")"
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
}

debian_image_size() {
    docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'
}
