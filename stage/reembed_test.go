package stage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
	"github.com/ragpipe/ragpipe/store"
)

// The reembed handler embeds with its own embedder into its namespace,
// applies deletes there, and maps a rejected input back to its batch
// position.
func TestReembedHandlerWritesTheNamespace(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Reembed{Embed: Embed{Embedder: rejecting{embed.NewHash(8)}}, Store: st}
	del, err := event.NewRecord(event.TopicDeleted, event.Key("t", "b"), &ragpipev1.DocumentDeleted{TenantId: "t", DocId: "b", DocVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch := []*kgo.Record{parsedRecord(t, "a", 1, 0, 2, "alpha"), del, parsedRecord(t, "a", 1, 1, 2, "beta"), parsedRecord(t, "b", 1, 0, 1, "gamma")}
	res, err := s.Handle(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || len(r.Outputs) != 0 {
			t.Fatalf("result %d: %+v (reembed produces nothing)", i, r)
		}
	}
	if n, _ := st.CountVersion(ctx, "t", "a", 1); n != 2 {
		t.Fatalf("a: %d chunks, want 2", n)
	}
	if n, _ := st.CountVersion(ctx, "t", "b", 1); n != 0 {
		t.Fatalf("the deleted document was stored (%d chunks)", n)
	}
	hits, err := st.Search(ctx, "t", embed.NewHash(8).Vector("alpha"), 1)
	if err != nil || len(hits) != 1 || hits[0].Model != "hash-8" || hits[0].Text != "alpha" {
		t.Fatalf("search: %+v %v", hits, err)
	}
	_, err = s.Handle(ctx, []*kgo.Record{del, parsedRecord(t, "c", 1, 0, 1, "fine"), parsedRecord(t, "d", 1, 0, 1, "poison")})
	if fault.ClassOf(err) != fault.ClassRecord || fault.IndexOf(err) != 2 {
		t.Fatalf("want a record error at batch position 2, got %v (index %d)", err, fault.IndexOf(err))
	}
	// A dead letter of the re-embedding goes to the DLQ only: a
	// DocumentFailed would fail the version in the active namespace too.
	outs := deadLetterOnly(NewFailures(0), nil)(batch[0], engine.Failure{Stage: "reembed", Err: errors.New("x"), Attempts: 3})
	if len(outs) != 1 || outs[0].Topic != event.TopicDLQ {
		t.Fatalf("dead letter: %+v", outs)
	}
}

// On a broker: the worker replays documents.parsed and documents.deleted
// from the earliest offsets into the namespace, and Progress reports the
// group complete once its committed offsets reach the end offsets noted
// before it started.
func TestReembedWorkerCatchesUpToTheNotedEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 3, 1, nil, event.TopicParsed, event.TopicDeleted, event.TopicDLQ, event.TopicFailed); err != nil {
		t.Fatal(err)
	}
	const docs, chunks = 20, 3
	var recs []*kgo.Record
	for d := range docs {
		for c := range chunks {
			recs = append(recs, parsedRecord(t, fmt.Sprintf("doc-%02d", d), 1, int32(c), chunks, fmt.Sprintf("doc %d chunk %d", d, c)))
		}
	}
	recs = append(recs, parsedRecord(t, "bad", 1, 0, 2, "fine"), parsedRecord(t, "bad", 1, 1, 2, "poison"))
	del, err := event.NewRecord(event.TopicDeleted, event.Key("t", "doc-00"), &ragpipev1.DocumentDeleted{TenantId: "t", DocId: "doc-00", DocVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, del)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	target, err := EndOffsets(ctx, adm, ReembedTopics())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenEmbedded(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var dead DeadLetters
	w := ReembedWorker(rejecting{embed.NewHash(8)}, st, "hash-8-8", &dead)
	if w.Group != "ragpipe-reembed-hash-8-8" {
		t.Fatalf("group %s", w.Group)
	}
	behind, err := Progress(ctx, adm, []kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, w.Group, target)
	if err != nil || len(behind) == 0 {
		t.Fatalf("before the start: %v behind, %v", behind, err)
	}
	e, err := engine.New(w.Configure(engine.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, RetryBackoff: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	for {
		behind, err = Progress(ctx, adm, []kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, w.Group, target)
		if err != nil {
			t.Fatal(err)
		}
		if len(behind) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("still behind: %+v", behind)
		case err := <-done:
			t.Fatalf("the engine stopped: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for d := range docs {
		n, _ := st.CountVersion(ctx, "t", fmt.Sprintf("doc-%02d", d), 1)
		if want := chunks * min(d, 1); n != want {
			t.Fatalf("doc-%02d: %d chunks in the namespace, want %d", d, n, want)
		}
	}
	hits, err := st.Search(ctx, "t", embed.NewHash(8).Vector("fine"), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if h.DocID == "bad" || h.DocID == "doc-00" {
			t.Fatalf("%s is searchable: %+v", h.DocID, h)
		}
	}
	if len(hits) != (docs-1)*chunks {
		t.Fatalf("%d hits, want %d", len(hits), (docs-1)*chunks)
	}
	// The poison chunk is in the DLQ; documents.failed stays empty.
	ends, err := adm.ListEndOffsets(ctx, event.TopicDLQ, event.TopicFailed)
	if err != nil {
		t.Fatal(err)
	}
	var dlq, failed int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Topic == event.TopicDLQ {
			dlq += o.Offset
		} else {
			failed += o.Offset
		}
	})
	if dlq != 1 || failed != 0 {
		t.Fatalf("%d dead letters and %d DocumentFailed, want 1 and 0", dlq, failed)
	}
	// The worker counted it, for reembed's refusal to switch.
	if n := dead.Count(); n != 1 {
		t.Fatalf("the worker counted %d dead letter(s), want 1", n)
	}
}

// A partition that ends in a transaction marker is complete once the
// group has committed past its last data record.
func TestProgressLooksPastTransactionMarkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	seed := []kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}
	cl, err := kgo.NewClient(append(seed, kgo.TransactionalID("progress-test"))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "p"); err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "p", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	target, err := EndOffsets(ctx, adm, []string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	if target["p"][0] != 4 {
		t.Fatalf("want an end offset of 4 (3 records and a commit marker), got %v", target)
	}
	commit := func(at int64) {
		t.Helper()
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "p", Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, "g", os); err != nil {
			t.Fatal(err)
		}
	}
	commit(2)
	if behind, err := Progress(ctx, adm, seed, "g", target); err != nil || len(behind) != 1 {
		t.Fatalf("one data record left: want the partition behind, got %+v, %v", behind, err)
	}
	commit(3)
	if behind, err := Progress(ctx, adm, seed, "g", target); err != nil || len(behind) != 0 {
		t.Fatalf("only the marker left: want none behind, got %+v, %v", behind, err)
	}
}

// Through the Router, the index stage dead-letters a chunk of a model no
// index namespace takes (a record error), and stores a chunk of a
// building namespace's model there without announcing it (it is not
// searchable until the namespace is active).
func TestIndexThroughRouterRefusesAnUnknownModel(t *testing.T) {
	ctx := context.Background()
	nss, err := store.OpenNamespaces(ctx, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	r := store.NewRouter(nss, nil)
	defer r.Close()
	s := &Index{Store: r}
	if _, err := s.Handle(ctx, []*kgo.Record{embeddedRecord(t, "a", 1, 0, 1)}); err != nil {
		t.Fatal(err) // model "m" recorded for the default namespace
	}
	if _, err := nss.Create(ctx, "n-2", "n", 2); err != nil {
		t.Fatal(err)
	}
	other, err := event.NewRecord(event.TopicEmbedded, event.Key("t", "b"), &ragpipev1.ChunkEmbedded{
		TenantId: "t", DocId: "b", DocVersion: 1, ChunkIndex: 0, ChunkCount: 1, Text: "x", Vector: []float32{0, 1}, Model: "other"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Handle(ctx, []*kgo.Record{other})
	if fault.ClassOf(err) != fault.ClassRecord || !strings.Contains(err.Error(), "no index namespace for model other (2 dims)") {
		t.Fatalf("want a record error naming the model, got %v", err)
	}
	newer, err := event.NewRecord(event.TopicEmbedded, event.Key("t", "b"), &ragpipev1.ChunkEmbedded{
		TenantId: "t", DocId: "b", DocVersion: 1, ChunkIndex: 0, ChunkCount: 1, Text: "x", Vector: []float32{0, 1}, Model: "n"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Handle(ctx, []*kgo.Record{newer})
	if err != nil || len(res[0].Outputs) != 0 {
		t.Fatalf("a chunk of the building namespace's model: %+v, %v", res, err)
	}
	if n, _ := nss.Len(ctx, "n-2"); n != 1 {
		t.Fatalf("the building namespace holds %d chunks, want 1", n)
	}
}
