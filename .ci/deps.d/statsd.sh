#!/usr/bin/env bash
# A non-Go StatsD client for the end-to-end tests: Debian's python3-statsd,
# used through Debian's /usr/bin/python3.
set -euo pipefail
if ! /usr/bin/python3 -c 'import statsd' 2>/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-statsd
fi
