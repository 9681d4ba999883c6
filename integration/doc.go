// Package integration holds ragpipe's end-to-end tests: the ragpipe binary
// runs as separate processes (ingest, embed, index, search, gpusim) against
// a real Apache Kafka broker, the way users run it.
//
// The broker's address comes from RAGPIPE_TEST_BROKERS, which `make test`
// sets after starting Kafka (scripts/kafka.sh). Without it the Kafka tests
// are skipped, unless RAGPIPE_REQUIRE_KAFKA is set (as `make test` does),
// in which case they fail: no integration test is silently skipped there.
// Tests of the PostgreSQL store likewise take RAGPIPE_TEST_POSTGRES
// (scripts/postgres.sh) and RAGPIPE_REQUIRE_POSTGRES, each in a schema of
// its own (storetest.PostgresDSN).
//
// The pipeline's topic names are fixed, so the tests of this package run
// one at a time and each starts by deleting and re-creating the topics; each
// uses its own consumer groups and data folder.
package integration
