package event_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

var testTime = timestamppb.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))

func chunkParsed() *ragpipev1.ChunkParsed {
	return &ragpipev1.ChunkParsed{
		TenantId:     "acme",
		DocId:        "docs/install.md",
		DocVersion:   3,
		ChunkIndex:   1,
		ChunkCount:   4,
		Text:         "Run make proto.",
		ContentHash:  "sha256:9f86d081884c7d65",
		Source:       "s3://acme/docs/install.md",
		Title:        "Install",
		MediaType:    "text/markdown",
		Heading:      "Install > Linux",
		TokenCount:   5,
		Metadata:     map[string]string{"author": "ann", "lang": "en", "tag": "ops"},
		ParsedAt:     testTime,
		DocumentHash: "sha256:2c26b46b68ffc68f",
	}
}

func chunkEmbedded() *ragpipev1.ChunkEmbedded {
	return &ragpipev1.ChunkEmbedded{
		TenantId:     "acme",
		DocId:        "docs/install.md",
		DocVersion:   3,
		ChunkIndex:   3,
		ChunkCount:   4,
		Text:         "Run make proto.",
		ContentHash:  "sha256:9f86d081884c7d65",
		Source:       "s3://acme/docs/install.md",
		Title:        "Install",
		Heading:      "Install > Linux",
		Vector:       []float32{0.25, -0.5, 1},
		Model:        "nomic-embed-text-v1.5",
		EmbeddedAt:   testTime,
		DocumentHash: "sha256:2c26b46b68ffc68f",
	}
}

func catalogEntry() *ragpipev1.CatalogEntry {
	return &ragpipev1.CatalogEntry{
		TenantId:     "acme",
		DocId:        "docs/install.md",
		DocVersion:   3,
		DocumentHash: "sha256:2c26b46b68ffc68f",
		Source:       "s3://acme/docs/install.md",
		ChunkCount:   4,
		Model:        "nomic-embed-text-v1.5",
		Dimensions:   768,
		Store:        "qdrant/acme",
		IndexedAt:    testTime,
	}
}

func documentFailed() *ragpipev1.DocumentFailed {
	return &ragpipev1.DocumentFailed{
		TenantId:     "acme",
		DocId:        "docs/install.md",
		DocVersion:   3,
		Stage:        "embed",
		ErrorClass:   "record",
		ErrorMessage: "input too long",
		Attempts:     5,
		ChunkIndex:   proto.Int32(0),
		Source:       "s3://acme/docs/install.md",
		FailedAt:     testTime,
	}
}

func documentIndexed() *ragpipev1.DocumentIndexed {
	return &ragpipev1.DocumentIndexed{
		TenantId:   "acme",
		DocId:      "docs/install.md",
		DocVersion: 3,
		ChunkCount: 4,
		Model:      "nomic-embed-text-v1.5",
		Dimensions: 768,
		Store:      "qdrant/acme",
		IndexedAt:  testTime,
	}
}

// roundTrip writes msg with NewRecord and reads it back with decode,
// checking the record's topic, key and content-type on the way.
func roundTrip[M proto.Message](t *testing.T, topic string, msg M, decode func(*kgo.Record) (M, error)) {
	t.Helper()
	key := event.Key("acme", "docs/install.md")
	r, err := event.NewRecord(topic, key, msg)
	if err != nil {
		t.Fatalf("NewRecord: %v", err)
	}
	if r.Topic != topic || string(r.Key) != string(key) {
		t.Errorf("record topic, key = %q, %q; want %q, %q", r.Topic, r.Key, topic, key)
	}
	name := msg.ProtoReflect().Descriptor().FullName()
	wantCT := "application/x-protobuf; messageType=" + string(name)
	if ct, _ := event.Header(r, event.HeaderContentType); ct != wantCT {
		t.Errorf("content-type = %q, want %q", ct, wantCT)
	}
	if len(r.Headers) != 1 {
		t.Errorf("%d headers, want 1", len(r.Headers))
	}
	got, err := decode(r)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !proto.Equal(got, msg) {
		t.Errorf("decoded %v, want %v", got, msg)
	}
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, event.TopicParsed, chunkParsed(), event.DecodeChunkParsed)
	roundTrip(t, event.TopicEmbedded, chunkEmbedded(), event.DecodeChunkEmbedded)
	roundTrip(t, event.TopicFailed, documentFailed(), event.DecodeDocumentFailed)
	roundTrip(t, event.TopicIndexed, documentIndexed(), event.DecodeDocumentIndexed)
	roundTrip(t, event.TopicCatalog, catalogEntry(), event.DecodeCatalogEntry)

	whole := documentFailed()
	whole.ChunkIndex = nil // the whole document failed
	roundTrip(t, event.TopicFailed, whole, event.DecodeDocumentFailed)

	empty := documentIndexed()
	empty.ChunkCount = 0 // an empty document
	roundTrip(t, event.TopicIndexed, empty, event.DecodeDocumentIndexed)
}

func TestContentType(t *testing.T) {
	if got, want := event.ContentType(&ragpipev1.ChunkEmbedded{}), "application/x-protobuf; messageType=ragpipe.v1.ChunkEmbedded"; got != want {
		t.Errorf("ContentType = %q, want %q", got, want)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	m := chunkParsed()
	for i := range 50 {
		m.Metadata[string(rune('a'+i%26))+strings.Repeat("x", i)] = "v"
	}
	first, _, err := event.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _, err := event.Encode(proto.Clone(m))
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(first) {
			t.Fatal("Encode is not deterministic")
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	bad := chunkParsed()
	bad.ChunkIndex = bad.ChunkCount
	badUTF8 := chunkParsed()
	badUTF8.Text = "\xff"
	for name, msg := range map[string]proto.Message{
		"nil":          nil,
		"typed nil":    (*ragpipev1.ChunkParsed)(nil),
		"invalid":      bad,
		"invalid utf8": badUTF8,
	} {
		v, h, err := event.Encode(msg)
		if err == nil {
			t.Errorf("%s: Encode = %v, %v, nil; want an error", name, v, h)
			continue
		}
		if c := fault.ClassOf(err); c != fault.ClassRecord {
			t.Errorf("%s: class %v, want record (%v)", name, c, err)
		}
		if _, err := event.NewRecord(event.TopicParsed, nil, msg); err == nil {
			t.Errorf("%s: NewRecord succeeded", name)
		}
	}
}

// record returns a record of TopicParsed holding value, with the given
// content-type header ("" for none).
func record(value []byte, contentType string) *kgo.Record {
	r := &kgo.Record{Topic: event.TopicParsed, Partition: 2, Offset: 99, Key: []byte("acme/d"), Value: value}
	if contentType != "" {
		r.Headers = []kgo.RecordHeader{{Key: event.HeaderContentType, Value: []byte(contentType)}}
	}
	return r
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAccepts(t *testing.T) {
	want := chunkParsed()
	value := mustMarshal(t, want)
	unknown := protowire.AppendTag(append([]byte(nil), value...), 1000, protowire.BytesType)
	unknown = protowire.AppendString(unknown, "from the future")

	tests := map[string]*kgo.Record{
		"no content-type":                 record(value, ""),
		"no messageType":                  record(value, "application/x-protobuf"),
		"application/protobuf":            record(value, "application/protobuf; messageType=ragpipe.v1.ChunkParsed"),
		"parameter name in another case":  record(value, "application/x-protobuf; MESSAGETYPE=ragpipe.v1.ChunkParsed"),
		"quoted parameter, extra params":  record(value, `Application/X-Protobuf; charset=binary; messageType="ragpipe.v1.ChunkParsed"`),
		"unknown fields (schema evolves)": record(unknown, "application/x-protobuf; messageType=ragpipe.v1.ChunkParsed"),
	}
	for name, r := range tests {
		got, err := event.DecodeChunkParsed(r)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got.ProtoReflect().SetUnknown(nil)
		if !proto.Equal(got, want) {
			t.Errorf("%s: decoded %v, want %v", name, got, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := mustMarshal(t, chunkParsed())
	ct := "application/x-protobuf; messageType=ragpipe.v1.ChunkParsed"
	with := func(edit func(*ragpipev1.ChunkParsed)) []byte {
		m := chunkParsed()
		edit(m)
		return mustMarshal(t, m)
	}
	// ChunkEmbedded shares fields 1-7 with ChunkParsed: only the header
	// tells them apart.
	embedded := mustMarshal(t, chunkEmbedded())

	tests := map[string]*kgo.Record{
		"wrong messageType":          record(valid, "application/x-protobuf; messageType=ragpipe.v1.ChunkEmbedded"),
		"misrouted ChunkEmbedded":    record(embedded, "application/x-protobuf; messageType=ragpipe.v1.ChunkEmbedded"),
		"not protobuf":               record(valid, "application/json"),
		"malformed content-type":     record(valid, "application/x-protobuf; messageType"),
		"garbage bytes":              record([]byte{0xff, 0xff, 0xff}, ct),
		"truncated":                  record(valid[:len(valid)-3], ct),
		"wrong wire type":            record(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), ct),
		"invalid UTF-8":              record(protowire.AppendString(protowire.AppendTag(nil, 6, protowire.BytesType), "\xff"), ct),
		"empty value (tombstone)":    record(nil, ct),
		"missing tenant_id":          record(with(func(m *ragpipev1.ChunkParsed) { m.TenantId = "" }), ct),
		"tenant_id with '/'":         record(with(func(m *ragpipev1.ChunkParsed) { m.TenantId = "a/b" }), ct),
		"missing doc_id":             record(with(func(m *ragpipev1.ChunkParsed) { m.DocId = "" }), ""),
		"negative doc_version":       record(with(func(m *ragpipev1.ChunkParsed) { m.DocVersion = -1 }), ct),
		"chunk_index = chunk_count":  record(with(func(m *ragpipev1.ChunkParsed) { m.ChunkIndex = m.ChunkCount }), ct),
		"negative chunk_index":       record(with(func(m *ragpipev1.ChunkParsed) { m.ChunkIndex = -1 }), ct),
		"chunk_count 0":              record(with(func(m *ragpipev1.ChunkParsed) { m.ChunkIndex, m.ChunkCount = 0, 0 }), ct),
		"chunk_index past the count": record(with(func(m *ragpipev1.ChunkParsed) { m.ChunkIndex = 10 }), ct),
	}
	for name, r := range tests {
		got, err := event.DecodeChunkParsed(r)
		if err == nil {
			t.Errorf("%s: decoded %v, want an error", name, got)
			continue
		}
		if got != nil {
			t.Errorf("%s: returned a message with the error", name)
		}
		if c := fault.ClassOf(err); c != fault.ClassRecord {
			t.Errorf("%s: class %v, want record (%v)", name, c, err)
		}
		if !strings.Contains(err.Error(), "documents.parsed[2]@99") {
			t.Errorf("%s: error %q does not name the record", name, err)
		}
	}
	if _, err := event.DecodeChunkParsed(nil); fault.ClassOf(err) != fault.ClassRecord {
		t.Errorf("DecodeChunkParsed(nil): %v, want a record error", err)
	}
}

func TestDecodeRejectsOtherMessages(t *testing.T) {
	noVector := chunkEmbedded()
	noVector.Vector = nil
	badChunk := chunkEmbedded()
	badChunk.ChunkIndex = 4
	negChunk := documentFailed()
	negChunk.ChunkIndex = proto.Int32(-1)
	noTenant := documentFailed()
	noTenant.TenantId = ""
	negCount := documentIndexed()
	negCount.ChunkCount = -1
	noDoc := documentIndexed()
	noDoc.DocId = ""
	noHash := catalogEntry()
	noHash.DocumentHash = ""

	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if c := fault.ClassOf(err); c != fault.ClassRecord {
			t.Errorf("%s: class %v, want record (%v)", name, c, err)
		}
	}
	rec := func(m proto.Message) *kgo.Record {
		return &kgo.Record{Value: mustMarshal(t, m), Headers: []kgo.RecordHeader{{
			Key: event.HeaderContentType, Value: []byte(event.ContentType(m)),
		}}}
	}
	_, err := event.DecodeChunkEmbedded(rec(noVector))
	check("embedded without vector", err)
	_, err = event.DecodeChunkEmbedded(rec(badChunk))
	check("embedded chunk_index out of range", err)
	_, err = event.DecodeDocumentFailed(rec(negChunk))
	check("failed with negative chunk_index", err)
	_, err = event.DecodeDocumentFailed(rec(noTenant))
	check("failed without tenant_id", err)
	_, err = event.DecodeDocumentIndexed(rec(negCount))
	check("indexed with negative chunk_count", err)
	_, err = event.DecodeDocumentIndexed(rec(noDoc))
	check("indexed without doc_id", err)
	_, err = event.DecodeDocumentIndexed(rec(chunkParsed()))
	check("indexed reading a ChunkParsed", err)
	_, err = event.DecodeCatalogEntry(rec(noHash))
	check("catalog entry without document_hash", err)
	_, err = event.DecodeCatalogEntry(rec(documentIndexed()))
	check("catalog entry reading a DocumentIndexed", err)
	for _, m := range []proto.Message{noVector, badChunk, negChunk, noTenant, negCount, noDoc, noHash} {
		if _, _, err := event.Encode(m); err == nil {
			t.Errorf("Encode(%v) accepted an invalid message", m)
		}
	}
}

func TestValidateJoinsErrors(t *testing.T) {
	err := event.Validate(&ragpipev1.ChunkParsed{DocVersion: -1, ChunkIndex: 2, ChunkCount: 1})
	for _, want := range []string{"tenant_id", "doc_id", "doc_version", "chunk_index"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not mention %s", err, want)
		}
	}
	if err := event.Validate(testTime); err != nil {
		t.Errorf("Validate of a message outside ragpipe.v1: %v", err)
	}
}
