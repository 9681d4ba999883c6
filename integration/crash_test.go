package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// writeSyntheticCorpus writes docs documents of paras paragraphs each.
func writeSyntheticCorpus(t *testing.T, dir string, docs, paras int) {
	t.Helper()
	words := strings.Fields("kafka partition offset consumer group embedding vector index chunk document " +
		"replica leader broker retention backpressure batch latency throughput ordering commit " +
		"transaction producer idempotent schema tenant version search cosine similarity gpu")
	r := rand.New(rand.NewPCG(1, 2))
	for d := range docs {
		var b strings.Builder
		fmt.Fprintf(&b, "# Document %d\n\n", d)
		for p := range paras {
			if p%8 == 0 {
				fmt.Fprintf(&b, "## Section %d\n\n", p/8)
			}
			for w := range 30 {
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[r.IntN(len(words))])
			}
			fmt.Fprintf(&b, " d%dp%d.\n\n", d, p)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc-%03d.md", d)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSigkillFiveTimesLosesNothing(t *testing.T) {
	testSigkill(t, false)
}

func TestSigkillFiveTimesExactlyOnce(t *testing.T) {
	testSigkill(t, true)
}

// The embed worker is killed with SIGKILL five times under load and
// restarted; afterwards every chunk of documents.parsed is in
// chunks.embedded with its own vector, each document's chunks first appear
// in order, and in exactly-once mode no chunk appears twice.
func testSigkill(t *testing.T, exactlyOnce bool) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "6", "--replication-factor", "1")
	corpus := t.TempDir()
	writeSyntheticCorpus(t, corpus, 60, 40)
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, "--max-tokens", "48", "--overlap", "8", corpus))
	if chunks < 1500 {
		t.Fatalf("only %d chunks", chunks)
	}
	// A GPU-like server: 20ms + 1ms per input, 4 batches at a time.
	_, url := startGpusim(t, "--base-latency", "20ms", "--per-item", "1ms", "--max-concurrent", "4")
	group := "it-kill"
	args := []string{"embed", "--brokers", brokers, "--group", group, "--embedder", url, "--model", "gpusim",
		"--batch-size", "16", "--instance-id", "embed-0", "--session-timeout", "10s"}
	if exactlyOnce {
		group += "-eos"
		args[4] = group
		args = append(args, "--exactly-once")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5 {
		p := start(t, fmt.Sprintf("embed-%d", i), args...)
		time.Sleep(time.Duration(600+r.IntN(900)) * time.Millisecond)
		if p.exited() {
			t.Fatalf("embed exited before the kill:\n%s", p.stderr.String())
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	final := start(t, "embed-final", args...)

	parsed := readTopic(t, brokers, event.TopicParsed, time.Minute, atLeast(chunks))
	embedded := readTopic(t, brokers, event.TopicEmbedded, 3*time.Minute, embeddedCovers(chunks))
	final.stop(20 * time.Second)
	// Read again after the worker stopped: nothing more may appear.
	embedded = readTopic(t, brokers, event.TopicEmbedded, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= len(embedded) })

	want, seen, dups := checkEmbedded(t, parsed, embedded)
	if len(seen) != len(want) {
		t.Fatalf("%d of %d chunks embedded after 5 crashes", len(seen), len(want))
	}
	t.Logf("%d chunks, %d duplicates after 5 SIGKILLs (exactly-once=%v)", len(want), dups, exactlyOnce)
	if exactlyOnce && dups != 0 {
		t.Fatalf("exactly-once: %d duplicates under read_committed", dups)
	}
	// At least once: what a crash makes the worker redo is bounded by the
	// in-flight window (8 batches of 16) plus one commit interval of work,
	// not by the backlog; 3 windows per crash is a generous bound.
	if limit := 5 * 3 * 8 * 16; dups > limit {
		t.Fatalf("%d duplicates after 5 crashes, want at most %d (the in-flight window)", dups, limit)
	}
}
