package stage

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	"github.com/ragpipe/ragpipe/store"
)

// Default consumer groups and batch sizes of the consumer stages.
const (
	EmbedGroup     = "ragpipe-embed"
	IndexGroup     = "ragpipe-index"
	EmbedBatchSize = 64  // inputs per embedding request
	IndexBatchSize = 256 // chunks per durable upsert
)

// Worker is a consumer stage's whole engine wiring: what it reads, how it
// handles a batch, how it dead-letters, the lineage of its outputs, and
// how the engine probes its server. Commands and the demo take it as is
// and add only operational settings (brokers, concurrency, timeouts).
type Worker struct {
	// Name is the stage's name in logs and dead-letter headers.
	Name string
	// Group is the stage's default consumer group.
	Group string
	// BatchSize is the stage's default records per batch.
	BatchSize int
	Topics    []string
	// TopicWeights are the stage's default priority classes of its
	// topics (engine.Config.TopicWeights); nil for one class.
	TopicWeights map[string]int
	Handler      engine.Handler
	DeadLetter   engine.DeadLetterFunc
	Lineage      func(*kgo.Record) []kgo.RecordHeader
	// Probe checks the stage's server with a known-good request (nil when
	// the stage has no remote server).
	Probe func(ctx context.Context) error
}

// Configure returns cfg with the stage's wiring set: Stage, Topics,
// Handler, DeadLetter, Lineage and Probe, and Group, BatchMaxRecords and
// TopicWeights where cfg leaves them zero.
func (w Worker) Configure(cfg engine.Config) engine.Config {
	cfg.Stage, cfg.Topics, cfg.Handler = w.Name, w.Topics, w.Handler
	cfg.DeadLetter, cfg.Lineage, cfg.Probe = w.DeadLetter, w.Lineage, w.Probe
	if cfg.Group == "" {
		cfg.Group = w.Group
	}
	if cfg.BatchMaxRecords == 0 {
		cfg.BatchMaxRecords = w.BatchSize
	}
	if cfg.TopicWeights == nil {
		cfg.TopicWeights = w.TopicWeights
	}
	return cfg
}

// EmbedWorker is the embed stage (documents.parsed and its priority
// topics → chunks.embedded) on em: it reads every parsed topic in one
// group, weighted by DefaultPriorityWeights, and skips the remaining
// chunks of a version once one is dead-lettered.
func EmbedWorker(em embed.Embedder) Worker {
	failures := NewFailures(0)
	s := &Embed{Embedder: em, Failures: failures}
	return Worker{
		Name: "embed", Group: EmbedGroup, BatchSize: EmbedBatchSize,
		Topics: event.ParsedTopics(), TopicWeights: PriorityTopicWeights(DefaultPriorityWeights()),
		Handler: s.Handle, DeadLetter: DeadLetter(failures), Lineage: event.Lineage, Probe: s.Probe,
	}
}

// IndexOption adjusts the index stage (IndexWorker).
type IndexOption func(*Index)

// WithoutCatalog makes the index stage write nothing to documents.catalog:
// for a cluster whose topics predate it (ingest then publishes every file
// again, as before the catalog).
func WithoutCatalog() IndexOption { return func(s *Index) { s.NoCatalog = true } }

// IndexWorker is the index stage (chunks.embedded, documents.failed and
// documents.deleted → st, vectors.indexed and documents.catalog).
func IndexWorker(st store.Store, opts ...IndexOption) Worker {
	s := &Index{Store: st}
	for _, o := range opts {
		o(s)
	}
	return Worker{
		Name: "index", Group: IndexGroup, BatchSize: IndexBatchSize,
		Topics: []string{event.TopicEmbedded, event.TopicFailed, event.TopicDeleted}, Handler: s.Handle,
		DeadLetter: DeadLetter(nil), Lineage: event.Lineage,
	}
}

// probeText is what Embed.Probe sends: short and harmless.
const probeText = "ragpipe health probe"

// prober is an Embedder that can probe its servers around its breakers
// (embed.Pool).
type prober interface {
	Probe(ctx context.Context, input string) error
}

// Probe sends one known-good input to the embedder's servers (around their
// breakers when the embedder is a pool). Only a server-class failure is an
// error: any answer, even a refusal of the input, shows the server is up.
func (s *Embed) Probe(ctx context.Context) error {
	if p, ok := s.Embedder.(prober); ok {
		return p.Probe(ctx, probeText)
	}
	_, err := s.Embedder.Embed(ctx, []string{probeText})
	if err != nil && fault.ClassOf(err) == fault.ClassServer {
		return err
	}
	return nil
}
