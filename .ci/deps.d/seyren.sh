#!/usr/bin/env bash
# promtool and amtool for `copenhagen import seyren`'s validation tests:
# Debian's prometheus (promtool) and prometheus-alertmanager (amtool).
# The packages start their daemons; the tests only need the command-line
# tools, so the services are stopped and disabled.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  # policy-rc.d 101: do not start services from maintainer scripts.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi
for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
    systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$svc" ]; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done
command -v promtool >/dev/null
command -v amtool >/dev/null
