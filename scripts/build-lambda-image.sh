#!/usr/bin/env bash
# Build batchemu's Lambda runtime image, without any registry:
#
#   the thumbnails example's Debian trixie image (examples/thumbnails/image/build.sh:
#   debootstrap + python3, python3-boto3, python3-pil; its rootfs cached in
#   ${XDG_CACHE_HOME:-~/.cache}/batchemu/) + scripts/lambda-runtime/bootstrap.py as the
#   entrypoint -> batchemu/lambda:python3.9 ... python3.13 (one image, every Python tag:
#   moto's Lambda runs `<image>:<runtime>`; the Python inside is Debian's, 3.13).
#
# moto also needs an image named `busybox` to copy a function's code into a volume: when the
# engine has none, the test suite's busybox (scripts/build-test-image.sh) is tagged so.
#
# Skips the work when batchemu/lambda:python3.13 carries the label batchemu.lambda.inputs equal
# to the hash of this script, the bootstrap and the base image id. FORCE=1 rebuilds.
# Environment: LAMBDA_IMAGE (repository, default batchemu/lambda), BATCHEMU_TEST_IMAGE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO="${LAMBDA_IMAGE:-batchemu/lambda}"
BASE="batchemu-examples/thumbnails:latest"
TAGS=(python3.9 python3.10 python3.11 python3.12 python3.13)
TEST_IMAGE="${BATCHEMU_TEST_IMAGE:-batchemu-test/busybox:latest}"

log() { echo "build-lambda-image: $*" >&2; }

THUMBNAILS_IMAGE="$BASE" bash "$ROOT/examples/thumbnails/image/build.sh"

if ! docker image inspect busybox:latest >/dev/null 2>&1; then
    docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 || bash "$ROOT/scripts/build-test-image.sh"
    docker tag "$TEST_IMAGE" busybox:latest
    log "tagged $TEST_IMAGE as busybox:latest (moto copies function code with it)"
fi

BASE_ID="$(docker image inspect -f '{{.Id}}' "$BASE")"
INPUTS="$( { cat "${BASH_SOURCE[0]}" "$ROOT/scripts/lambda-runtime/bootstrap.py"; echo "$BASE_ID"; } | sha256sum | cut -c1-16)"
LAST="${TAGS[-1]}"
if [ "${FORCE:-0}" != 1 ] && [ "$(docker image inspect -f '{{index .Config.Labels "batchemu.lambda.inputs"}}' "$REPO:$LAST" 2>/dev/null || true)" = "$INPUTS" ]; then
    log "$REPO is up to date ($INPUTS)"
    exit 0
fi

CID="$(docker create --network none "$BASE" true)"
trap 'docker rm -f "$CID" >/dev/null 2>&1 || true' EXIT
docker cp "$ROOT/scripts/lambda-runtime/bootstrap.py" "$CID:/usr/local/bin/lambda-bootstrap"
docker commit \
    --change 'ENTRYPOINT ["python3", "/usr/local/bin/lambda-bootstrap"]' \
    --change 'CMD []' \
    --change 'WORKDIR /var/task' \
    --change "LABEL batchemu.lambda.inputs=$INPUTS" \
    "$CID" "$REPO:$LAST" >/dev/null
for tag in "${TAGS[@]}"; do
    [ "$tag" = "$LAST" ] || docker tag "$REPO:$LAST" "$REPO:$tag"
done
echo '{}' | docker run --rm --network none -i --entrypoint python3 "$REPO:$LAST" -c 'import boto3, json, sys; json.load(sys.stdin)' ||
    { log "the image cannot run python3 with boto3"; exit 1; }
log "built $REPO:{${TAGS[*]}} ($INPUTS)"
