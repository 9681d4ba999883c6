package stage

import (
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

func TestParsePriorityWeights(t *testing.T) {
	for in, want := range map[string]map[event.Priority]int{
		"":                      DefaultPriorityWeights(),
		"high=8,normal=3,low=1": {event.PriorityHigh: 8, event.PriorityNormal: 3, event.PriorityLow: 1},
		"low=2":                 {event.PriorityHigh: 8, event.PriorityNormal: 3, event.PriorityLow: 2},
		" high = 20 , low=5 ":   {event.PriorityHigh: 20, event.PriorityNormal: 3, event.PriorityLow: 5},
	} {
		got, err := ParsePriorityWeights(in)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("ParsePriorityWeights(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"high", "urgent=3", "=3", "low=0", "low=-1", "high=1001", "high=x"} {
		if _, err := ParsePriorityWeights(bad); err == nil {
			t.Errorf("ParsePriorityWeights(%q): no error", bad)
		}
	}
	if got := FormatPriorityWeights(DefaultPriorityWeights()); got != "high=8,normal=3,low=1" {
		t.Errorf("FormatPriorityWeights(defaults) = %q", got)
	}
}

// The embed worker reads every parsed topic with the default weights, and
// a config's own weights win.
func TestEmbedWorkerReadsEveryPriority(t *testing.T) {
	w := EmbedWorker(embed.NewHash(8))
	if !slices.Equal(w.Topics, []string{event.TopicParsedHigh, event.TopicParsed, event.TopicParsedLow}) {
		t.Fatalf("embed topics %v", w.Topics)
	}
	cfg := w.Configure(engine.Config{})
	want := map[string]int{event.TopicParsedHigh: 8, event.TopicParsed: 3, event.TopicParsedLow: 1}
	if !maps.Equal(cfg.TopicWeights, want) {
		t.Fatalf("default topic weights %v, want %v", cfg.TopicWeights, want)
	}
	own := map[string]int{event.TopicParsedHigh: 2}
	if cfg := w.Configure(engine.Config{TopicWeights: own}); !maps.Equal(cfg.TopicWeights, own) {
		t.Fatalf("configured topic weights %v, want %v", cfg.TopicWeights, own)
	}
}

// The parse stage puts a raw document's chunks on the topic of its
// ragpipe.priority header, documents.parsed without one, and refuses an
// unknown priority as the record's fault.
func TestParseRoutesByPriorityHeader(t *testing.T) {
	p := &Parse{}
	doc := func(prio string) *kgo.Record {
		r := rawRecord(t, &ragpipev1.DocumentRaw{TenantId: "t", DocId: "a.md", DocVersion: 1,
			Body: &ragpipev1.DocumentRaw_Content{Content: []byte("# A\n\nSome text.\n")}})
		if prio != "" {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: event.HeaderPriority, Value: []byte(prio)})
		}
		return r
	}
	for prio, topic := range map[string]string{"": event.TopicParsed, "high": event.TopicParsedHigh, "normal": event.TopicParsed, "low": event.TopicParsedLow} {
		res, err := p.Handle(t.Context(), []*kgo.Record{doc(prio)})
		if err != nil || res[0].Err != nil || len(res[0].Outputs) == 0 {
			t.Fatalf("priority %q: %v, %+v", prio, err, res)
		}
		for _, o := range res[0].Outputs {
			if o.Topic != topic {
				t.Errorf("priority %q: chunk on %s, want %s", prio, o.Topic, topic)
			}
		}
	}
	res, err := p.Handle(t.Context(), []*kgo.Record{doc("urgent")})
	if err != nil || res[0].Err == nil {
		t.Fatalf("unknown priority: %v, %+v; want a record error", err, res)
	}
}
