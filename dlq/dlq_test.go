package dlq

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

func deadLetter(t *testing.T, doc string, extra ...kgo.RecordHeader) *kgo.Record {
	t.Helper()
	in, err := event.NewRecord(event.TopicParsed, event.Key("acme", doc), &ragpipev1.ChunkParsed{
		TenantId: "acme", DocId: doc, DocVersion: 7, ChunkIndex: 2, ChunkCount: 4, Text: "x", ContentHash: "h",
	})
	if err != nil {
		t.Fatal(err)
	}
	in.Partition, in.Offset = 3, 41
	in.Headers = append(in.Headers, kgo.RecordHeader{Key: event.HeaderIngestID, Value: []byte("run-1")})
	in.Headers = append(in.Headers, extra...)
	dl := event.DeadLetter(in, event.TopicDLQ, event.DeadLetterInfo{
		Stage: "embed", ErrorClass: "record", ErrorMessage: "rejected", Attempts: 3,
	})
	dl.Partition, dl.Offset, dl.Timestamp = 1, 9, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	return dl
}

func TestParse(t *testing.T) {
	e := Parse(deadLetter(t, "a.md"))
	want := Entry{Partition: 1, Offset: 9, Time: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
		Topic: event.TopicParsed, TopicPartition: 3, TopicOffset: 41, Stage: "embed", Class: "record",
		Message: "rejected", Attempts: 3, Tenant: "acme", Doc: "a.md", Version: 7, Chunk: 2, ChunkCount: 4}
	if e != want {
		t.Fatalf("got %+v\nwant %+v", e, want)
	}
}

func TestFilter(t *testing.T) {
	e := Parse(deadLetter(t, "a.md"))
	at := e.Time
	for _, c := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Stage: "embed", Class: "RECORD", Tenant: "acme", Doc: "a.md"}, true},
		{Filter{Stage: "index"}, false},
		{Filter{Class: "server"}, false},
		{Filter{Tenant: "other"}, false},
		{Filter{Doc: "b.md"}, false},
		{Filter{Since: at}, true},
		{Filter{Since: at.Add(time.Second)}, false},
		{Filter{Until: at}, false},
		{Filter{Since: at.Add(-time.Hour), Until: at.Add(time.Second)}, true},
	} {
		if got := c.f.Match(e); got != c.want {
			t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                            {},
		"2h":                          now.Add(-2 * time.Hour),
		"-30m":                        now.Add(-30 * time.Minute),
		"2026-04-30T10:00:00Z":        time.Date(2026, 4, 30, 10, 0, 0, 0, time.UTC),
		"2026-04-30T10:00:00.5+02:00": time.Date(2026, 4, 30, 8, 0, 0, 5e8, time.UTC),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: got %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday", now); err == nil {
		t.Error("want an error for a bad time")
	}
}

// A replay goes to the original topic with the original key, value and
// headers, without the dead-letter headers, with lineage headers; its
// count grows with each trip, and the loop guard refuses it at the limit.
func TestReplayRecordHeaders(t *testing.T) {
	dl := deadLetter(t, "a.md")
	rec, err := ReplayRecord(dl, "r-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Topic != event.TopicParsed || string(rec.Key) != "acme/a.md" || string(rec.Value) != string(dl.Value) {
		t.Fatalf("replayed %s %q", rec.Topic, rec.Key)
	}
	for _, h := range rec.Headers {
		if event.IsDeadLetterHeader(h.Key) {
			t.Fatalf("dead-letter header %s kept", h.Key)
		}
	}
	for name, want := range map[string]string{
		event.HeaderReplayCount: "1", event.HeaderReplayID: "r-1", event.HeaderReplayOriginalTopic: event.TopicParsed,
		event.HeaderReplayOriginalPartition: "3", event.HeaderReplayOriginalOffset: "41",
		event.HeaderIngestID: "run-1", event.HeaderContentType: event.ContentType(&ragpipev1.ChunkParsed{}),
	} {
		if got, _ := event.Header(rec, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if event.Delivery(rec) != "r-1" {
		t.Fatalf("delivery %q", event.Delivery(rec))
	}
	// The replayed record fails again and is replayed again: one set of
	// replay headers, the count grows.
	again := deadLetter(t, "a.md", rec.Headers[len(rec.Headers)-5:]...)
	rec2, err := ReplayRecord(again, "r-2", 3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range rec2.Headers {
		if h.Key == event.HeaderReplayCount {
			n++
		}
	}
	if c := event.ReplayCount(rec2); c != 2 || n != 1 {
		t.Fatalf("count %d in %d headers", c, n)
	}
	third := deadLetter(t, "a.md", kgo.RecordHeader{Key: event.HeaderReplayCount, Value: []byte("3")})
	if _, err := ReplayRecord(third, "r-3", 3); !errors.Is(err, ErrRefused) {
		t.Fatalf("want a refusal at the limit, got %v", err)
	}
	noTopic := &kgo.Record{Key: []byte("a/b")}
	if _, err := ReplayRecord(noTopic, "r", 3); !errors.Is(err, ErrRefused) {
		t.Fatalf("want a refusal without a topic header, got %v", err)
	}
}
