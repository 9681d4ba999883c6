package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

func embeddedCovers(n int) func([]*kgo.Record) bool {
	return func(rs []*kgo.Record) bool {
		seen := map[chunkID]bool{}
		for _, r := range rs {
			if m, err := event.DecodeChunkEmbedded(r); err == nil {
				seen[chunkID{m.GetDocId(), m.GetDocVersion(), m.GetChunkIndex()}] = true
			}
		}
		return len(seen) >= n
	}
}

func setupKafka(t *testing.T) string {
	t.Helper()
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "6", "--replication-factor", "1")
	return brokers
}

// reread reads topic again, for records that arrived after first. A topic
// only grows: a re-read that returns fewer records than first timed out
// before its fetch answered (a loaded machine), so first stands.
func reread(t *testing.T, brokers, topic string, first []*kgo.Record) []*kgo.Record {
	t.Helper()
	again := readTopic(t, brokers, topic, 5*time.Second, atLeast(len(first)+1))
	if len(again) < len(first) {
		return first
	}
	return again
}

func noneOn(t *testing.T, brokers, topic string) {
	t.Helper()
	if recs := readTopic(t, brokers, topic, 2*time.Second, atLeast(1)); len(recs) != 0 {
		t.Fatalf("%d records on %s", len(recs), topic)
	}
}

// A 30-second full outage of the embedding server in the middle of a run:
// nothing is dead-lettered, no document fails, every chunk is embedded in
// order, and work resumes within 5 seconds of the server's return.
func TestOutageSendsNothingToTheDLQ(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 40, 24)
	// ~300 chunks/s at best: the run is still going when the outage starts.
	gs, url := startGpusim(t, "--base-latency", "20ms", "--per-item", "5ms", "--max-concurrent", "2", "--outage", "3s-33s")
	serverStart := time.Now()
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-outage", "--embedder", url, "--model", "gpusim",
		"--batch-size", "16", "--embedder-timeout", "5s")
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))

	embedded := readTopic(t, brokers, event.TopicEmbedded, 2*time.Minute, embeddedCovers(chunks))
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	want, got, _ := checkEmbedded(t, parsed, embedded)
	if len(got) != len(want) {
		t.Fatalf("%d of %d chunks embedded after the outage", len(got), len(want))
	}
	// Work done before the outage, none during it, and back soon after it.
	outageStart, outageEnd := serverStart.Add(3*time.Second), serverStart.Add(33*time.Second)
	var before, during int
	var firstAfter time.Time
	for _, r := range embedded {
		switch ts := r.Timestamp; {
		case ts.Before(outageStart):
			before++
		case ts.Before(outageEnd.Add(-time.Second)):
			during++
		case firstAfter.IsZero() || ts.Before(firstAfter):
			if ts.After(outageEnd.Add(-time.Second)) {
				firstAfter = ts
			}
		}
	}
	if before == 0 || before >= len(want) {
		t.Fatalf("%d of %d chunks embedded before the outage: it did not hit the middle of the run", before, len(want))
	}
	if during > 64 { // batches already answered when the listener closed
		t.Fatalf("%d chunks embedded during the outage", during)
	}
	recovery := firstAfter.Sub(outageEnd)
	t.Logf("outage: %d chunks before, %d during; first chunk %s after the server's return", before, during, recovery.Round(time.Millisecond))
	if firstAfter.IsZero() || recovery > 5*time.Second {
		t.Fatalf("work resumed %s after the server's return, want within 5s", recovery)
	}
	if !strings.Contains(embedP.stderr.String(), "circuit breaker open") {
		t.Fatalf("no breaker in the logs:\n%s", tail(embedP.stderr.String(), 3000))
	}
	embedP.stop(20 * time.Second)
	noneOn(t, brokers, event.TopicDLQ)
	noneOn(t, brokers, event.TopicFailed)
	_ = gs
}

// A corpus with a few poisoned documents: exactly those fail, with the
// dead-letter headers; their remaining chunks are skipped and the indexer
// removes what it had of them; everything else is embedded in order.
func TestPoisonedDocumentsFailAloneOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 20, 24)
	poisoned := map[string]bool{"doc-003.md": true, "doc-011.md": true, "doc-017.md": true}
	for name := range poisoned {
		p := filepath.Join(corpus, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// Poison a paragraph in the middle of the document.
		paras := strings.Split(string(b), "\n\n")
		paras[len(paras)/2] += " XPOISONX"
		if err := os.WriteFile(p, []byte(strings.Join(paras, "\n\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, url := startGpusim(t, "--poison", "XPOISONX")
	data := t.TempDir()
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-poison", "--embedder", url, "--model", "hash-384", "--batch-size", "16")
	indexP := start(t, "index", "index", "--brokers", brokers, "--group", "it-poison-index", "--data", data)
	docs, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))

	dlq := readTopic(t, brokers, event.TopicDLQ, time.Minute, atLeast(len(poisoned)))
	failedRecs := readTopic(t, brokers, event.TopicFailed, 30*time.Second, atLeast(len(poisoned)))
	indexed := readTopic(t, brokers, event.TopicIndexed, time.Minute, func(rs []*kgo.Record) bool {
		seen := map[string]bool{}
		for _, r := range rs {
			seen[string(r.Key)] = true
		}
		return len(seen) >= docs-len(poisoned)
	})
	time.Sleep(2 * time.Second) // let any stray record arrive
	dlq = reread(t, brokers, event.TopicDLQ, dlq)
	failedRecs = reread(t, brokers, event.TopicFailed, failedRecs)
	embedP.stop(20 * time.Second)
	indexP.stop(20 * time.Second)

	poisonIndex := map[string]int32{}
	if len(dlq) != len(poisoned) {
		t.Fatalf("%d dead letters, want %d", len(dlq), len(poisoned))
	}
	for _, d := range dlq {
		m, err := event.DecodeChunkParsed(d)
		if err != nil {
			t.Fatal(err)
		}
		if !poisoned[m.GetDocId()] || !strings.Contains(m.GetText(), "XPOISONX") {
			t.Fatalf("dead letter for %s chunk %d is not a poisoned chunk", m.GetDocId(), m.GetChunkIndex())
		}
		poisonIndex[m.GetDocId()] = m.GetChunkIndex()
		for name, want := range map[string]string{event.HeaderDLQStage: "embed", event.HeaderDLQErrorClass: "record",
			event.HeaderDLQAttempts: "3", event.HeaderDLQTopic: event.TopicParsed, event.HeaderConnectTopic: event.TopicParsed} {
			if got, _ := event.Header(d, name); got != want {
				t.Errorf("%s: header %s = %q, want %q", m.GetDocId(), name, got, want)
			}
		}
		for _, name := range []string{event.HeaderDLQPartition, event.HeaderDLQOffset, event.HeaderDLQErrorMessage,
			event.HeaderDLQFirstFailure, event.HeaderDLQLastFailure, event.HeaderConnectPartition,
			event.HeaderConnectOffset, event.HeaderConnectExceptionMessage} {
			if v, _ := event.Header(d, name); v == "" {
				t.Errorf("%s: header %s missing", m.GetDocId(), name)
			}
		}
	}
	if len(failedRecs) != len(poisoned) {
		t.Fatalf("%d DocumentFailed, want %d", len(failedRecs), len(poisoned))
	}
	for _, r := range failedRecs {
		m, err := event.DecodeDocumentFailed(r)
		if err != nil {
			t.Fatal(err)
		}
		if !poisoned[m.GetDocId()] || m.GetStage() != "embed" || m.GetAttempts() != 3 {
			t.Fatalf("DocumentFailed %+v", m)
		}
	}
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	expected := 0 // healthy chunks and the chunks before each poisoned one
	for _, r := range parsed {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		if pi, ok := poisonIndex[m.GetDocId()]; !ok || m.GetChunkIndex() < pi {
			expected++
		}
	}
	embedded := readTopic(t, brokers, event.TopicEmbedded, 30*time.Second, embeddedCovers(expected))
	want, got, _ := checkEmbedded(t, parsed, embedded)
	for id := range want {
		pi, isPoisoned := poisonIndex[id.doc]
		switch {
		case !isPoisoned && !got[id]:
			t.Fatalf("chunk %v of a healthy document was not embedded", id)
		case isPoisoned && id.index >= pi && got[id]:
			t.Fatalf("chunk %v at or after the poisoned chunk %d was embedded", id, pi)
		}
	}
	for _, r := range indexed {
		if _, docID, _ := event.ParseKey(r.Key); poisoned[docID] {
			t.Fatalf("poisoned document %s was announced as indexed", docID)
		}
	}
	// The indexer removed what it had of the failed versions.
	for name := range poisoned {
		out := mustRun(t, time.Minute, "search", "--data", data, "--k", "50", fmt.Sprintf("d%sp1", strings.TrimSuffix(strings.TrimPrefix(name, "doc-"), ".md")))
		if strings.Contains(out, name) {
			t.Fatalf("search still finds the failed document %s:\n%s", name, out)
		}
	}
}

// Mixed faults without an outage against a capacity-capped server (1% of
// requests hang for 20 s, 3% answer 500, 2% answer 429 with Retry-After,
// 1% of connections drop): every chunk embedded with its own vector, in
// per-document order, and nothing dead-lettered. (Throughput under these
// faults is BenchmarkMixedFaults.)
func TestMixedFaultsLoseNothing(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 40, 24)
	// ~200 chunks/s at best in batches of 16, so that the faults play out
	// over a few hundred requests.
	_, url := startGpusim(t, "--base-latency", "50ms", "--per-item", "2ms", "--max-concurrent", "2",
		"--error-rate", "500=0.03", "--error-rate", "429=0.02", "--retry-after", "1s",
		"--drop-rate", "0.01", "--hang-rate", "0.01", "--hang-for", "20s", "--seed", "7")
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-mixed", "--embedder", url, "--model", "gpusim",
		"--batch-size", "16")
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))
	start := time.Now()
	embedded := readTopic(t, brokers, event.TopicEmbedded, 3*time.Minute, embeddedCovers(chunks))
	took := time.Since(start)
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	want, got, _ := checkEmbedded(t, parsed, embedded)
	if len(got) != len(want) {
		t.Fatalf("%d of %d chunks embedded under mixed faults", len(got), len(want))
	}
	t.Logf("%d chunks under mixed faults in %s (%d records incl. duplicates)", len(want), took.Round(time.Second), len(embedded))
	embedP.stop(20 * time.Second)
	noneOn(t, brokers, event.TopicDLQ)
	noneOn(t, brokers, event.TopicFailed)
}

// Two endpoints, one killed mid-run: the other carries the load and
// nothing is lost or dead-lettered.
func TestTwoEndpointsOneKilled(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 40, 24)
	g1, url1 := startGpusim(t, "--base-latency", "20ms", "--per-item", "5ms", "--max-concurrent", "2")
	g2, url2 := startGpusim(t, "--base-latency", "20ms", "--per-item", "5ms", "--max-concurrent", "2")
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-two", "--embedder", url1, "--embedder", url2,
		"--model", "gpusim", "--batch-size", "16")
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))
	readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(chunks/4))
	_ = g1.cmd.Process.Kill() // the first endpoint dies mid-run
	<-g1.done
	killedAt := time.Now()
	embedded := readTopic(t, brokers, event.TopicEmbedded, 2*time.Minute, embeddedCovers(chunks))
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	want, got, _ := checkEmbedded(t, parsed, embedded)
	if len(got) != len(want) {
		t.Fatalf("%d of %d chunks embedded with one endpoint killed", len(got), len(want))
	}
	after := 0
	for _, r := range embedded {
		if r.Timestamp.After(killedAt) {
			after++
		}
	}
	if after == 0 {
		t.Fatal("nothing was embedded after the first endpoint died: the run ended before the kill")
	}
	t.Logf("%d chunks; %d embedded by the surviving endpoint after the kill", len(want), after)
	embedP.stop(20 * time.Second)
	noneOn(t, brokers, event.TopicDLQ)
	noneOn(t, brokers, event.TopicFailed)
	_ = g2
}

// A toxic input — one the server answers with a 500 every time, while it
// answers everything else — fails exactly its document: after
// --max-server-failures failures alone it is dead-lettered with class
// server, its document gets a DocumentFailed, and every other document is
// embedded in order. Nothing else is dead-lettered.
func TestToxicDocumentsFailAloneOnKafka(t *testing.T) {
	brokers := setupKafka(t)
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 20, 24)
	toxic := map[string]bool{"doc-004.md": true, "doc-013.md": true}
	for name := range toxic {
		p := filepath.Join(corpus, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		paras := strings.Split(string(b), "\n\n")
		paras[len(paras)/2] += " XTOXICX"
		if err := os.WriteFile(p, []byte(strings.Join(paras, "\n\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, url := startGpusim(t, "--toxic-marker", "XTOXICX", "--base-latency", "5ms", "--per-item", "500us", "--max-concurrent", "4")
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-toxic", "--embedder", url, "--model", "gpusim",
		"--batch-size", "16", "--breaker-threshold", "3")
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))

	readTopic(t, brokers, event.TopicDLQ, time.Minute, atLeast(len(toxic)))
	time.Sleep(2 * time.Second) // let any stray record arrive
	dlq := readTopic(t, brokers, event.TopicDLQ, 3*time.Second, atLeast(len(toxic)+1))
	failedRecs := readTopic(t, brokers, event.TopicFailed, 3*time.Second, atLeast(len(toxic)+1))
	if len(dlq) != len(toxic) || len(failedRecs) != len(toxic) {
		t.Fatalf("%d dead letters and %d DocumentFailed, want %d each", len(dlq), len(failedRecs), len(toxic))
	}
	toxicIndex := map[string]int32{}
	for _, d := range dlq {
		m, err := event.DecodeChunkParsed(d)
		if err != nil {
			t.Fatal(err)
		}
		if !toxic[m.GetDocId()] || !strings.Contains(m.GetText(), "XTOXICX") {
			t.Fatalf("dead letter for %s chunk %d is not a toxic chunk", m.GetDocId(), m.GetChunkIndex())
		}
		toxicIndex[m.GetDocId()] = m.GetChunkIndex()
		for name, want := range map[string]string{event.HeaderDLQErrorClass: "server", event.HeaderDLQAttempts: "5", event.HeaderDLQStage: "embed"} {
			if got, _ := event.Header(d, name); got != want {
				t.Errorf("%s: header %s = %q, want %q", m.GetDocId(), name, got, want)
			}
		}
		if msg, _ := event.Header(d, event.HeaderDLQErrorMessage); !strings.Contains(msg, "500") {
			t.Errorf("%s: error message %q does not carry the last error", m.GetDocId(), msg)
		}
	}
	for _, r := range failedRecs {
		m, err := event.DecodeDocumentFailed(r)
		if err != nil {
			t.Fatal(err)
		}
		if !toxic[m.GetDocId()] || m.GetStage() != "embed" || m.GetErrorClass() != "server" {
			t.Fatalf("DocumentFailed %+v", m)
		}
	}
	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	expected := 0
	for _, r := range parsed {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		if ti, ok := toxicIndex[m.GetDocId()]; !ok || m.GetChunkIndex() < ti {
			expected++
		}
	}
	embedded := readTopic(t, brokers, event.TopicEmbedded, 30*time.Second, embeddedCovers(expected))
	want, got, _ := checkEmbedded(t, parsed, embedded)
	for id := range want {
		ti, isToxic := toxicIndex[id.doc]
		switch {
		case !isToxic && !got[id]:
			t.Fatalf("chunk %v of a healthy document was not embedded", id)
		case isToxic && id.index >= ti && got[id]:
			t.Fatalf("chunk %v at or after the toxic chunk %d was embedded", id, ti)
		}
	}
	embedP.stop(20 * time.Second)
}
