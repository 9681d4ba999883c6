package event

import (
	"errors"
	"fmt"
	"mime"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

const (
	// HeaderContentType is the name of the header that says how a record's
	// value is encoded.
	HeaderContentType = "content-type"
	// MediaTypeProtobuf is the media type of protobuf binary values.
	MediaTypeProtobuf = "application/x-protobuf"
	// ParamMessageType is the content-type parameter that names the message
	// type, e.g. "ragpipe.v1.ChunkParsed".
	ParamMessageType = "messageType"
)

// mediaTypesProtobuf are the media types Decode accepts. Encode writes only
// MediaTypeProtobuf; "application/protobuf" is the registered name that
// other producers may use.
var mediaTypesProtobuf = [...]string{MediaTypeProtobuf, "application/protobuf"}

// ContentType returns the content-type header value for msg, e.g.
// "application/x-protobuf; messageType=ragpipe.v1.ChunkParsed".
func ContentType(msg proto.Message) string {
	return contentType(msg.ProtoReflect().Descriptor().FullName())
}

func contentType(name protoreflect.FullName) string {
	return MediaTypeProtobuf + "; " + ParamMessageType + "=" + string(name)
}

var marshalOptions = proto.MarshalOptions{Deterministic: true}

// Encode returns the record value and headers for msg: its protobuf binary
// encoding, with deterministic map order, and the content-type header.
//
// Messages of package ragpipe.v1 are checked first, as Decode checks them,
// so that a stage never writes a record that the next one would reject.
// Every error is a fault.Record error.
func Encode(msg proto.Message) (value []byte, headers []kgo.RecordHeader, err error) {
	if msg == nil {
		return nil, nil, fault.Record(errors.New("event: encode nil message"))
	}
	name := msg.ProtoReflect().Descriptor().FullName()
	if err := Validate(msg); err != nil {
		return nil, nil, fault.Record(fmt.Errorf("event: encode %s: %w", name, err))
	}
	value, err = marshalOptions.Marshal(msg)
	if err != nil {
		return nil, nil, fault.Record(fmt.Errorf("event: encode %s: %w", name, err))
	}
	headers = []kgo.RecordHeader{{Key: HeaderContentType, Value: []byte(contentType(name))}}
	return value, headers, nil
}

// NewRecord returns a record for topic with key and msg encoded by Encode.
// Callers add further headers (e.g. Lineage) to the returned record.
func NewRecord(topic string, key []byte, msg proto.Message) (*kgo.Record, error) {
	value, headers, err := Encode(msg)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers}, nil
}

// Decode decodes the value of r into msg, which must be an empty message of
// the type expected on r's topic.
//
// It fails if r has a content-type header that names another media type or
// message type, if the value is not a valid encoding of msg's type, or, for
// messages of package ragpipe.v1, if the message breaks the checks of
// Validate. Every error is a fault.Record error. Fields unknown to msg's
// type are not an error; they are kept in msg's unknown fields.
func Decode(r *kgo.Record, msg proto.Message) error {
	if r == nil {
		return fault.Record(errors.New("event: decode nil record"))
	}
	name := msg.ProtoReflect().Descriptor().FullName()
	if err := decode(r, msg, name); err != nil {
		return fault.Record(fmt.Errorf("event: decode %s from %s: %w", name, where(r), err))
	}
	return nil
}

func decode(r *kgo.Record, msg proto.Message, name protoreflect.FullName) error {
	if ct, ok := Header(r, HeaderContentType); ok {
		if err := checkContentType(ct, name); err != nil {
			return err
		}
	}
	if err := proto.Unmarshal(r.Value, msg); err != nil {
		return err
	}
	return Validate(msg)
}

// checkContentType accepts a protobuf media type whose messageType
// parameter, when present, is name.
func checkContentType(ct string, name protoreflect.FullName) error {
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("bad %s header %q: %w", HeaderContentType, ct, err)
	}
	known := false
	for _, mt := range mediaTypesProtobuf {
		known = known || mediaType == mt
	}
	if !known {
		return fmt.Errorf("%s %q is not protobuf", HeaderContentType, ct)
	}
	// ParseMediaType lowercases parameter names.
	if got, ok := params["messagetype"]; ok && got != string(name) {
		return fmt.Errorf("record holds %s, not %s", got, name)
	}
	return nil
}

// where names a record's position for error messages: "topic[partition]@offset".
func where(r *kgo.Record) string {
	return fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
}

// DecodeDocumentRaw decodes a record of TopicRaw; see Decode.
func DecodeDocumentRaw(r *kgo.Record) (*ragpipev1.DocumentRaw, error) {
	return decodeAs[ragpipev1.DocumentRaw](r)
}

// DecodeChunkParsed decodes a record of TopicParsed; see Decode.
func DecodeChunkParsed(r *kgo.Record) (*ragpipev1.ChunkParsed, error) {
	return decodeAs[ragpipev1.ChunkParsed](r)
}

// DecodeChunkEmbedded decodes a record of TopicEmbedded; see Decode.
func DecodeChunkEmbedded(r *kgo.Record) (*ragpipev1.ChunkEmbedded, error) {
	return decodeAs[ragpipev1.ChunkEmbedded](r)
}

// DecodeDocumentFailed decodes a record of TopicFailed; see Decode.
func DecodeDocumentFailed(r *kgo.Record) (*ragpipev1.DocumentFailed, error) {
	return decodeAs[ragpipev1.DocumentFailed](r)
}

// DecodeDocumentDeleted decodes a record of TopicDeleted; see Decode.
func DecodeDocumentDeleted(r *kgo.Record) (*ragpipev1.DocumentDeleted, error) {
	return decodeAs[ragpipev1.DocumentDeleted](r)
}

// DecodeDocumentIndexed decodes a record of TopicIndexed; see Decode.
func DecodeDocumentIndexed(r *kgo.Record) (*ragpipev1.DocumentIndexed, error) {
	return decodeAs[ragpipev1.DocumentIndexed](r)
}

// DecodeCatalogEntry decodes a record of TopicCatalog; see Decode. A
// tombstone (a record without a value) is not an entry: check for it first.
func DecodeCatalogEntry(r *kgo.Record) (*ragpipev1.CatalogEntry, error) {
	return decodeAs[ragpipev1.CatalogEntry](r)
}

func decodeAs[M any, PM interface {
	*M
	proto.Message
}](r *kgo.Record) (PM, error) {
	msg := PM(new(M))
	if err := Decode(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}
