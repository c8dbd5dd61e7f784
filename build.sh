#!/usr/bin/env bash
# build.sh: build the go-jwt Docker image.
#
#   ./build.sh                 # go-jwt:latest
#   IMAGE=me/go-jwt TAG=1.2 ./build.sh --no-cache   # extra args go to docker build
#
# Then removes only the dangling builder-stage images of this project
# (label go-jwt.stage=builder): never a bare `docker image prune`, which would
# delete other projects' dangling images too.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

image="${IMAGE:-go-jwt}:${TAG:-latest}"
version="$(git describe --always --dirty 2>/dev/null || echo dev)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "==> building ${image} (version ${version})"
docker build \
    --build-arg "VERSION=${version}" \
    --label "org.opencontainers.image.version=${version}" \
    --label "org.opencontainers.image.revision=${revision}" \
    --label "org.opencontainers.image.created=${created}" \
    -t "${image}" \
    "$@" \
    .

echo "==> removing dangling builder images of go-jwt (label go-jwt.stage=builder)"
docker image prune -f --filter "label=go-jwt.stage=builder"

echo "==> built ${image}; run it with ./start.sh"
