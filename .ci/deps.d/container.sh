#!/usr/bin/env bash
# podman and runc for the container image test (cmd/copenhagen
# container_test.go builds deploy/container and runs it), and kubectl's
# kustomize and systemd-analyze for the deploy tests. On these machines
# podman needs runc (crun refuses hybrid cgroups) and cgroupfs; the test
# passes those flags itself. No registry is contacted: the image is
# FROM scratch.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}"
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi
command -v podman >/dev/null
command -v runc >/dev/null
command -v systemd-analyze >/dev/null
# kubectl comes with the Go image here (v1.32, kustomize v5.5); Debian's
# kubernetes-client is too old for the manifests' kustomize syntax.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "warning: kubectl is not installed; the Kubernetes manifest test (kubectl kustomize) will fail under CI" >&2
fi
