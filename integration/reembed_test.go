package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/store/storetest"
)

type searchResult struct {
	Hits []struct {
		DocID string  `json:"doc_id"`
		Model string  `json:"model"`
		Score float32 `json:"score"`
	} `json:"hits"`
}

// Re-embedding on real Kafka and PostgreSQL: a corpus indexed with model A
// (384 dims) is re-embedded with model B (256 dims, another gpusim) by
// `ragpipe reembed`, which exits 0 with B's namespace active and every
// chunk of every document in it with a 256-dimensional model-B vector;
// search with A is then refused with the model error, search with B finds
// the documents, the active namespace cannot be dropped and the old one
// can. Searches running during the switch never fail otherwise and never
// mix models.
func TestReembedSwitchesSearchToTheNewModel(t *testing.T) {
	brokers := kafkaBrokers(t)
	dsn := storetest.PostgresDSN(t)
	resetTopics(t, brokers)
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	corpus := filepath.Join(t.TempDir(), "corpus")
	writeCorpus(t, corpus)

	_, urlA := startGpusim(t, "--model", "model-a", "--dim", "384")
	_, urlB := startGpusim(t, "--model", "model-b", "--dim", "256")
	embedP := start(t, "embed", "embed", "--brokers", brokers, "--group", "it-reembed-embed", "--embedder", urlA, "--model", "model-a", "--batch-size", "16")
	indexP := start(t, "index", "index", "--brokers", brokers, "--group", "it-reembed-index", "--store", dsn)
	docs, chunks := parseIngested(t, mustRun(t, 2*time.Minute, "ingest", "--brokers", brokers, corpus))
	readTopic(t, brokers, event.TopicIndexed, 2*time.Minute, func(rs []*kgo.Record) bool {
		seen := map[string]bool{}
		for _, r := range rs {
			seen[string(r.Key)] = true
		}
		return len(seen) >= docs
	})
	embedP.stop(20 * time.Second)

	list := mustRun(t, time.Minute, "reembed", "--list", "--store", dsn)
	if !regexpMatch(t, `default\s+model-a\s+384\s+active\s+`+fmt.Sprint(chunks), list) {
		t.Fatalf("before: want default, model-a, 384 dims, active, %d chunks:\n%s", chunks, list)
	}
	searchA := []string{"search", "--store", dsn, "--json", "--k", "10", "--embedder", urlA, "--model", "model-a"}
	searchB := []string{"search", "--store", dsn, "--json", "--k", "10", "--embedder", urlB, "--model", "model-b"}
	if _, errs, err := run(t, time.Minute, append(searchB, "zebrafish aquarium larvae")...); exitStatus(err) != 1 || !strings.Contains(errs, "--model model-a") {
		t.Fatalf("before the switch, search with model B: want exit 1 naming model-a, got %v:\n%s", err, errs)
	}

	// Searchers run through the switch: each search answers from one
	// model, its embedder's, or is refused with the model error.
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		ok      [2]atomic.Int64
		refused [2]atomic.Int64
	)
	errc := make(chan error, 2)
	for i, args := range [][]string{searchA, searchB} {
		model := []string{"model-a", "model-b"}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A's searches are answered until the switch and refused
			// after; B's the other way round: never back.
			switched := false
			for !stop.Load() {
				out, errs, err := run(t, time.Minute, append(args, "zebrafish aquarium larvae")...)
				if exitStatus(err) == 1 && strings.Contains(errs, "active index namespace") && strings.Contains(errs, "--model") {
					if i == 1 && switched {
						errc <- fmt.Errorf("a search with model B was refused after one was answered:\n%s", errs)
						return
					}
					switched = switched || i == 0
					refused[i].Add(1)
					continue
				}
				if i == 0 && switched {
					errc <- fmt.Errorf("a search with model A was answered after one was refused:\n%s", out)
					return
				}
				switched = switched || i == 1
				if err != nil {
					errc <- fmt.Errorf("search with %s failed: %v\n%s", model, err, errs)
					return
				}
				var res searchResult
				if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Hits) == 0 {
					errc <- fmt.Errorf("search with %s: %v\n%s", model, err, out)
					return
				}
				for _, h := range res.Hits {
					if h.Model != model {
						errc <- fmt.Errorf("search with %s returned a hit of model %q: %s", model, h.Model, out)
						return
					}
				}
				ok[i].Add(1)
			}
		}()
	}

	out := mustRun(t, 4*time.Minute, "reembed", "--brokers", brokers, "--store", dsn, "--model", "model-b", "--embedder", urlB,
		"--group", fmt.Sprintf("it-reembed-%d", time.Now().UnixNano()))
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	t.Logf("%d documents, %d chunks; during the re-embedding: model A %d answered, %d refused; model B %d answered, %d refused",
		docs, chunks, ok[0].Load(), refused[0].Load(), ok[1].Load(), refused[1].Load())
	if !strings.Contains(out, "index namespace model-b-256 is active") {
		t.Fatalf("reembed output:\n%s", out)
	}
	list = mustRun(t, time.Minute, "reembed", "--list", "--store", dsn)
	if !regexpMatch(t, `model-b-256\s+model-b\s+256\s+active\s+`+fmt.Sprint(chunks), list) || !regexpMatch(t, `default\s+model-a\s+384\s+retired\s+`+fmt.Sprint(chunks), list) {
		t.Fatalf("after: want model-b-256 active and default retired, %d chunks each:\n%s", chunks, list)
	}

	// Every chunk of every document in the new namespace, searchable, with
	// model B's 256-dimensional vector of its own text.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	if err := conn.QueryRow(ctx, "SELECT schema_name FROM index_namespaces WHERE name = 'model-b-256'").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var rows, searchable, live, b256 int
	err = conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE searchable), (SELECT count(*) FROM %[1]s.documents),
		count(*) FILTER (WHERE vector_dims(embedding) = 256 AND metadata->>'model' = 'model-b') FROM %[1]s.chunks`, pgx.Identifier{schema}.Sanitize())).
		Scan(&rows, &searchable, &live, &b256)
	if err != nil {
		t.Fatal(err)
	}
	if rows != chunks || searchable != chunks || live != docs || b256 != chunks {
		t.Fatalf("namespace model-b-256 holds %d chunks (%d searchable, %d of model B with 256 dims), %d live documents; want %d chunks of %d documents",
			rows, searchable, b256, live, chunks, docs)
	}
	hash := embed.NewHash(256)
	texts, err := conn.Query(ctx, fmt.Sprintf("SELECT text, embedding::text FROM %s.chunks LIMIT 20", pgx.Identifier{schema}.Sanitize()))
	if err != nil {
		t.Fatal(err)
	}
	for texts.Next() {
		var text, vec string
		if err := texts.Scan(&text, &vec); err != nil {
			t.Fatal(err)
		}
		var got []float32
		if err := json.Unmarshal([]byte(vec), &got); err != nil || !sameVector(got, hash.Vector(text)) {
			t.Fatalf("a chunk does not carry model B's vector of its text (%v)", err)
		}
	}
	texts.Close()

	// Search with A is refused, naming both models; search with B finds.
	_, errs, err := run(t, time.Minute, append(searchA, "zebrafish aquarium larvae")...)
	if exitStatus(err) != 1 || !strings.Contains(errs, "model model-a (384 dims)") || !strings.Contains(errs, "model model-b (256 dims)") || !strings.Contains(errs, "--model model-b") {
		t.Fatalf("search with model A after the switch: want exit 1 naming both models, got %v:\n%s", err, errs)
	}
	var res searchResult
	out = mustRun(t, time.Minute, append(searchB, "zebrafish aquarium larvae")...)
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Hits) == 0 || !strings.HasSuffix(res.Hits[0].DocID, "extra/zebrafish.md") || res.Hits[0].Model != "model-b" {
		t.Fatalf("search with model B: want extra/zebrafish.md first, of model-b: %v\n%s", err, out)
	}

	// A re-run has nothing to do; the active namespace cannot be dropped,
	// the old one can.
	if out := mustRun(t, time.Minute, "reembed", "--brokers", brokers, "--store", dsn, "--model", "model-b", "--embedder", urlB); !strings.Contains(out, "already active") {
		t.Fatalf("a re-run:\n%s", out)
	}
	if _, errs, err := run(t, time.Minute, "reembed", "--store", dsn, "--drop", "model-b-256"); exitStatus(err) != 1 || !strings.Contains(errs, "active index namespace") {
		t.Fatalf("dropping the active namespace: want exit 1 with a clear message, got %v:\n%s", err, errs)
	}
	mustRun(t, time.Minute, "reembed", "--store", dsn, "--drop", "default")
	list = mustRun(t, time.Minute, "reembed", "--list", "--store", dsn)
	if strings.Contains(list, "default") || !strings.Contains(list, "model-b-256") {
		t.Fatalf("after dropping default:\n%s", list)
	}
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM chunks").Scan(&left); err != nil || left != 0 {
		t.Fatalf("the dropped default namespace still holds %d chunks (%v)", left, err)
	}
	indexP.stop(20 * time.Second)
}

func regexpMatch(t *testing.T, pattern, s string) bool {
	t.Helper()
	return regexp.MustCompile(pattern).MatchString(s)
}

// The same on the embedded store, with --follow: after the switch a new
// document, embedded by the embed worker still on model A (whose chunks
// the index stage now skips), reaches the new namespace through the
// following reembed; SIGTERM then ends it with exit 0, and the old
// namespace can be dropped while the index worker runs.
func TestReembedFollowOnTheEmbeddedStore(t *testing.T) {
	brokers := kafkaBrokers(t)
	resetTopics(t, brokers)
	data := t.TempDir()
	mustRun(t, time.Minute, "topics", "apply", "--brokers", brokers, "--partitions", "3", "--replication-factor", "1")
	corpus := filepath.Join(t.TempDir(), "corpus")
	writeCorpus(t, corpus)
	_, urlA := startGpusim(t, "--model", "model-a", "--dim", "384")
	_, urlB := startGpusim(t, "--model", "model-b", "--dim", "256")
	start(t, "embed", "embed", "--brokers", brokers, "--group", "it-follow-embed", "--embedder", urlA, "--model", "model-a", "--batch-size", "16")
	indexP := start(t, "index", "index", "--brokers", brokers, "--group", "it-follow-index", "--data", data)
	docs, chunks := parseIngested(t, mustRun(t, 2*time.Minute, "ingest", "--brokers", brokers, corpus))
	readTopic(t, brokers, event.TopicIndexed, 2*time.Minute, func(rs []*kgo.Record) bool {
		seen := map[string]bool{}
		for _, r := range rs {
			seen[string(r.Key)] = true
		}
		return len(seen) >= docs
	})

	follow := start(t, "reembed", "reembed", "--brokers", brokers, "--data", data, "--model", "model-b", "--embedder", urlB,
		"--follow", "--group", fmt.Sprintf("it-follow-%d", time.Now().UnixNano()))
	waitFor(t, 2*time.Minute, "the new namespace to become active", func() bool {
		return strings.Contains(follow.stdout.String(), "is active") || follow.exited()
	})
	if follow.exited() {
		t.Fatalf("reembed --follow exited: %v\n%s", follow.err, follow.stderr.String())
	}
	list := mustRun(t, time.Minute, "reembed", "--list", "--data", data)
	if !regexpMatch(t, `model-b-256\s+model-b\s+256\s+active\s+`+fmt.Sprint(chunks), list) {
		t.Fatalf("want model-b-256 active with %d chunks:\n%s", chunks, list)
	}

	late := filepath.Join(t.TempDir(), "late")
	if err := os.MkdirAll(late, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(late, "quokka.md"), []byte("# Quokka\n\nThe quokka is a small marsupial of Rottnest Island.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, time.Minute, "ingest", "--brokers", brokers, late)
	searchB := []string{"search", "--data", data, "--json", "--k", "3", "--embedder", urlB, "--model", "model-b", "quokka marsupial Rottnest Island"}
	waitFor(t, time.Minute, "the late document in the new namespace", func() bool {
		out, _, err := run(t, time.Minute, searchB...)
		var res searchResult
		return err == nil && json.Unmarshal([]byte(out), &res) == nil && len(res.Hits) > 0 &&
			strings.HasSuffix(res.Hits[0].DocID, "quokka.md") && res.Hits[0].Model == "model-b"
	})
	follow.stop(30 * time.Second)
	waitFor(t, time.Minute, "the index stage to skip the late document's model-A chunks", func() bool {
		return strings.Contains(indexP.stderr.String(), "skipping a chunk of a retired namespace's model")
	})

	if _, errs, err := run(t, time.Minute, "reembed", "--data", data, "--drop", "model-b-256"); exitStatus(err) != 1 || !strings.Contains(errs, "active index namespace") {
		t.Fatalf("dropping the active namespace: want exit 1, got %v:\n%s", err, errs)
	}
	// The index worker lets go of the retired namespace within its
	// registry refresh; until then the drop is refused as in use.
	waitFor(t, time.Minute, "the old namespace to be dropped", func() bool {
		_, errs, err := run(t, time.Minute, "reembed", "--data", data, "--drop", "default")
		if err != nil && !strings.Contains(errs, "open for writing by another process") {
			t.Fatalf("dropping the retired namespace: %v\n%s", err, errs)
		}
		return err == nil
	})
	list = mustRun(t, time.Minute, "reembed", "--list", "--data", data)
	if strings.Contains(list, "default") || !strings.Contains(list, "model-b-256") {
		t.Fatalf("after dropping default:\n%s", list)
	}
	if out := mustRun(t, time.Minute, searchB...); !strings.Contains(out, "quokka.md") {
		t.Fatalf("search after the drop:\n%s", out)
	}
	indexP.stop(20 * time.Second)
}
