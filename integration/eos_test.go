package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// An embedding outage far longer than the transaction timeout, in
// exactly-once mode: each round that cannot finish is aborted at its
// deadline and retried, so the worker is never fenced. Afterwards every
// chunk is embedded once under read_committed, nothing is dead-lettered,
// and the worker is still running.
func TestExactlyOnceWaitsOutAnOutageOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 30, 16)
	// Down from 2 s to 22 s: 20 s, over three times the transaction timeout.
	_, url := startGpusim(t, "--base-latency", "10ms", "--per-item", "1ms", "--max-concurrent", "4", "--outage", "2s-22s")
	serverStart := time.Now()
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-eos-outage", "--embedder", url, "--model", "gpusim",
		"--batch-size", "16", "--embedder-timeout", "2s", "--exactly-once", "--transaction-timeout", "6s", "--drain-timeout", "2s",
		"--instance-id", "embed-eos-outage")
	time.Sleep(time.Until(serverStart.Add(3 * time.Second))) // the outage has begun
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))

	embedded := readTopic(t, brokers, event.TopicEmbedded, 2*time.Minute, embeddedCovers(chunks))
	if embedP.exited() {
		t.Fatalf("embed exited during the outage: %v\n%s", embedP.err, tail(embedP.stderr.String(), 4000))
	}
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	embedP.stop(20 * time.Second)
	embedded = readTopic(t, brokers, event.TopicEmbedded, 10*time.Second, func(rs []*kgo.Record) bool { return len(rs) > len(embedded) })
	want, got, dups := checkEmbedded(t, parsed, embedded)
	if len(got) != len(want) {
		t.Fatalf("%d of %d chunks embedded after the outage", len(got), len(want))
	}
	if dups != 0 {
		t.Fatalf("%d duplicates under read_committed in exactly-once mode", dups)
	}
	if !strings.Contains(embedP.stderr.String(), "aborted, retrying after backoff") {
		t.Fatalf("no transaction round was aborted at its deadline during a 20 s outage:\n%s", tail(embedP.stderr.String(), 3000))
	}
	noneOn(t, brokers, event.TopicDLQ)
	noneOn(t, brokers, event.TopicFailed)
}

// SIGTERM while an exactly-once worker is busy: it exits 0 within the
// drain deadline, and a successor completes the work with no duplicate
// under read_committed.
func TestExactlyOnceSigtermUnderLoadOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 40, 24)
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))
	_, url := startGpusim(t, "--base-latency", "20ms", "--per-item", "2ms", "--max-concurrent", "2")
	args := []string{"embed", "--brokers", brokers, "--group", "it-eos-term", "--embedder", url, "--model", "gpusim",
		"--batch-size", "16", "--exactly-once", "--drain-timeout", "1s", "--instance-id", "embed-eos-term"}
	first := start(t, "embed-1", args...)
	readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(chunks/5))
	first.stop(20 * time.Second) // requires exit status 0
	second := start(t, "embed-2", args...)
	embedded := readTopic(t, brokers, event.TopicEmbedded, 2*time.Minute, embeddedCovers(chunks))
	second.stop(20 * time.Second)
	embedded = readTopic(t, brokers, event.TopicEmbedded, 10*time.Second, func(rs []*kgo.Record) bool { return len(rs) > len(embedded) })
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	want, got, dups := checkEmbedded(t, parsed, embedded)
	if len(got) != len(want) || dups != 0 {
		t.Fatalf("%d of %d chunks embedded, %d duplicates under read_committed", len(got), len(want), dups)
	}
}
