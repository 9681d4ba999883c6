// Command harness is ragpipe's end-to-end benchmark: it runs the real
// `ragpipe embed` workers as processes against real Apache Kafka and
// `ragpipe gpusim` processes, next to baseline consumers on the same broker
// and simulated GPU, and measures everything from what the topics hold
// afterwards (record timestamps and counts), not from the workers' own
// counters. It writes BENCHMARKS.md and its figures.
//
//	go run ./bench/harness            the full run (make bench)
//	go run ./bench/harness -quick     every scenario at small scale, 3 at a time (make bench-quick)
//	go run ./bench/harness -only gpu-bound,outage
//
// Kafka comes from scripts/kafka.sh (started in a temporary folder and
// stopped at the end) unless RAGPIPE_BENCH_BROKERS names a running cluster.
// A full run runs its scenarios one after another on one cluster, so that
// no measurement shares the machine with another; -lanes N (3 with
// -quick) runs N at a time, each lane on a cluster of its own (records of
// one scenario are told apart by the offsets before it started, so two
// scenarios must never share a cluster at once).
//
// Files:
//   - main.go: flags and the run as a whole.
//   - kafka.go: the broker and the topics.
//   - proc.go: child processes, their peak RSS and CPU time from /proc.
//   - corpus.go: the generated documents and their skew.
//   - readback.go: reading the topics back after a scenario.
//   - check.go: lost chunks, duplicates, ordering violations (tested).
//   - metrics.go: throughput, latency percentiles, timelines.
//   - scenarios.go, run.go: what each scenario runs and how.
//   - lanes.go: running scenarios at once, one cluster per lane (tested).
//   - baseline.go: the baseline consumers run as subcommands of this binary.
//   - plot.go, report.go: the figures and BENCHMARKS.md.
package main
