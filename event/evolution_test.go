package event_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/ragpipe/ragpipe/event"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

// These tests play a rolling upgrade: one stage runs a newer schema that
// added fields, the other still runs the compiled (current) schema.
//
// The newer schema is built at test time from the compiled one: its file
// descriptor is copied, fields are added with fresh numbers, and
// protodesc.NewFile makes a new descriptor of it. That descriptor is never
// registered, so it keeps the real file path, package and message names,
// and the records written with it carry the same content-type header as a
// real newer stage would write. dynamicpb encodes and decodes with it.

// evolve returns the descriptor of message name from the compiled file fd,
// after edit has changed a copy of its descriptor proto.
func evolve(t *testing.T, fd protoreflect.FileDescriptor, name string, edit func(*descriptorpb.DescriptorProto)) protoreflect.MessageDescriptor {
	t.Helper()
	fdp := protodesc.ToFileDescriptorProto(fd)
	var found *descriptorpb.DescriptorProto
	for _, m := range fdp.GetMessageType() {
		if m.GetName() == name {
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no message %s in %s", name, fd.Path())
	}
	edit(found)
	newer, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("building the newer schema: %v", err)
	}
	return newer.Messages().ByName(protoreflect.Name(name))
}

// nextNumber returns a field number that m does not use.
func nextNumber(m *descriptorpb.DescriptorProto) int32 {
	n := int32(0)
	for _, f := range m.GetField() {
		n = max(n, f.GetNumber())
	}
	return n + 1
}

func addField(m *descriptorpb.DescriptorProto, name string, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string) {
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		JsonName: proto.String(name),
		Number:   proto.Int32(nextNumber(m)),
		Type:     typ.Enum(),
		Label:    label.Enum(),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	m.Field = append(m.Field, f)
}

// newerChunkParsed adds "string language" to ChunkParsed.
func newerChunkParsed(t *testing.T) protoreflect.MessageDescriptor {
	return evolve(t, ragpipev1.File_ragpipe_v1_chunk_parsed_proto, "ChunkParsed", func(m *descriptorpb.DescriptorProto) {
		addField(m, "language", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, "")
	})
}

// newerChunkEmbedded adds "bool normalized" and a nested message field
// "SparseVector sparse" to ChunkEmbedded.
func newerChunkEmbedded(t *testing.T) protoreflect.MessageDescriptor {
	return evolve(t, ragpipev1.File_ragpipe_v1_chunk_embedded_proto, "ChunkEmbedded", func(m *descriptorpb.DescriptorProto) {
		addField(m, "normalized", descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, "")
		m.NestedType = append(m.NestedType, &descriptorpb.DescriptorProto{
			Name: proto.String("SparseVector"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("indices"), JsonName: proto.String("indices"), Number: proto.Int32(1),
					Type: descriptorpb.FieldDescriptorProto_TYPE_UINT32.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()},
				{Name: proto.String("values"), JsonName: proto.String("values"), Number: proto.Int32(2),
					Type: descriptorpb.FieldDescriptorProto_TYPE_FLOAT.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()},
			},
		})
		addField(m, "sparse", descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL,
			".ragpipe.v1.ChunkEmbedded.SparseVector")
	})
}

// asNewer returns old as a message of the newer schema md, with the same
// known fields: what a newer stage would hold for the same chunk.
func asNewer(t *testing.T, md protoreflect.MessageDescriptor, old proto.Message) *dynamicpb.Message {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(mustMarshal(t, old), m); err != nil {
		t.Fatal(err)
	}
	if len(m.GetUnknown()) != 0 {
		t.Fatal("the newer schema lost a field of the current one")
	}
	return m
}

func field(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	return md.Fields().ByName(protoreflect.Name(name))
}

func TestOldConsumerReadsNewerChunkParsed(t *testing.T) {
	md := newerChunkParsed(t)
	want := chunkParsed()
	newer := asNewer(t, md, want)
	newer.Set(field(md, "language"), protoreflect.ValueOfString("de"))

	r, err := event.NewRecord(event.TopicParsed, event.Key(want.TenantId, want.DocId), newer)
	if err != nil {
		t.Fatal(err)
	}
	if ct, _ := event.Header(r, event.HeaderContentType); ct != event.ContentType(want) {
		t.Fatalf("newer writer's content-type %q, want %q", ct, event.ContentType(want))
	}

	got, err := event.DecodeChunkParsed(r)
	if err != nil {
		t.Fatalf("the current schema rejects a newer record: %v", err)
	}
	if len(got.ProtoReflect().GetUnknown()) == 0 {
		t.Error("the new field was not kept as an unknown field")
	}
	// The unknown field survives re-encoding: a newer reader downstream
	// still sees it.
	again := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(mustMarshal(t, got), again); err != nil {
		t.Fatal(err)
	}
	if lang := again.Get(field(md, "language")).String(); lang != "de" {
		t.Errorf("language after a trip through the current schema = %q, want de", lang)
	}
	got.ProtoReflect().SetUnknown(nil)
	if !proto.Equal(got, want) {
		t.Errorf("known fields: got %v, want %v", got, want)
	}
}

func TestOldConsumerReadsNewerChunkEmbedded(t *testing.T) {
	md := newerChunkEmbedded(t)
	want := chunkEmbedded()
	newer := asNewer(t, md, want)
	newer.Set(field(md, "normalized"), protoreflect.ValueOfBool(true))
	sparse := newer.Mutable(field(md, "sparse")).Message()
	indices := sparse.Mutable(sparse.Descriptor().Fields().ByName("indices")).List()
	values := sparse.Mutable(sparse.Descriptor().Fields().ByName("values")).List()
	for i, v := range map[uint32]float32{3: 0.5, 17: 0.25} {
		indices.Append(protoreflect.ValueOfUint32(i))
		values.Append(protoreflect.ValueOfFloat32(v))
	}

	r, err := event.NewRecord(event.TopicEmbedded, event.Key(want.TenantId, want.DocId), newer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.DecodeChunkEmbedded(r)
	if err != nil {
		t.Fatalf("the current schema rejects a newer record: %v", err)
	}
	if len(got.ProtoReflect().GetUnknown()) == 0 {
		t.Error("the new fields were not kept as unknown fields")
	}
	got.ProtoReflect().SetUnknown(nil)
	if !proto.Equal(got, want) {
		t.Errorf("known fields: got %v, want %v", got, want)
	}
}

func TestNewerConsumerReadsOldRecords(t *testing.T) {
	tests := []struct {
		topic     string
		md        protoreflect.MessageDescriptor
		old       proto.Message
		newFields []string
	}{
		{event.TopicParsed, newerChunkParsed(t), chunkParsed(), []string{"language"}},
		{event.TopicEmbedded, newerChunkEmbedded(t), chunkEmbedded(), []string{"normalized", "sparse"}},
	}
	for _, tt := range tests {
		name := tt.md.FullName()
		r, err := event.NewRecord(tt.topic, event.Key("acme", "d"), tt.old)
		if err != nil {
			t.Fatal(err)
		}
		got := dynamicpb.NewMessage(tt.md)
		if err := event.Decode(r, got); err != nil {
			t.Fatalf("%s: the newer schema rejects an old record: %v", name, err)
		}
		for _, f := range tt.newFields {
			fd := field(tt.md, f)
			if got.Has(fd) {
				t.Errorf("%s: new field %s is set in an old record: %v", name, f, got.Get(fd))
			}
		}
		if fd := field(tt.md, tt.newFields[0]); got.Get(fd).Interface() != fd.Default().Interface() {
			t.Errorf("%s: %s = %v, want its zero value", name, fd.Name(), got.Get(fd))
		}
		// The known fields are intact: back in the current schema, the
		// message equals the one written.
		back := tt.old.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(mustMarshal(t, got), back); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(back, tt.old) {
			t.Errorf("%s: known fields: got %v, want %v", name, back, tt.old)
		}
		if got.Get(field(tt.md, "doc_version")).Int() != 3 || got.Get(field(tt.md, "tenant_id")).String() != "acme" {
			t.Errorf("%s: known fields not read by the newer schema: %v", name, got)
		}
	}
}

// withoutField returns the descriptor of message name from fd as it was
// before field was added: what a stage not yet upgraded compiles.
func withoutField(t *testing.T, fd protoreflect.FileDescriptor, name, field string) protoreflect.MessageDescriptor {
	return evolve(t, fd, name, func(m *descriptorpb.DescriptorProto) {
		kept := m.Field[:0]
		for _, f := range m.GetField() {
			if f.GetName() != field {
				kept = append(kept, f)
			}
		}
		m.Field = kept
	})
}

// document_hash was added to ChunkParsed and ChunkEmbedded: a stage that
// predates it passes it on untouched, and a record written before it reads
// as "not known" (empty), which the index stage does not catalog.
func TestDocumentHashAcrossVersions(t *testing.T) {
	tests := []struct {
		topic  string
		md     protoreflect.MessageDescriptor
		msg    proto.Message
		decode func(*kgo.Record) (string, error)
	}{
		{event.TopicParsed, withoutField(t, ragpipev1.File_ragpipe_v1_chunk_parsed_proto, "ChunkParsed", "document_hash"), chunkParsed(),
			func(r *kgo.Record) (string, error) {
				m, err := event.DecodeChunkParsed(r)
				return m.GetDocumentHash(), err
			}},
		{event.TopicEmbedded, withoutField(t, ragpipev1.File_ragpipe_v1_chunk_embedded_proto, "ChunkEmbedded", "document_hash"), chunkEmbedded(),
			func(r *kgo.Record) (string, error) {
				m, err := event.DecodeChunkEmbedded(r)
				return m.GetDocumentHash(), err
			}},
	}
	for _, tt := range tests {
		name := tt.md.FullName()
		// A current writer, a previous reader that re-encodes what it read.
		old := dynamicpb.NewMessage(tt.md)
		if err := proto.Unmarshal(mustMarshal(t, tt.msg), old); err != nil {
			t.Fatal(err)
		}
		if tt.md.Fields().ByName("document_hash") != nil || len(old.GetUnknown()) == 0 {
			t.Fatalf("%s: the previous schema should keep document_hash as an unknown field", name)
		}
		r, err := event.NewRecord(tt.topic, event.Key("acme", "d"), old)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tt.decode(r); err != nil || got != "sha256:2c26b46b68ffc68f" {
			t.Errorf("%s: document_hash after a previous stage = %q, %v; want it kept", name, got, err)
		}
		// A previous writer: no hash, and the record is still valid.
		old.SetUnknown(nil)
		r, err = event.NewRecord(tt.topic, event.Key("acme", "d"), old)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tt.decode(r); err != nil || got != "" {
			t.Errorf("%s: document_hash of a previous writer's record = %q, %v; want empty", name, got, err)
		}
	}
}
