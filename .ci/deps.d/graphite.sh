#!/usr/bin/env bash
# /usr/bin/python3 for the Graphite tests: the pickle test payloads and the
# end-to-end pickle test are written by Python's own pickle module
# (ingest/graphite/testdata/gen_pickles.py, cmd/copenhagen/graphite_e2e_test.go).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! /usr/bin/python3 -c "import pickle, struct" 2>/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3 >/dev/null
fi
