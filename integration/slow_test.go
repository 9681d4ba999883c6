package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ragpipe/ragpipe/event"
)

// A GPU taking longer per batch than the group's session timeout does not
// cost the worker its membership: heartbeats run in the background, so the
// partitions are assigned once and never revoked, and every chunk is
// embedded once.
func TestSlowGPUCausesNoRebalance(t *testing.T) {
	brokers := setupKafka(t)
	_, url := startGpusim(t, "--base-latency", "7s", "--per-item", "0s", "--max-concurrent", "4")
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-slow", "--embedder", url, "--model", "gpusim",
		"--session-timeout", "6s", "--batch-size", "64", "--embedder-timeout", "30s")
	dir := t.TempDir()
	for i := range 6 {
		text := "# Slow " + strconv.Itoa(i) + "\n\nA document for a slow embedding server, number " + strconv.Itoa(i) + ".\n"
		if err := os.WriteFile(filepath.Join(dir, "slow-"+strconv.Itoa(i)+".md"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, dir))
	got := readTopic(t, brokers, event.TopicEmbedded, 2*time.Minute, embeddedCovers(chunks))
	if len(got) < chunks {
		t.Fatalf("%d of %d chunks embedded", len(got), chunks)
	}
	// One more batch time: a rebalance caused by the slow batches would show now.
	time.Sleep(8 * time.Second)
	embedP.stop(30 * time.Second)
	logs := embedP.stderr.String()
	if n := strings.Count(logs, "partitions assigned"); n != 1 {
		t.Fatalf("partitions assigned %d times: the slow GPU caused a rebalance\n%s", n, tail(logs, 3000))
	}
	if strings.Count(logs, "partitions revoked") > 1 || strings.Contains(logs, "partitions lost") {
		t.Fatalf("partitions revoked or lost before shutdown:\n%s", tail(logs, 3000))
	}
	if again := readTopic(t, brokers, event.TopicEmbedded, 3*time.Second, atLeast(chunks+1)); len(again) != chunks {
		t.Fatalf("%d records for %d chunks: work was redone", len(again), chunks)
	}
}
