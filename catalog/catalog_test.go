package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/broker"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

func cluster(t *testing.T) []kgo.Opt {
	t.Helper()
	b, err := broker.StartEmbedded(broker.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return []kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}
}

func createTopic(t *testing.T, opts []kgo.Opt, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1,
		map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, event.TopicCatalog)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}

func entry(t *testing.T, tenant, doc, hash string) *kgo.Record {
	t.Helper()
	r, err := event.NewRecord(event.TopicCatalog, event.Key(tenant, doc), &ragpipev1.CatalogEntry{
		TenantId: tenant, DocId: doc, DocVersion: 1, DocumentHash: hash, ChunkCount: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tombstone(tenant, doc string) *kgo.Record {
	return &kgo.Record{Topic: event.TopicCatalog, Key: event.Key(tenant, doc)}
}

// produce writes recs, in a transaction when txn is set (as the index
// stage does in exactly-once mode: each partition then ends with a
// transaction marker, which a reader never gets as a record).
func produce(t *testing.T, opts []kgo.Opt, txn bool, recs ...*kgo.Record) {
	t.Helper()
	ctx := context.Background()
	if txn {
		opts = append(opts, kgo.TransactionalID("catalog-test"))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if txn {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if txn {
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
}

// Entries, overwrites and tombstones fold into the last state of each of
// the tenant's keys; other tenants' keys and undecodable entries are not
// in it. Transaction markers at the end of partitions do not hold the
// read up: it finishes without waiting out IdleStop.
func TestReadFoldsEntriesOverwritesAndTombstones(t *testing.T) {
	opts := cluster(t)
	createTopic(t, opts, 3)
	bad := entry(t, "t", "bad.md", "sha256:00")
	bad.Value = []byte{0xff, 0xff}
	produce(t, opts, false,
		entry(t, "t", "a.md", "sha256:a1"),
		entry(t, "t", "b.md", "sha256:b1"),
		entry(t, "t", "c.md", "sha256:c1"),
		entry(t, "other", "a.md", "sha256:zz"),
		entry(t, "t", "bad.md", "sha256:bad0"),
	)
	produce(t, opts, true,
		entry(t, "t", "a.md", "sha256:a2"), // overwrite
		tombstone("t", "b.md"),             // delete
		tombstone("t", "never.md"),         // delete of an unknown key
		bad,                                // replaces a good entry with garbage
		entry(t, "other", "d.md", "sha256:dd"),
	)
	c, err := Read(context.Background(), opts, "t")
	if err != nil {
		t.Fatal(err)
	}
	if inc := c.Incomplete(); len(inc) != 0 {
		t.Errorf("partition(s) %v taken as read by IdleStop: the transaction markers were not seen as the end", inc)
	}
	want := map[string]string{"a.md": "sha256:a2", "c.md": "sha256:c1"}
	if c.Len() != len(want) {
		t.Fatalf("catalog has %d documents, want %d", c.Len(), len(want))
	}
	for doc, h := range want {
		if got, ok := c.Hash(doc); !ok || got != h {
			t.Errorf("%s: %q %v, want %q", doc, got, ok, h)
		}
	}
	for _, doc := range []string{"b.md", "bad.md", "d.md", "never.md"} {
		if _, ok := c.Hash(doc); ok {
			t.Errorf("%s should not be cataloged", doc)
		}
	}
	if c.Skipped != 1 {
		t.Errorf("skipped %d undecodable entries, want 1", c.Skipped)
	}
	other, err := Read(context.Background(), opts, "other")
	if err != nil || other.Len() != 2 {
		t.Fatalf("tenant other: %d documents, %v", other.Len(), err)
	}
}

// A cluster whose topics predate the catalog: ErrNoTopic; an empty topic:
// an empty catalog.
func TestReadMissingAndEmptyTopic(t *testing.T) {
	opts := cluster(t)
	if _, err := Read(context.Background(), opts, "t"); !errors.Is(err, ErrNoTopic) {
		t.Fatalf("want ErrNoTopic, got %v", err)
	}
	createTopic(t, opts, 2)
	c, err := Read(context.Background(), opts, "t")
	if err != nil || c.Len() != 0 {
		t.Fatalf("empty topic: %d documents, %v", c.Len(), err)
	}
	if _, ok := (*Catalog)(nil).Hash("x"); ok {
		t.Fatal("a nil catalog knows a document")
	}
}

// A transaction left open on documents.catalog (an exactly-once index
// stage mid-transaction) hides its partition's last records from a
// read_committed reader: Read stops there on IdleStop and says so. The
// documents of that partition then count as unknown (published again,
// the safe side: skipping one whose entry was hidden, after a delete, is
// not); those of the other partitions are still known.
func TestReadReportsPartitionsStoppedOnIdle(t *testing.T) {
	ctx := context.Background()
	opts := cluster(t)
	createTopic(t, opts, 2)
	var recs []*kgo.Record
	for _, d := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		recs = append(recs, entry(t, "t", d, "sha256:"+d))
	}
	produce(t, opts, false, recs...) // sets each record's partition
	open, err := kgo.NewClient(append(opts, kgo.TransactionalID("catalog-open"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	hidden := tombstone("t", "a") // deletes a, but is not committed yet
	if err := open.ProduceSync(ctx, hidden).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cat, err := Read(ctx, opts, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := cat.Incomplete(); len(got) != 1 || got[0] != hidden.Partition {
		t.Fatalf("incomplete partitions %v, want [%d]", got, hidden.Partition)
	}
	known := 0
	for _, r := range recs {
		_, doc, _ := event.ParseKey(r.Key)
		h, ok := cat.Hash(doc)
		switch {
		case r.Partition == hidden.Partition && ok:
			t.Fatalf("%s is on the incomplete partition %d, yet Hash says %q", doc, r.Partition, h)
		case r.Partition != hidden.Partition && (!ok || h != "sha256:"+doc):
			t.Fatalf("%s on complete partition %d: %q %v", doc, r.Partition, h, ok)
		case ok:
			known++
		}
	}
	if known == 0 || known == len(recs) {
		t.Fatalf("%d of %d documents known: the test wants both partitions used", known, len(recs))
	}
}
