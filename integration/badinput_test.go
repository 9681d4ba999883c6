package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// Files that cannot be ingested are reported on stderr and as
// DocumentFailed records; the good files are still ingested.
func TestIngestReportsBadFilesAndGoesOn(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")

	dir := t.TempDir()
	files := map[string][]byte{
		"good.md":       []byte("# Good\n\nThis document is fine and has some words in it.\n"),
		"empty.md":      {},
		"blank.txt":     []byte("   \n\n  \n"),
		"binary.txt":    {0x89, 'P', 'N', 'G', 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R', 0, 1, 2, 3},
		"invalid.txt":   []byte("valid start \xff\xfe then broken"),
		"also-good.txt": []byte("Plain text works too.\n\nA second paragraph."),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 50 MB: over the default --max-file-size, rejected before it is read.
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 50<<20); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "does-not-exist")

	out, stderr, err := run(t, 2*time.Minute, "ingest", "--brokers", brokers, dir, missing)
	if code := exitStatus(err); code != 2 {
		t.Fatalf("ingest with failed files and a missing path: exit %d (%v), want 2 (some failed)\n%s\n%s", code, err, out, stderr)
	}
	for _, name := range []string{"empty.md", "blank.txt", "binary.txt", "invalid.txt", "big.txt", "does-not-exist"} {
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not mention %s:\n%s", name, stderr)
		}
	}
	if docs, _ := parseIngested(t, out); docs != 2 {
		t.Fatalf("want the 2 good documents ingested, got %d\n%s", docs, out)
	}

	bad := map[string]string{"empty.md": "", "blank.txt": "", "binary.txt": "", "invalid.txt": "", "big.txt": ""}
	recs := readTopic(t, brokers, event.TopicFailed, 30*time.Second, atLeast(len(bad)))
	for _, r := range recs {
		m, err := event.DecodeDocumentFailed(r)
		if err != nil {
			t.Fatal(err)
		}
		if m.GetStage() != "parse" || m.GetTenantId() != "default" || m.GetErrorMessage() == "" {
			t.Fatalf("DocumentFailed %+v", m)
		}
		bad[m.GetDocId()] = m.GetErrorMessage()
	}
	for name, msg := range bad {
		if msg == "" {
			t.Errorf("no DocumentFailed for %s", name)
		}
	}
	parsed := readTopic(t, brokers, event.TopicParsed, 30*time.Second, atLeast(2))
	docs := map[string]bool{}
	for _, r := range parsed {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		docs[m.GetDocId()] = true
	}
	if !docs["good.md"] || !docs["also-good.txt"] || len(docs) != 2 {
		t.Fatalf("documents.parsed holds %v", docs)
	}
}

// A broker that is down gives a clear error within 10 seconds, not a hang.
func TestBrokerDownIsAClearErrorNotAHang(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	file := filepath.Join(t.TempDir(), "a.md")
	if err := os.WriteFile(file, []byte("# A\n\ntext\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ingest", "--brokers", addr, file},
		{"embed", "--brokers", addr},
		{"index", "--brokers", addr, "--data", t.TempDir()},
		{"topics", "apply", "--brokers", addr},
	} {
		start := time.Now()
		_, stderr, err := run(t, 30*time.Second, args...)
		took := time.Since(start)
		if err == nil {
			t.Fatalf("%v: exit 0 with the broker down", args)
		}
		if took > 12*time.Second {
			t.Fatalf("%v: took %s to fail", args, took)
		}
		if !strings.Contains(stderr, "cannot connect to Kafka at "+addr) {
			t.Fatalf("%v: unclear error:\n%s", args, stderr)
		}
	}
}

// An embedder that refuses connections is a server problem: the worker
// retries with backoff, logs it, sends nothing to the DLQ, and carries on
// when the server appears.
func TestEmbedderDownIsRetriedNotDeadLettered(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1"
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-embed-down", "--embedder", url, "--model", "m")

	dir := t.TempDir()
	for i := range 5 {
		text := "# Doc " + strconv.Itoa(i) + "\n\nSome text for document " + strconv.Itoa(i) + ".\n"
		if err := os.WriteFile(filepath.Join(dir, "d"+strconv.Itoa(i)+".md"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, dir))
	waitFor(t, 30*time.Second, "retry logs", func() bool {
		return strings.Count(embedP.stderr.String(), "no attempt counted") >= 3
	})
	if embedP.exited() {
		t.Fatalf("embed exited while the embedder was down:\n%s", embedP.stderr.String())
	}
	// Bring the server up on the address the worker retries.
	p := start(t, "gpusim", "gpusim", "--addr", "127.0.0.1:"+strconv.Itoa(port))
	waitFor(t, 10*time.Second, "gpusim", func() bool { return strings.Contains(p.stdout.String(), "listening") })
	if got := readTopic(t, brokers, event.TopicEmbedded, time.Minute, atLeast(chunks)); len(got) < chunks {
		t.Fatalf("embedded %d of %d chunks after the server came back", len(got), chunks)
	}
	embedP.stop(20 * time.Second)
	if dlq := readTopic(t, brokers, event.TopicDLQ, 3*time.Second, atLeast(1)); len(dlq) != 0 {
		t.Fatalf("%d records dead-lettered during an embedder outage", len(dlq))
	}
	if failed := readTopic(t, brokers, event.TopicFailed, 2*time.Second, atLeast(1)); len(failed) != 0 {
		t.Fatalf("%d DocumentFailed during an embedder outage", len(failed))
	}
}

// A record on documents.parsed that is not a valid ChunkParsed goes to the
// DLQ with headers saying why, a DocumentFailed is written, and the worker
// goes on with the other records.
func TestInvalidRecordIsDeadLetteredAndWorkerGoesOn(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	cl := client(t, brokers)
	poison := &kgo.Record{Topic: event.TopicParsed, Key: event.Key("default", "poison.md"), Value: []byte("\xff\xffnot a protobuf"),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/x-protobuf; messageType=ragpipe.v1.ChunkParsed")}}}
	if err := cl.ProduceSync(context.Background(), poison).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fine.md"), []byte("# Fine\n\nA fine document.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, chunks := parseIngested(t, mustRun(t, time.Minute, "ingest", "--brokers", brokers, dir))
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-embed-poison")

	dlq := readTopic(t, brokers, event.TopicDLQ, time.Minute, atLeast(1))
	if len(dlq) != 1 {
		t.Fatalf("want 1 dead letter, got %d", len(dlq))
	}
	d := dlq[0]
	if string(d.Key) != string(poison.Key) || string(d.Value) != string(poison.Value) {
		t.Fatalf("dead letter does not carry the original key and value: %q %q", d.Key, d.Value)
	}
	for name, want := range map[string]string{
		event.HeaderDLQTopic: event.TopicParsed, event.HeaderDLQStage: "embed", event.HeaderDLQErrorClass: "record",
		event.HeaderDLQAttempts: "3", event.HeaderConnectTopic: event.TopicParsed, event.HeaderDLQOffset: "0",
	} {
		if got, _ := event.Header(d, name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{event.HeaderDLQPartition, event.HeaderDLQErrorMessage, event.HeaderDLQFirstFailure,
		event.HeaderDLQLastFailure, event.HeaderConnectPartition, event.HeaderConnectOffset, event.HeaderConnectExceptionMessage} {
		if v, ok := event.Header(d, name); !ok || v == "" {
			t.Errorf("header %s missing", name)
		}
	}
	failed := readTopic(t, brokers, event.TopicFailed, 30*time.Second, atLeast(1))
	if len(failed) != 1 {
		t.Fatalf("want 1 DocumentFailed, got %d", len(failed))
	}
	m, err := event.DecodeDocumentFailed(failed[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.GetDocId() != "poison.md" || m.GetStage() != "embed" || m.GetAttempts() != 3 || m.GetErrorClass() != "record" {
		t.Fatalf("DocumentFailed %+v", m)
	}
	if got := readTopic(t, brokers, event.TopicEmbedded, 30*time.Second, atLeast(chunks)); len(got) < chunks {
		t.Fatalf("the worker did not go on: %d of %d chunks embedded", len(got), chunks)
	}
	embedP.stop(20 * time.Second)
}
