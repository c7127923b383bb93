#!/usr/bin/env bash
# amtool for alerting/routing's silence tests (amtool talking to
# Copenhagen's Alertmanager API v2). Debian's prometheus-alertmanager
# ships it (0.25); its daemon is never started: policy-rc.d refuses
# service starts during the install, and the service is disabled after.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v amtool >/dev/null 2>&1; then
  apt-get update -qq
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends prometheus-alertmanager
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi
svc=prometheus-alertmanager
if command -v systemctl >/dev/null 2>&1 && systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
  systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
fi
if [ -x "/etc/init.d/$svc" ]; then
  "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
  update-rc.d "$svc" disable >/dev/null 2>&1 || true
fi
command -v amtool >/dev/null
