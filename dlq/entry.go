package dlq

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ragpipe/ragpipe/event"
)

// Entry is what a dead letter says about itself.
type Entry struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"time"`
	// Where the record was when it failed.
	Topic          string `json:"topic"`
	TopicPartition int32  `json:"topic_partition"`
	TopicOffset    int64  `json:"topic_offset"`

	Stage    string `json:"stage"`
	Class    string `json:"class"`
	Message  string `json:"message"`
	Attempts int    `json:"attempts"`

	Tenant  string `json:"tenant,omitempty"`
	Doc     string `json:"doc,omitempty"`
	Version int64  `json:"version,omitempty"`
	// Chunk is the chunk index, -1 when the value does not decode.
	Chunk      int32 `json:"chunk"`
	ChunkCount int32 `json:"chunk_count,omitempty"`
	// Replays is the record's ragpipe.replay.count: how often it was
	// replayed before it failed again.
	Replays int `json:"replays"`
}

// Parse reads the dead-letter headers, key and value of a record of
// documents.dlq.
func Parse(r *kgo.Record) Entry {
	e := Entry{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, Chunk: -1, TopicPartition: -1, TopicOffset: -1}
	h := func(name string) string { v, _ := event.Header(r, name); return v }
	e.Topic = h(event.HeaderDLQTopic)
	if p, err := strconv.ParseInt(h(event.HeaderDLQPartition), 10, 32); err == nil {
		e.TopicPartition = int32(p)
	}
	if o, err := strconv.ParseInt(h(event.HeaderDLQOffset), 10, 64); err == nil {
		e.TopicOffset = o
	}
	e.Stage, e.Class, e.Message = h(event.HeaderDLQStage), h(event.HeaderDLQErrorClass), h(event.HeaderDLQErrorMessage)
	e.Attempts, _ = strconv.Atoi(h(event.HeaderDLQAttempts))
	e.Replays = event.ReplayCount(r)
	if tenant, doc, err := event.ParseKey(r.Key); err == nil {
		e.Tenant, e.Doc = tenant, doc
	}
	if msg, err := Payload(r); err == nil {
		type chunk interface {
			GetDocVersion() int64
			GetChunkIndex() int32
			GetChunkCount() int32
		}
		if c, ok := msg.(chunk); ok {
			e.Version, e.Chunk, e.ChunkCount = c.GetDocVersion(), c.GetChunkIndex(), c.GetChunkCount()
		}
	}
	return e
}

// Payload decodes a dead letter's value as the message of its original
// topic (ChunkParsed for documents.parsed and its priority topics, ChunkEmbedded for
// chunks.embedded, DocumentFailed, DocumentIndexed).
func Payload(r *kgo.Record) (proto.Message, error) {
	topic, _ := event.Header(r, event.HeaderDLQTopic)
	as := *r
	as.Headers = nil
	for _, h := range r.Headers { // only the content-type matters to Decode
		if h.Key == event.HeaderContentType {
			as.Headers = append(as.Headers, h)
		}
	}
	switch {
	case event.IsParsedTopic(topic):
		return event.DecodeChunkParsed(&as)
	case topic == event.TopicEmbedded:
		return event.DecodeChunkEmbedded(&as)
	case topic == event.TopicFailed:
		return event.DecodeDocumentFailed(&as)
	case topic == event.TopicIndexed:
		return event.DecodeDocumentIndexed(&as)
	}
	// Unknown origin: try the chunk types by content-type.
	if m, err := event.DecodeChunkParsed(&as); err == nil {
		return m, nil
	}
	if m, err := event.DecodeChunkEmbedded(&as); err == nil {
		return m, nil
	}
	return nil, fmt.Errorf("dlq: cannot decode a record from topic %q", topic)
}

// PayloadJSON renders the payload as indented JSON.
func PayloadJSON(msg proto.Message) string {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(msg)
	if err != nil {
		return fmt.Sprintf("(cannot render: %v)", err)
	}
	return string(b)
}

// Line is the one-line form of an entry for `dlq list`.
func (e Entry) Line() string {
	chunk := "-"
	if e.Chunk >= 0 {
		chunk = fmt.Sprintf("%d/%d", e.Chunk, e.ChunkCount)
	}
	msg := strings.Join(strings.Fields(e.Message), " ")
	if len(msg) > 120 {
		msg = msg[:117] + "..."
	}
	return fmt.Sprintf("%d:%-6d %s  %-6s %-7s %s/%s  chunk %s  attempts %d  replays %d  %s",
		e.Partition, e.Offset, e.Time.UTC().Format(time.RFC3339), e.Stage, e.Class, e.Tenant, e.Doc,
		chunk, e.Attempts, e.Replays, msg)
}
