#!/usr/bin/env bash
# VictoriaLogs for the logs integration tests: it accepts the Loki push API
# (/insert/loki/api/v1/push) and answers LogsQL (/select/logsql/query).
# Installed into <repo>/.bin (ignored by git); skipped when already there.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
if [ ! -x "$repo/.bin/victoria-logs" ]; then
  mkdir -p "$repo/.bin"
  GOBIN="$repo/.bin" go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1
fi
