package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

// IdleStop is how long a partition may send nothing before Read takes it
// as read to its end (see the package documentation).
const IdleStop = 2 * time.Second

// ErrNoTopic is returned by Read when documents.catalog does not exist.
var ErrNoTopic = errors.New(event.TopicCatalog + " does not exist (run `ragpipe topics apply`)")

// Catalog is a tenant's snapshot of documents.catalog: the document hash
// of each of its documents whose last version is searchable.
type Catalog struct {
	tenant string
	hashes map[string]string // doc_id → document_hash
	// Skipped counts the entries of the tenant that did not decode.
	Skipped int
	// partitions is the topic's partition count when Read began;
	// incomplete holds those taken as read by IdleStop before their end.
	partitions int
	incomplete map[int32]bool
}

// New returns a catalog of tenant holding hashes (doc_id → document
// hash), for callers that know them otherwise, and tests.
func New(tenant string, hashes map[string]string) *Catalog {
	c := &Catalog{tenant: tenant, hashes: map[string]string{}}
	for doc, h := range hashes {
		c.hashes[doc] = h
	}
	return c
}

// Hash returns the document hash cataloged for doc_id, if any. A
// document whose key lies on a partition that Read did not read to its
// end (Incomplete) has none: its entry, or a later tombstone, may be
// among the records not seen, and publishing it again is harmless while
// skipping it is not.
func (c *Catalog) Hash(docID string) (string, bool) {
	if c == nil || c.unsure(docID) {
		return "", false
	}
	h, ok := c.hashes[docID]
	return h, ok
}

// unsure reports whether doc_id's key lies on an incomplete partition.
// The index stage's producer places keys as Kafka's default partitioner
// does (murmur2 of the key), and so does this.
func (c *Catalog) unsure(docID string) bool {
	if len(c.incomplete) == 0 || c.partitions < 1 {
		return false
	}
	r := &kgo.Record{Topic: event.TopicCatalog, Key: event.Key(c.tenant, docID)}
	p := kgo.StickyKeyPartitioner(nil).ForTopic(event.TopicCatalog).Partition(r, c.partitions)
	return c.incomplete[int32(p)]
}

// Incomplete lists, in order, the partitions that Read took as read on
// IdleStop before reaching the end offset it had listed (an open
// transaction, say): the snapshot may miss their last records, so Hash
// knows none of their documents.
func (c *Catalog) Incomplete() []int32 {
	if c == nil {
		return nil
	}
	out := make([]int32, 0, len(c.incomplete))
	for p := range c.incomplete {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Len is the number of documents cataloged.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.hashes)
}

// Read returns tenant's snapshot of documents.catalog. opts connect to the
// cluster (broker.Config.Opts); Read makes its own clients and closes
// them.
func Read(ctx context.Context, opts []kgo.Opt, tenant string) (*Catalog, error) {
	c := &Catalog{tenant: tenant, hashes: map[string]string{}}
	starts, ends, err := offsets(ctx, opts)
	if err != nil {
		return nil, err
	}
	want := map[int32]int64{} // partition → end offset still to reach
	assign := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		c.partitions++
		start := int64(0)
		if s, ok := starts.Lookup(event.TopicCatalog, o.Partition); ok {
			start = s.Offset
		}
		if start < o.Offset {
			want[o.Partition] = o.Offset
			assign[o.Partition] = kgo.NewOffset().At(start)
		}
	})
	if len(want) == 0 {
		return c, nil
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{event.TopicCatalog: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("catalog: kafka client: %w", err)
	}
	defer cl.Close()
	idle := 5 * IdleStop // the first fetch also connects
	for len(want) > 0 {
		pctx, cancel := context.WithTimeout(ctx, idle)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, fmt.Errorf("catalog: reading %s: %w", event.TopicCatalog, ferr)
		}
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			got++
			if !r.Attrs.IsControl() {
				c.apply(r)
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if got == 0 {
			// Nothing more arrives (see IdleStop): what is left is not
			// known to be read.
			c.incomplete = map[int32]bool{}
			for p := range want {
				c.incomplete[p] = true
			}
			return c, nil
		}
		idle = IdleStop
	}
	return c, nil
}

// offsets lists the start and end offsets of documents.catalog, or
// ErrNoTopic.
func offsets(ctx context.Context, opts []kgo.Opt) (starts, ends kadm.ListedOffsets, err error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, event.TopicCatalog)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: describing %s: %w", event.TopicCatalog, err)
	}
	if d, ok := td[event.TopicCatalog]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return nil, nil, ErrNoTopic
	} else if d.Err != nil {
		return nil, nil, fmt.Errorf("catalog: describing %s: %w", event.TopicCatalog, d.Err)
	}
	if starts, err = adm.ListStartOffsets(ctx, event.TopicCatalog); err == nil {
		err = starts.Error()
	}
	if err == nil {
		if ends, err = adm.ListEndOffsets(ctx, event.TopicCatalog); err == nil {
			err = ends.Error()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: listing offsets of %s: %w", event.TopicCatalog, err)
	}
	return starts, ends, nil
}

// apply folds one record of the topic into the catalog.
func (c *Catalog) apply(r *kgo.Record) {
	tenant, doc, err := event.ParseKey(r.Key)
	if err != nil || tenant != c.tenant {
		return
	}
	if r.Value == nil {
		delete(c.hashes, doc)
		return
	}
	e, err := event.DecodeCatalogEntry(r)
	if err != nil {
		c.Skipped++
		delete(c.hashes, doc)
		return
	}
	c.hashes[doc] = e.GetDocumentHash()
}
