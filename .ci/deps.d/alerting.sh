#!/usr/bin/env bash
# Alertmanager 0.25 (Debian's prometheus-alertmanager) for the tests of
# alerting.alertmanagers: the tests start their own instance on a free
# port with a temporary storage path; the packaged service is never used,
# so it is stopped and disabled.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  apt-get update -qq
  # policy-rc.d 101: do not start services from maintainer scripts.
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
if command -v systemctl >/dev/null 2>&1 && systemctl list-unit-files prometheus-alertmanager.service >/dev/null 2>&1; then
  systemctl disable --now prometheus-alertmanager.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/prometheus-alertmanager ]; then
  /etc/init.d/prometheus-alertmanager stop >/dev/null 2>&1 || true
  update-rc.d prometheus-alertmanager disable >/dev/null 2>&1 || true
fi
prometheus-alertmanager --version 2>&1 | head -1
