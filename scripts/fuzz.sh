#!/usr/bin/env bash
# Runs each parser fuzz target of package ingest for a while (default 5s
# each): bash scripts/fuzz.sh [DURATION]. Go runs one fuzz target per
# invocation; a failing input is written to ingest/testdata/fuzz/<target>/
# and then replayed by every plain `go test`. Minimising a new input is
# capped at 1s: for the big PDF seeds it would otherwise take the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
time=${1:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in FuzzLoad FuzzDecodeText FuzzPDF FuzzOffice; do
	if "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 1s -parallel 2 ./ingest/ >"$log" 2>&1; then
		echo "$target ($time): $(grep -E '^fuzz: elapsed' "$log" | tail -n 1)"
	else
		cat "$log"
		echo "$target failed"
		exit 1
	fi
done
