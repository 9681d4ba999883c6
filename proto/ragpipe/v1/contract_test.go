package ragpipev1_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// TestFieldContract pins the name, number and type of every field. The
// stages depend on them; buf breaking checks the same against the committed
// baseline, this test also catches a baseline refreshed by mistake. Adding a
// field means adding a line here; changing a line means breaking the wire.
func TestFieldContract(t *testing.T) {
	want := map[string]string{
		"ragpipe.v1.ChunkParsed": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 chunk_index int32
5 chunk_count int32
6 text string
7 content_hash string
8 source string
9 title string
10 media_type string
11 heading string
12 token_count int32
13 metadata map<string,string>
14 parsed_at google.protobuf.Timestamp
15 document_hash string`,
		"ragpipe.v1.ChunkEmbedded": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 chunk_index int32
5 chunk_count int32
6 text string
7 content_hash string
8 source string
9 title string
10 heading string
11 vector repeated float
12 model string
13 embedded_at google.protobuf.Timestamp
14 metadata map<string,string>
15 parsed_at google.protobuf.Timestamp
16 document_hash string`,
		"ragpipe.v1.DocumentFailed": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 stage string
5 error_class string
6 error_message string
7 attempts int32
8 chunk_index optional int32
9 source string
10 failed_at google.protobuf.Timestamp`,
		"ragpipe.v1.DocumentIndexed": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 chunk_count int32
5 model string
6 dimensions int32
7 store string
8 indexed_at google.protobuf.Timestamp
9 parsed_at google.protobuf.Timestamp
10 ingest_to_searchable_ms int64
11 deleted bool`,
		"ragpipe.v1.DocumentRaw": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 media_type string
5 source string
6 content_hash string
7 content_size int64
8 metadata map<string,string>
9 content bytes
10 content_ref string
11 submitted_at google.protobuf.Timestamp`,
		"ragpipe.v1.DocumentDeleted": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 reason string
5 deleted_at google.protobuf.Timestamp`,
		"ragpipe.v1.CatalogEntry": `
1 tenant_id string
2 doc_id string
3 doc_version int64
4 document_hash string
5 source string
6 chunk_count int32
7 model string
8 dimensions int32
9 store string
10 indexed_at google.protobuf.Timestamp`,
	}
	msgs := []proto.Message{
		&ragpipev1.ChunkParsed{},
		&ragpipev1.ChunkEmbedded{},
		&ragpipev1.DocumentFailed{},
		&ragpipev1.DocumentIndexed{},
		&ragpipev1.DocumentRaw{},
		&ragpipev1.DocumentDeleted{},
		&ragpipev1.CatalogEntry{},
	}
	if len(msgs) != len(want) {
		t.Fatalf("test lists %d messages, want %d", len(msgs), len(want))
	}
	for _, m := range msgs {
		md := m.ProtoReflect().Descriptor()
		name := string(md.FullName())
		if got := describe(md); got != strings.TrimSpace(want[name]) {
			t.Errorf("%s fields:\n%s\nwant:\n%s", name, got, strings.TrimSpace(want[name]))
		}
	}
}

// TestFileCount makes sure every message of the package is in the contract
// test: a new message must be added there.
func TestFileCount(t *testing.T) {
	files := []protoreflect.FileDescriptor{
		ragpipev1.File_ragpipe_v1_chunk_parsed_proto,
		ragpipev1.File_ragpipe_v1_chunk_embedded_proto,
		ragpipev1.File_ragpipe_v1_document_failed_proto,
		ragpipev1.File_ragpipe_v1_document_indexed_proto,
		ragpipev1.File_ragpipe_v1_document_raw_proto,
		ragpipev1.File_ragpipe_v1_document_deleted_proto,
		ragpipev1.File_ragpipe_v1_catalog_entry_proto,
	}
	n := 0
	for _, f := range files {
		if f.Package() != "ragpipe.v1" {
			t.Errorf("%s: package %s, want ragpipe.v1", f.Path(), f.Package())
		}
		n += f.Messages().Len()
	}
	if n != 7 {
		t.Errorf("%d messages, want 7", n)
	}
}

func describe(md protoreflect.MessageDescriptor) string {
	var b strings.Builder
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d %s %s", f.Number(), f.Name(), typeOf(f))
	}
	return b.String()
}

func typeOf(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return fmt.Sprintf("map<%s,%s>", typeOf(f.MapKey()), typeOf(f.MapValue()))
	case f.IsList():
		return "repeated " + kindOf(f)
	case f.HasOptionalKeyword():
		return "optional " + kindOf(f)
	default:
		return kindOf(f)
	}
}

func kindOf(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	default:
		return f.Kind().String()
	}
}
