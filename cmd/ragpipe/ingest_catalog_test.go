package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// A catalog read that stopped on its idle backstop (here: a transaction
// left open on documents.catalog) warns once, and the documents of that
// partition are not skipped.
func TestReadCatalogWarnsOfAnIncompleteRead(t *testing.T) {
	ctx := context.Background()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.TransactionalID("index-eos"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, event.TopicCatalog); err != nil {
		t.Fatal(err)
	}
	rec, err := event.NewRecord(event.TopicCatalog, event.Key("t", "a.md"), &ragpipev1.CatalogEntry{TenantId: "t", DocId: "a.md", DocumentHash: "sha256:aa"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	cat := readCatalog(ctx, &w, broker.Config{Brokers: b.Addrs()}, "t")
	if cat == nil {
		t.Fatalf("no catalog: %s", w.String())
	}
	if n := strings.Count(w.String(), "read stopped early on 1 partition(s)"); n != 1 {
		t.Fatalf("warnings: %q, want one about the incomplete read", w.String())
	}
	if _, ok := cat.Hash("a.md"); ok {
		t.Fatal("a document of the incomplete partition is known")
	}
}
