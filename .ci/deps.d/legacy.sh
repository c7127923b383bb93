#!/usr/bin/env bash
# The legacy stack users run today, for the switchover shadow's tests
# (translate/graphiteweb/legacytest): Debian's graphite-web 1.1.8,
# graphite-carbon 1.1.7 and python3-whisper, and etsy statsd 0.9.0 from npm,
# installed under <repo>/.bin/legacy-statsd (ignored by git). The tests
# start their own carbon-cache, graphite-web and statsd on free ports in
# temporary directories; the packaged carbon-cache service is never left
# running (policy-rc.d refuses service starts during the install, and the
# service is stopped and disabled after). Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
repo="$(cd "$(dirname "$0")/../.." && pwd)"

missing=()
[ -x /usr/bin/graphite-manage ] || missing+=(graphite-web)
[ -x /usr/bin/carbon-cache ] || missing+=(graphite-carbon)
/usr/bin/python3 -c 'import whisper' 2>/dev/null || missing+=(python3-whisper)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
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
for svc in carbon-cache apache2; do
  if command -v systemctl >/dev/null 2>&1 && systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
    systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$svc" ]; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done

statsd_dir="$repo/.bin/legacy-statsd"
if [ ! -f "$statsd_dir/node_modules/statsd/stats.js" ] ||
   ! grep -q '"version": "0.9.0"' "$statsd_dir/node_modules/statsd/package.json"; then
  mkdir -p "$statsd_dir"
  # --no-save: no package.json is needed; --ignore-scripts: statsd 0.9.0
  # has no install scripts of its own, and its optional modules are not used.
  npm install --prefix "$statsd_dir" --no-save --no-audit --no-fund --ignore-scripts statsd@0.9.0 >/dev/null
fi
/usr/bin/python3 -c 'import whisper' 
test -f "$statsd_dir/node_modules/statsd/stats.js"
