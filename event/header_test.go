package event_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
)

func TestHeaderNames(t *testing.T) {
	// The names are a contract with other tools and with older stages.
	names := map[string]string{
		event.HeaderContentType:             "content-type",
		event.HeaderSourceTopic:             "ragpipe.source.topic",
		event.HeaderSourcePartition:         "ragpipe.source.partition",
		event.HeaderSourceOffset:            "ragpipe.source.offset",
		event.HeaderDLQTopic:                "ragpipe.dlq.topic",
		event.HeaderDLQPartition:            "ragpipe.dlq.partition",
		event.HeaderDLQOffset:               "ragpipe.dlq.offset",
		event.HeaderDLQStage:                "ragpipe.dlq.stage",
		event.HeaderDLQErrorClass:           "ragpipe.dlq.error.class",
		event.HeaderDLQErrorMessage:         "ragpipe.dlq.error.message",
		event.HeaderDLQAttempts:             "ragpipe.dlq.attempts",
		event.HeaderDLQFirstFailure:         "ragpipe.dlq.first.failure",
		event.HeaderDLQLastFailure:          "ragpipe.dlq.last.failure",
		event.HeaderConnectTopic:            "__connect.errors.topic",
		event.HeaderConnectPartition:        "__connect.errors.partition",
		event.HeaderConnectOffset:           "__connect.errors.offset",
		event.HeaderConnectExceptionMessage: "__connect.errors.exception.message",
	}
	for got, want := range names {
		if got != want {
			t.Errorf("header name %q, want %q", got, want)
		}
	}
	if len(names) != 17 {
		t.Errorf("%d distinct header names, want 17", len(names))
	}
}

func TestTopicNames(t *testing.T) {
	for got, want := range map[string]string{
		event.TopicParsed:   "documents.parsed",
		event.TopicEmbedded: "chunks.embedded",
		event.TopicIndexed:  "vectors.indexed",
		event.TopicFailed:   "documents.failed",
		event.TopicDLQ:      "documents.dlq",
	} {
		if got != want {
			t.Errorf("topic %q, want %q", got, want)
		}
	}
}

func TestHeader(t *testing.T) {
	r := &kgo.Record{Headers: []kgo.RecordHeader{
		{Key: "a", Value: []byte("1")},
		{Key: "b", Value: []byte("2")},
		{Key: "a", Value: []byte("3")},
		{Key: "empty"},
	}}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"a", "3", true}, // the last one wins
		{"b", "2", true},
		{"empty", "", true},
		{"A", "", false}, // names are case-sensitive
		{"missing", "", false},
	}
	for _, tt := range tests {
		if got, ok := event.Header(r, tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("Header(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := event.Header(nil, "a"); ok {
		t.Error("Header(nil) found a header")
	}
	if _, ok := event.Header(&kgo.Record{}, "a"); ok {
		t.Error("Header of a record without headers found one")
	}
}

func TestLineage(t *testing.T) {
	in := &kgo.Record{Topic: event.TopicParsed, Partition: 7, Offset: 1234567890123}
	out := &kgo.Record{Headers: event.Lineage(in)}
	want := map[string]string{
		event.HeaderSourceTopic:     "documents.parsed",
		event.HeaderSourcePartition: "7",
		event.HeaderSourceOffset:    "1234567890123",
	}
	if len(out.Headers) != len(want) {
		t.Errorf("Lineage returned %d headers, want %d", len(out.Headers), len(want))
	}
	for name, v := range want {
		if got, _ := event.Header(out, name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
}

func TestDeadLetter(t *testing.T) {
	zone := time.FixedZone("CEST", 2*60*60)
	first := time.Date(2025, 6, 1, 12, 0, 0, 123456789, zone)
	last := first.Add(90 * time.Second)
	in := &kgo.Record{
		Topic:     event.TopicParsed,
		Partition: 3,
		Offset:    42,
		Key:       []byte("acme/doc-1"),
		Value:     []byte{1, 2, 3},
		Headers: []kgo.RecordHeader{
			{Key: event.HeaderContentType, Value: []byte("application/x-protobuf; messageType=ragpipe.v1.ChunkParsed")},
			{Key: "trace", Value: []byte("abc")},
		},
		Timestamp: time.Unix(1, 0),
	}
	inHeaders := len(in.Headers)

	dl := event.DeadLetter(in, event.TopicDLQ, event.DeadLetterInfo{
		Stage:        "embed",
		ErrorClass:   "record",
		ErrorMessage: "input too long",
		Attempts:     5,
		FirstFailure: first,
		LastFailure:  last,
	})

	if dl.Topic != event.TopicDLQ {
		t.Errorf("Topic = %q, want %q", dl.Topic, event.TopicDLQ)
	}
	if !bytes.Equal(dl.Key, in.Key) || !bytes.Equal(dl.Value, in.Value) {
		t.Errorf("key, value = %q, %v; want %q, %v", dl.Key, dl.Value, in.Key, in.Value)
	}
	if !dl.Timestamp.IsZero() || dl.Partition != 0 || dl.Offset != 0 {
		t.Errorf("timestamp, partition, offset = %v, %d, %d; want them unset", dl.Timestamp, dl.Partition, dl.Offset)
	}
	// The original headers come first, unchanged.
	for i, h := range in.Headers {
		if dl.Headers[i].Key != h.Key || !bytes.Equal(dl.Headers[i].Value, h.Value) {
			t.Errorf("header %d = %q: %q, want %q: %q", i, dl.Headers[i].Key, dl.Headers[i].Value, h.Key, h.Value)
		}
	}
	want := map[string]string{
		"trace":                             "abc",
		event.HeaderDLQTopic:                "documents.parsed",
		event.HeaderDLQPartition:            "3",
		event.HeaderDLQOffset:               "42",
		event.HeaderDLQStage:                "embed",
		event.HeaderDLQErrorClass:           "record",
		event.HeaderDLQErrorMessage:         "input too long",
		event.HeaderDLQAttempts:             "5",
		event.HeaderDLQFirstFailure:         "2025-06-01T10:00:00.123456789Z",
		event.HeaderDLQLastFailure:          "2025-06-01T10:01:30.123456789Z",
		event.HeaderConnectTopic:            "documents.parsed",
		event.HeaderConnectPartition:        "3",
		event.HeaderConnectOffset:           "42",
		event.HeaderConnectExceptionMessage: "input too long",
	}
	for name, v := range want {
		if got, ok := event.Header(dl, name); !ok || got != v {
			t.Errorf("%s = %q, %v; want %q", name, got, ok, v)
		}
	}
	if got, want := len(dl.Headers), inHeaders+13; got != want {
		t.Errorf("%d headers, want %d", got, want)
	}
	if ts, _ := event.Header(dl, event.HeaderDLQLastFailure); !mustParse(t, ts).Equal(last) {
		t.Errorf("last failure %s does not parse back to %s", ts, last)
	}

	// in is unchanged, and the dead letter does not share memory with it.
	if len(in.Headers) != inHeaders {
		t.Errorf("DeadLetter changed the input's headers: %d, want %d", len(in.Headers), inHeaders)
	}
	in.Key[0], in.Value[0], in.Headers[1].Value[0] = 'X', 9, 'X'
	if dl.Key[0] != 'a' || dl.Value[0] != 1 || dl.Headers[1].Value[0] != 'a' {
		t.Error("the dead letter shares key, value or header memory with the input")
	}
}

func TestDeadLetterEdgeCases(t *testing.T) {
	in := &kgo.Record{Topic: "t", Partition: 0, Offset: 0} // nil key and value
	dl := event.DeadLetter(in, event.TopicDLQ, event.DeadLetterInfo{
		ErrorMessage: strings.Repeat("é", 5000), // 10000 bytes
	})
	if dl.Key != nil || dl.Value != nil {
		t.Errorf("nil key and value became %q, %q", dl.Key, dl.Value)
	}
	for _, name := range []string{event.HeaderDLQFirstFailure, event.HeaderDLQLastFailure} {
		if v, ok := event.Header(dl, name); ok {
			t.Errorf("%s = %q for a zero time; want no header", name, v)
		}
	}
	if v, _ := event.Header(dl, event.HeaderDLQAttempts); v != "0" {
		t.Errorf("attempts = %q, want 0", v)
	}
	for _, name := range []string{event.HeaderDLQErrorMessage, event.HeaderConnectExceptionMessage} {
		msg, _ := event.Header(dl, name)
		if len(msg) > event.MaxErrorMessageBytes || !utf8.ValidString(msg) || !strings.HasSuffix(msg, "[truncated]") {
			t.Errorf("%s: %d bytes, valid UTF-8 %v, suffix %q; want a marked cut to at most %d bytes",
				name, len(msg), utf8.ValidString(msg), msg[max(0, len(msg)-20):], event.MaxErrorMessageBytes)
		}
	}

	// A record dead-lettered a second time (after a replay) keeps the old
	// headers, and Header reads the newest ones.
	again := event.DeadLetter(dl, event.TopicDLQ, event.DeadLetterInfo{Stage: "index", Attempts: 2})
	if v, _ := event.Header(again, event.HeaderDLQStage); v != "index" {
		t.Errorf("stage after a second dead-lettering = %q, want index", v)
	}
	if got, want := len(again.Headers), len(dl.Headers)+11; got != want {
		t.Errorf("%d headers, want %d", got, want)
	}
}

func mustParse(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
