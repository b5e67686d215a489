#!/usr/bin/env bash
# Build the tiny test image used by the test suite (no registry needed):
#
#   FROM scratch + Debian's statically linked busybox (busybox-static)
#   as /bin/busybox, applet symlinks from `busybox --install -s /bin`,
#   /tmp (1777), /etc/passwd and /etc/group with root and nobody (65534).
#
# Skips the build when the image exists and carries a label with the same
# busybox sha256 (and recipe version). Override the tag with
# BATCHEMU_TEST_IMAGE and the binary with BUSYBOX=/path/to/static/busybox.
set -euo pipefail

IMAGE="${BATCHEMU_TEST_IMAGE:-batchemu-test/busybox:latest}"
RECIPE=2   # bump when the Dockerfile below changes
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { echo "build-test-image: $*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi

is_static() {
    local f="$1"
    [ -x "$f" ] || return 1
    if command -v file >/dev/null 2>&1; then
        file -L "$f" | grep -Eq 'statically linked|static-pie linked'
    else
        # ldd fails ("not a dynamic executable") on a static binary
        if ldd "$f" >/dev/null 2>&1; then return 1; fi
    fi
}

find_busybox() {
    local c
    for c in "${BUSYBOX:-}" /bin/busybox /usr/bin/busybox \
             "${XDG_CACHE_HOME:-$HOME/.cache}/batchemu/busybox-static/bin/busybox"; do
        if [ -n "$c" ] && is_static "$c"; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if ! BB="$(find_busybox)"; then
    if ! command -v apt-get >/dev/null 2>&1; then
        log "no statically linked busybox found and no apt-get; set BUSYBOX=/path/to/static/busybox"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if dpkg-query -W -f='${Status}' busybox 2>/dev/null | grep -q 'install ok installed'; then
        # busybox-static conflicts with (and would remove) the dynamic busybox
        # package: extract it into a cache dir instead of installing it.
        CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/batchemu/busybox-static"
        log "busybox (dynamic) is installed; extracting busybox-static into $CACHE"
        tmpdl="$(mktemp -d)"
        ( cd "$tmpdl" && { apt-get download busybox-static >/dev/null 2>&1 ||
            { ${SUDO[@]+"${SUDO[@]}"} apt-get update -q >/dev/null && apt-get download busybox-static >/dev/null; }; } )
        rm -rf "$CACHE" && mkdir -p "$CACHE"
        dpkg-deb -x "$tmpdl"/busybox-static_*.deb "$CACHE"
        rm -rf "$tmpdl"
    else
        log "installing busybox-static with apt-get ..."
        { ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static ||
          { ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static; }
        } >/tmp/batchemu-apt-busybox.log 2>&1 || {
            log "apt-get install busybox-static failed; see /tmp/batchemu-apt-busybox.log"
            tail -n 20 /tmp/batchemu-apt-busybox.log >&2
            exit 1
        }
    fi
    BB="$(find_busybox)" || { log "still no static busybox after install"; exit 1; }
fi

if command -v sha256sum >/dev/null 2>&1; then
    SHA="$(sha256sum "$BB" | cut -d' ' -f1)"
else
    SHA="$(shasum -a 256 "$BB" | cut -d' ' -f1)"
fi
WANT="$SHA-r$RECIPE"

HAVE="$(docker image inspect -f '{{ index .Config.Labels "batchemu.busybox.sha256" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$HAVE" = "$WANT" ]; then
    exit 0
fi

CTX="$(mktemp -d)"
trap 'rm -rf "$CTX"' EXIT
cp "$BB" "$CTX/busybox"
chmod 755 "$CTX/busybox"
mkdir -p "$CTX/etc"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$CTX/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$CTX/etc/group"
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
COPY etc/ /etc/
RUN ["/bin/busybox", "sh", "-c", "set -e; /bin/busybox mkdir -p /usr/bin /usr/sbin /sbin /tmp /root; /bin/busybox --install -s /bin; chmod 1777 /tmp; chmod 700 /root; test -x /bin/sh; test -L /bin/ls"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL batchemu.busybox.sha256="$WANT"
CMD ["sh"]
DOCKERFILE

# The RUN steps need no network; `--network none` works with an engine that
# has no default bridge (dockerd --bridge=none), with both the legacy builder
# and BuildKit. Use the legacy builder when the buildx plugin is missing
# (Debian's docker.io / a bare docker CLI), to avoid the deprecation error.
BUILD_ENV=()
if ! docker buildx version >/dev/null 2>&1; then BUILD_ENV=(DOCKER_BUILDKIT=0); fi

log "building $IMAGE from $BB ..."
if ! out="$(env ${BUILD_ENV[@]+"${BUILD_ENV[@]}"} docker build --network none -q -t "$IMAGE" "$CTX" 2>&1)"; then
    echo "$out" >&2
    log "docker build failed"
    exit 1
fi
docker run --rm --network none "$IMAGE" sh -c 'test -d /tmp' >/dev/null || {
    log "built image does not run"; exit 1; }
log "built $IMAGE"
