package integration

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// scrape reads /metrics and returns the sum of each family's samples by
// name (histogram series keep their _sum/_count names).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			out[name] += v // the series itself, labels and all
			name = name[:i]
		}
		out[name] += v
	}
	return out
}

func readyz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// writeRandomCorpus writes a corpus whose size is drawn at random, so that
// no count in the test can be a constant.
func writeRandomCorpus(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("kafka offset partition consumer group embedding vector chunk lag broker commit replica retention batch")
	docs := 8 + rand.IntN(8)
	for d := range docs {
		var b strings.Builder
		fmt.Fprintf(&b, "# Document %d\n\n", d)
		for range 1 + rand.IntN(6) {
			for range 20 + rand.IntN(60) {
				b.WriteString(words[rand.IntN(len(words))] + " ")
			}
			b.WriteString("\n\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc%02d.md", d)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The embed worker's metrics count what the topics hold: records done and
// produced equal the chunks read back from chunks.embedded, and lag drains
// to zero.
func TestMetricsCountWhatTheTopicsHold(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	dir := t.TempDir()
	writeRandomCorpus(t, dir)
	mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", dir)
	parsed := readTopic(t, brokers, event.TopicParsed, 10*time.Second, func([]*kgo.Record) bool { return false })
	if len(parsed) == 0 {
		t.Fatal("nothing parsed")
	}

	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-metrics", "--metrics-addr", addr)
	embedded := readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(len(parsed)))
	_, got, dups := checkEmbedded(t, parsed, embedded)
	if len(got) != len(parsed) || dups != 0 {
		t.Fatalf("embedded %d distinct chunks (%d duplicates) of %d", len(got), dups, len(parsed))
	}
	var m map[string]float64
	waitFor(t, 20*time.Second, "records done, lag drained and a commit in the metrics", func() bool {
		m = scrape(t, addr)
		return m["ragpipe_records_done_total"] == float64(len(embedded)) && m["ragpipe_partition_lag_records"] == 0 &&
			m["ragpipe_in_flight_records"] == 0 && m["ragpipe_commits_total"] >= 1
	})
	t.Logf("parsed %d, embedded %d; metrics: done %v in %v out %v batches %v", len(parsed), len(embedded),
		m["ragpipe_records_done_total"], m["ragpipe_records_in_total"], m["ragpipe_records_out_total"], m["ragpipe_batch_records_count"])
	for name, want := range map[string]float64{
		`ragpipe_records_in_total{stage="embed",topic="documents.parsed"}`: float64(len(parsed)),
		`ragpipe_records_out_total{stage="embed",topic="chunks.embedded"}`: float64(len(embedded)),
		`ragpipe_batch_records_sum{stage="embed"}`:                         float64(len(parsed)),
		`ragpipe_partitions_assigned{stage="embed"}`:                       float64(3 * len(event.ParsedTopics())), // every priority topic
		`ragpipe_records_dead_lettered_total`:                              0,
		`ragpipe_breaker_state{stage="embed"}`:                             0,
		`ragpipe_ready{stage="embed"}`:                                     1,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	if m["ragpipe_commits_total"] < 1 || m[`ragpipe_commit_duration_seconds_count{stage="embed"}`] < 1 {
		t.Errorf("no commit counted or timed: %v, %v", m["ragpipe_commits_total"], m[`ragpipe_commit_duration_seconds_count{stage="embed"}`])
	}
	if m["ragpipe_kafka_fetch_bytes_total"] <= 0 || m["ragpipe_kafka_produce_bytes_total"] <= 0 {
		t.Errorf("no client metrics: fetch %v produce %v", m["ragpipe_kafka_fetch_bytes_total"], m["ragpipe_kafka_produce_bytes_total"])
	}
	if code, body := readyz(addr); code != http.StatusOK {
		t.Errorf("/readyz %d %q", code, body)
	}

	// The index stage: one DocumentIndexed per document on vectors.indexed,
	// counted as its outputs, and every embedded chunk done.
	docs := map[string]bool{}
	for _, r := range parsed {
		docs[string(r.Key)] = true
	}
	iaddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ip := start(t, "index", "index", "--brokers", brokers, "--group", "it-metrics-index", "--data", t.TempDir(), "--metrics-addr", iaddr)
	indexed := readTopic(t, brokers, event.TopicIndexed, time.Minute, atLeast(len(docs)))
	if len(indexed) != len(docs) {
		t.Fatalf("vectors.indexed holds %d records for %d documents", len(indexed), len(docs))
	}
	waitFor(t, 20*time.Second, "the index stage's metrics", func() bool {
		m = scrape(t, iaddr)
		return m[`ragpipe_records_done_total{stage="index"}`] == float64(len(embedded)) &&
			m[`ragpipe_records_out_total{stage="index",topic="vectors.indexed"}`] == float64(len(indexed))
	})
	t.Logf("index: done %v, vectors.indexed %v (%d documents)", m[`ragpipe_records_done_total{stage="index"}`],
		m[`ragpipe_records_out_total{stage="index",topic="vectors.indexed"}`], len(docs))
	ip.stop(30 * time.Second)
	p.stop(30 * time.Second)
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the metrics server still answers after the worker stopped")
	}
}

// /readyz answers 503 while the embedding server is down and the circuit
// breaker open, and 200 once it answers again.
func TestReadinessFlipsWithTheBreaker(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	dir := t.TempDir()
	writeRandomCorpus(t, dir)
	mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", dir)
	parsed := readTopic(t, brokers, event.TopicParsed, 10*time.Second, func([]*kgo.Record) bool { return false })

	gp := freePort(t)
	sim := start(t, "gpusim", "gpusim", "--addr", "127.0.0.1:"+strconv.Itoa(gp), "--outage", "0s-15s")
	waitFor(t, 10*time.Second, "gpusim", func() bool { return strings.Contains(sim.stdout.String(), "listening") })
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-ready", "--metrics-addr", addr,
		"--embedder", "http://127.0.0.1:"+strconv.Itoa(gp)+"/v1", "--model", "hash-384")
	var sawOpen, sawReadyAfter bool
	var last string
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && !sawReadyAfter && !p.exited() {
		code, body := readyz(addr)
		last = fmt.Sprintf("%d %s", code, body)
		switch {
		case code == http.StatusServiceUnavailable && strings.Contains(body, "circuit breaker"):
			if !sawOpen {
				t.Logf("during the outage: %s (breaker_state %v)", last, scrape(t, addr)[`ragpipe_breaker_state{stage="embed"}`])
			}
			sawOpen = true
		case code == http.StatusOK && sawOpen:
			sawReadyAfter = true
			t.Logf("after the outage: %s", last)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !sawOpen || !sawReadyAfter {
		t.Fatalf("readiness did not flip with the breaker (open seen %v, ready after %v); last /readyz: %s", sawOpen, sawReadyAfter, last)
	}
	if m := scrape(t, addr); m[`ragpipe_breaker_state{stage="embed"}`] != 0 || m["ragpipe_embed_endpoint_breaker_state"] != 0 {
		t.Errorf("breakers not closed after the outage: %v", m)
	}
	if got := readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(len(parsed))); len(got) < len(parsed) {
		t.Fatalf("embedded %d of %d after the outage", len(got), len(parsed))
	}
	p.stop(30 * time.Second)
}
