package catalog

import (
	"context"
	"errors"
	"fmt"
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
	// idled counts the partitions taken as read by IdleStop.
	idled int
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

// Hash returns the document hash cataloged for doc_id, if any.
func (c *Catalog) Hash(docID string) (string, bool) {
	if c == nil {
		return "", false
	}
	h, ok := c.hashes[docID]
	return h, ok
}

// Len is the number of documents cataloged.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.hashes)
}

// Tenant is the tenant the catalog was read for.
func (c *Catalog) Tenant() string { return c.tenant }

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
			c.idled = len(want)
			return c, nil // nothing more arrives (see IdleStop)
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
