#!/usr/bin/env bash
# Debian's chromium for the TV page tests (dashboards/tv, cmd/copenhagen):
# chromedp drives it headless over the DevTools protocol, at 1920x1080 and
# 3840x2160, to check that the board fits the screen and that a tile's
# data-state follows its alert. fonts-dejavu-core gives the page a known
# font. chromium ships no service; policy-rc.d is set anyway, as in the
# other scripts, so no maintainer script starts anything.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi dejavu; then
  apt-get update -qq
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fontconfig >/dev/null
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi
chromium --version
