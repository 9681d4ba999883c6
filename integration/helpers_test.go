package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/event"
)

var binary string // the ragpipe binary built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ragpipe-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ragpipe")
	build := exec.Command("go", "build", "-o", binary, "github.com/ragpipe/ragpipe/cmd/ragpipe")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ragpipe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// kafkaBrokers returns the real broker's address or skips (fails under
// RAGPIPE_REQUIRE_KAFKA).
func kafkaBrokers(t *testing.T) string {
	t.Helper()
	b := os.Getenv("RAGPIPE_TEST_BROKERS")
	if b == "" {
		if os.Getenv("RAGPIPE_REQUIRE_KAFKA") != "" {
			t.Fatal("RAGPIPE_TEST_BROKERS is not set but RAGPIPE_REQUIRE_KAFKA is: run `make test`")
		}
		t.Skip("RAGPIPE_TEST_BROKERS not set; `make test` starts Kafka and sets it")
	}
	return b
}

var pipelineTopics = event.Topics()

func client(t *testing.T, brokers string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.MetadataMinAge(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// resetTopics deletes the pipeline topics (if any) and waits until they are
// gone, so that a test starts from empty topics.
func resetTopics(t *testing.T, brokers string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(client(t, brokers))
	if _, err := adm.DeleteTopics(ctx, pipelineTopics...); err != nil {
		t.Fatalf("deleting topics: %v", err)
	}
	for {
		td, err := adm.ListTopics(ctx, pipelineTopics...)
		if err == nil {
			gone := true
			for _, name := range pipelineTopics {
				if d, ok := td[name]; ok && d.Err == nil {
					gone = false
				}
			}
			if gone {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("topics were not deleted in time")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// run runs ragpipe to completion and returns stdout, stderr and the error.
func run(t *testing.T, timeout time.Duration, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// exitStatus is a process's exit code from run's error (0 for nil, -1 when
// it did not exit).
func exitStatus(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// mustRun runs ragpipe and fails the test on a non-zero exit.
func mustRun(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, errs, err := run(t, timeout, args...)
	if err != nil {
		t.Fatalf("ragpipe %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a process writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a ragpipe process running in the background.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr (tail):\n%s", name, tail(p.stderr.String(), 4000))
		}
	})
	return p
}

// stop sends SIGTERM and requires a clean exit within timeout.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Fatalf("%s exited with %v after SIGTERM\n%s", p.name, p.err, tail(p.stderr.String(), 4000))
		}
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// readTopic reads topic from the start until cond holds for the records
// read so far, or the timeout; it returns what it read.
func readTopic(t *testing.T, brokers, topic string, timeout time.Duration, cond func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl := client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var recs []*kgo.Record
	for !cond(recs) {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		recs = append(recs, f.Records()...)
	}
	return recs
}

// waitFor polls cond until it holds or the timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func atLeast(n int) func([]*kgo.Record) bool {
	return func(r []*kgo.Record) bool { return len(r) >= n }
}

// checkEmbedded checks what every test of the embed stage relies on: each
// record of chunks.embedded is a parsed chunk, keyed by its document, with
// lineage headers and the vector of its own text (gpusim and the hash
// embedder compute the same vectors), and each document's chunks first
// appear in order 0, 1, 2, … (a chunk may appear again after a retry or a
// crash). It returns the parsed chunks, the embedded ones, and the number
// of duplicates.
func checkEmbedded(t *testing.T, parsed, embedded []*kgo.Record) (want map[chunkID]string, got map[chunkID]bool, dups int) {
	t.Helper()
	want = map[chunkID]string{}
	for _, r := range parsed {
		m, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Fatal(err)
		}
		want[chunkID{m.GetDocId(), m.GetDocVersion(), m.GetChunkIndex()}] = m.GetText()
	}
	hash := embed.NewHash(384)
	got = map[chunkID]bool{}
	next := map[string]int32{}
	for _, r := range embedded {
		m, err := event.DecodeChunkEmbedded(r)
		if err != nil {
			t.Fatal(err)
		}
		id := chunkID{m.GetDocId(), m.GetDocVersion(), m.GetChunkIndex()}
		text, ok := want[id]
		if !ok {
			t.Fatalf("embedded chunk %v was never parsed", id)
		}
		if string(r.Key) != string(event.Key(m.GetTenantId(), m.GetDocId())) {
			t.Fatalf("key %q for doc %s", r.Key, m.GetDocId())
		}
		if src, _ := event.Header(r, event.HeaderSourceTopic); !event.IsParsedTopic(src) {
			t.Fatalf("missing lineage header on %v", id)
		}
		if !sameVector(m.GetVector(), hash.Vector(text)) {
			t.Fatalf("chunk %v does not carry the vector of its own text", id)
		}
		if got[id] {
			dups++
			continue
		}
		got[id] = true
		if id.index != next[id.doc] {
			t.Fatalf("doc %s: chunk %d first appeared when chunk %d was expected (order broken)", id.doc, id.index, next[id.doc])
		}
		next[id.doc]++
	}
	return want, got, dups
}

type chunkID struct {
	doc     string
	version int64
	index   int32
}

func sameVector(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}
