# batchemu as a container: the AWS Batch API on :8000, state on a volume, jobs as sibling
# containers through the host's Docker socket. Build it with scripts/build-image.sh (which picks
# the base: python:3.12-slim when a registry answers, else a Debian base built locally);
# README "Run as a container" shows docker run, docker compose and a CI `services:` entry.
#
#   docker run -d --name batchemu --network host \
#       -v /var/run/docker.sock:/var/run/docker.sock -v batchemu-data:/var/lib/batchemu \
#       batchemu:local
#
# Any Python >= 3.11 base with `venv` works (the builder reads pyproject.toml with tomllib).
ARG BASE_IMAGE=python:3.12-slim

# -- builder: a venv with batchemu and its dependencies, from wheels (no compiler needed) -----
FROM ${BASE_IMAGE} AS builder
# Marks this stage's cached steps, so scripts/build-image.sh can drop the stale ones.
LABEL batchemu.image.stage=builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/batchemu
# moto[server] brings cfn-lint, which moto uses for CloudFormation's ValidateTemplate only, and
# with it sympy, networkx and mpmath: ~135 MB, a third of the image. Left out unless
# --build-arg CFN_LINT=1 (without it ValidateTemplate answers a 500, "No module named
# 'cfnlint'"; stacks are created all the same).
ARG CFN_LINT=0
ARG CFN_LINT_ONLY="cfn-lint sympy mpmath networkx regex jsonpatch jsonpointer"
# Dependencies first, from pyproject.toml alone: this layer survives every edit of the code.
# build-ca.pem (optional; the glob lets it be absent): the CA bundle of a TLS-intercepting proxy
# between this build and PyPI, which scripts/build-image.sh copies from the host (PIP_CERT,
# REQUESTS_CA_BUNDLE, SSL_CERT_FILE) when it has one. Only the builder stage sees it.
COPY pyproject.toml build-ca.pe[m] /src/
RUN python3 -c 'import tomllib; d = tomllib.load(open("/src/pyproject.toml", "rb")); print("\n".join(d["build-system"]["requires"] + d["project"]["dependencies"]))' >/src/requirements.txt \
 && if [ -s /src/build-ca.pem ]; then export PIP_CERT=/src/build-ca.pem; fi \
 && /opt/batchemu/bin/pip install --prefer-binary -r /src/requirements.txt \
 && if [ "$CFN_LINT" != 1 ]; then /opt/batchemu/bin/pip uninstall -y -q $CFN_LINT_ONLY; fi
COPY batchemu /src/batchemu
# The package itself (its build backend is already in the venv), then the build tools leave
# (setuptools is no runtime dependency of anything here; `pip check` proves it), pip last: the
# runtime image installs nothing. README.md is only the package's long description, so an empty
# one stands in: editing the README never rebuilds the image.
RUN touch /src/README.md \
 && /opt/batchemu/bin/pip install --no-deps --no-build-isolation /src \
 && /opt/batchemu/bin/pip uninstall -y -q setuptools \
 && /opt/batchemu/bin/pip check \
 && /opt/batchemu/bin/python -c 'import batchemu.emulator, moto.server' \
 && /opt/batchemu/bin/pip uninstall -y -q pip

# -- runtime: the base plus that venv, one layer --------------------------------------------
FROM ${BASE_IMAGE}
# The settings first and the copy last: every instruction costs a copy of the whole image on a
# vfs engine (the classic builder commits one container per step), and these steps stay cached
# while the code changes.
#
# Listen on every interface of the container (the port is what -p publishes); keep state on
# the volume; accept the Host name "batchemu" (the compose service / container name) besides
# localhost and 127.0.0.1, which are always accepted. Add yours with BATCHEMU_ALLOWED_HOSTS or
# --allowed-hosts (a flag replaces the variable). Jobs' AWS_ENDPOINT_URL host is accepted too.
ENV PATH=/opt/batchemu/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BATCHEMU_HOST=0.0.0.0 \
    BATCHEMU_PORT=8000 \
    BATCHEMU_DATA_DIR=/var/lib/batchemu \
    BATCHEMU_ALLOWED_HOSTS=batchemu
# (Docker creates the mount point; a RUN mkdir would cost a whole layer copy on vfs engines.)
VOLUME /var/lib/batchemu
EXPOSE 8000
# GET /batchemu/health: 200 once the server answers HTTP (Host: 127.0.0.1 passes the guard).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/batchemu/health' % os.environ.get('BATCHEMU_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["batchemu"]
# scripts/build-image.sh passes the hash of the inputs, to know when the image is up to date.
ARG BATCHEMU_INPUTS=unknown
LABEL org.opencontainers.image.title="batchemu" \
      org.opencontainers.image.description="A local AWS Batch: the Batch API, a scheduler and Docker execution on one endpoint" \
      batchemu.image.inputs="${BATCHEMU_INPUTS}"
COPY --from=builder /opt/batchemu /opt/batchemu
