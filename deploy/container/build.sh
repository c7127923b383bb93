#!/usr/bin/env bash
# Builds the Copenhagen container image: the static binary on the host
# (CGO_ENABLED=0, so it runs FROM scratch), then the image with podman or
# docker, whichever exists (CONTAINER_ENGINE=docker forces one). The
# image build runs with --network=none: nothing is downloaded.
#
#   IMAGE=name:tag      image tag (default copenhagen:dev)
#   GOARCH=arm64        another architecture (Graviton spot nodes)
#   VERSION=1.2.3       version printed by `copenhagen version`
#   PODMAN_FLAGS=...    global podman flags, e.g. on a host without
#                       systemd: "--cgroup-manager=cgroupfs --events-backend=file --runtime=runc"
#   BINARY=path         use this static binary instead of building one
set -euo pipefail
IMAGE=${IMAGE:-copenhagen:dev}
VERSION=${VERSION:-dev}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then engine=podman
  elif command -v docker >/dev/null 2>&1; then engine=docker
  else echo "build.sh: neither podman nor docker is installed" >&2; exit 1
  fi
fi
flags=()
if [ "$engine" = podman ] && [ -n "${PODMAN_FLAGS:-}" ]; then
  read -r -a flags <<<"$PODMAN_FLAGS"
fi

certs=${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}
if [ ! -r "$certs" ]; then
  echo "build.sh: $certs missing (apt-get install ca-certificates, or set CA_CERTIFICATES)" >&2
  exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
if [ -n "${BINARY:-}" ]; then
  cp "$BINARY" "$ctx/copenhagen"
else
  echo "build.sh: go build (static) ..." >&2
  (cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=${GOARCH:-$(go env GOARCH)} \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$ctx/copenhagen" ./cmd/copenhagen)
fi
cp "$certs" "$ctx/ca-certificates.crt"
cp "$here/Containerfile" "$here/copenhagen.yml" "$ctx/"
mkdir "$ctx/state"
printf 'root:x:0:0:root:/:/sbin/nologin\ncopenhagen:x:65532:65532:Copenhagen:/var/lib/copenhagen:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\ncopenhagen:x:65532:\n' >"$ctx/group"

echo "build.sh: $engine build -t $IMAGE ..." >&2
platform=()
if [ -n "${GOARCH:-}" ]; then platform=(--platform "linux/$GOARCH"); fi
"$engine" "${flags[@]}" build --network=none "${platform[@]}" -f "$ctx/Containerfile" -t "$IMAGE" "$ctx"
echo "$IMAGE"
