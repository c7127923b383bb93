#!/usr/bin/env bash
# Servers for the storage integration tests (translate/storage): Debian's
# prometheus (2.42: remote write receiver, query oracle) and
# victoria-metrics (1.79.5: remote write target). The tests start their own
# instances on free ports with temporary data directories, so the packaged
# services are stopped and disabled if the packages started them.
set -euo pipefail
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the maintainer scripts from starting the services.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for unit in prometheus victoria-metrics; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl stop "$unit" || true
    systemctl disable "$unit" >/dev/null 2>&1 || true
  fi
done
