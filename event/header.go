package event

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Lineage headers, added by a stage to each record it writes, name the input
// record the output was derived from.
const (
	HeaderSourceTopic     = "ragpipe.source.topic"
	HeaderSourcePartition = "ragpipe.source.partition"
	HeaderSourceOffset    = "ragpipe.source.offset"
)

// Dead-letter headers, appended by DeadLetter. Partition, offset and
// attempts are decimal integers; times are RFC 3339 with nanoseconds, in
// UTC.
const (
	HeaderDLQTopic        = "ragpipe.dlq.topic"
	HeaderDLQPartition    = "ragpipe.dlq.partition"
	HeaderDLQOffset       = "ragpipe.dlq.offset"
	HeaderDLQStage        = "ragpipe.dlq.stage"
	HeaderDLQErrorClass   = "ragpipe.dlq.error.class"
	HeaderDLQErrorMessage = "ragpipe.dlq.error.message"
	HeaderDLQAttempts     = "ragpipe.dlq.attempts"
	HeaderDLQFirstFailure = "ragpipe.dlq.first.failure"
	HeaderDLQLastFailure  = "ragpipe.dlq.last.failure"
)

// Kafka Connect's dead-letter headers, also appended by DeadLetter so that
// tools written for Connect's dead-letter queues read ours.
const (
	HeaderConnectTopic            = "__connect.errors.topic"
	HeaderConnectPartition        = "__connect.errors.partition"
	HeaderConnectOffset           = "__connect.errors.offset"
	HeaderConnectExceptionMessage = "__connect.errors.exception.message"
)

// MaxErrorMessageBytes bounds the error message written to dead-letter
// headers, so that a huge error cannot make the dead letter too large to
// produce. Longer messages are cut at a UTF-8 boundary and end with
// "...[truncated]".
const MaxErrorMessageBytes = 4096

const truncatedSuffix = "...[truncated]"

// Header returns the value of the last header of r named name (names are
// case-sensitive), and whether there is one.
func Header(r *kgo.Record, name string) (string, bool) {
	if r == nil {
		return "", false
	}
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == name {
			return string(r.Headers[i].Value), true
		}
	}
	return "", false
}

// Lineage returns the headers that name in as the source of a record
// derived from it: its topic, partition and offset.
func Lineage(in *kgo.Record) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		header(HeaderSourceTopic, in.Topic),
		header(HeaderSourcePartition, strconv.FormatInt(int64(in.Partition), 10)),
		header(HeaderSourceOffset, strconv.FormatInt(in.Offset, 10)),
	}
}

// DeadLetterInfo says why a record is dead-lettered.
type DeadLetterInfo struct {
	// Stage is the stage that gave up, e.g. "embed".
	Stage string
	// ErrorClass is the class of the last error, fault.Class.String().
	ErrorClass string
	// ErrorMessage is the text of the last error; it is cut to
	// MaxErrorMessageBytes.
	ErrorMessage string
	// Attempts is the number of attempts made.
	Attempts int
	// FirstFailure and LastFailure are the times of the first and last
	// failed attempts. A zero time omits its header.
	FirstFailure, LastFailure time.Time
}

// DeadLetter returns the record to write to dlqTopic for the failed record
// in: a copy of in's key, value and headers, followed by the ragpipe.dlq.*
// headers and Kafka Connect's __connect.errors.* headers. Partition,
// offset and timestamp are left for the producer to set; in is not changed.
func DeadLetter(in *kgo.Record, dlqTopic string, info DeadLetterInfo) *kgo.Record {
	partition := strconv.FormatInt(int64(in.Partition), 10)
	offset := strconv.FormatInt(in.Offset, 10)
	message := truncate(info.ErrorMessage, MaxErrorMessageBytes)

	headers := make([]kgo.RecordHeader, 0, len(in.Headers)+13)
	for _, h := range in.Headers {
		headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	headers = append(headers,
		header(HeaderDLQTopic, in.Topic),
		header(HeaderDLQPartition, partition),
		header(HeaderDLQOffset, offset),
		header(HeaderDLQStage, info.Stage),
		header(HeaderDLQErrorClass, info.ErrorClass),
		header(HeaderDLQErrorMessage, message),
		header(HeaderDLQAttempts, strconv.Itoa(info.Attempts)),
	)
	if !info.FirstFailure.IsZero() {
		headers = append(headers, header(HeaderDLQFirstFailure, formatTime(info.FirstFailure)))
	}
	if !info.LastFailure.IsZero() {
		headers = append(headers, header(HeaderDLQLastFailure, formatTime(info.LastFailure)))
	}
	headers = append(headers,
		header(HeaderConnectTopic, in.Topic),
		header(HeaderConnectPartition, partition),
		header(HeaderConnectOffset, offset),
		header(HeaderConnectExceptionMessage, message),
	)
	return &kgo.Record{
		Topic:   dlqTopic,
		Key:     bytes.Clone(in.Key),
		Value:   bytes.Clone(in.Value),
		Headers: headers,
	}
}

func header(key, value string) kgo.RecordHeader {
	return kgo.RecordHeader{Key: key, Value: []byte(value)}
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// truncate cuts s to at most limit bytes, at a UTF-8 boundary, marking the
// cut with truncatedSuffix.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := limit - len(truncatedSuffix)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + truncatedSuffix
}

// Replay headers, added by `ragpipe dlq replay` to each record it
// republishes from the dead-letter topic. The count is a decimal integer:
// how many times the record has been replayed, 1 for the first replay. The
// id is one random id per replay run. The original topic, partition and
// offset say where the record was when it failed (the dead letter's
// ragpipe.dlq.topic, partition and offset headers, which a replay drops).
const (
	HeaderReplayCount             = "ragpipe.replay.count"
	HeaderReplayID                = "ragpipe.replay.id"
	HeaderReplayOriginalTopic     = "ragpipe.replay.original.topic"
	HeaderReplayOriginalPartition = "ragpipe.replay.original.partition"
	HeaderReplayOriginalOffset    = "ragpipe.replay.original.offset"
)

// HeaderIngestID is added by ingest to every ChunkParsed it writes: one
// random id per ingest run.
const HeaderIngestID = "ragpipe.ingest.id"

// Delivery returns the delivery a record belongs to: its replay id when it
// was replayed, else its ingest run id, else "" (records written before
// these headers existed). The failure memory of the embed stage and the
// store's tombstones are per delivery, so that a replay or a fresh ingest
// of a failed version is processed again while the rest of the failed
// delivery stays skipped.
func Delivery(r *kgo.Record) string {
	if id, ok := Header(r, HeaderReplayID); ok && id != "" {
		return id
	}
	id, _ := Header(r, HeaderIngestID)
	return id
}

// ReplayCount returns the value of the record's ragpipe.replay.count
// header, 0 when it has none or it is not a number.
func ReplayCount(r *kgo.Record) int {
	v, ok := Header(r, HeaderReplayCount)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// DeliveryHeaders returns copies of the headers of in that name its
// delivery (ragpipe.ingest.id and ragpipe.replay.*), for a stage to carry
// them onto the records it derives from in.
func DeliveryHeaders(in *kgo.Record) []kgo.RecordHeader {
	var out []kgo.RecordHeader
	for _, h := range in.Headers {
		if IsDeliveryHeader(h.Key) {
			out = append(out, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
		}
	}
	return out
}

// IsDeliveryHeader reports whether a header name is ragpipe.ingest.id or
// one of the ragpipe.replay.* headers.
func IsDeliveryHeader(name string) bool {
	return name == HeaderIngestID || strings.HasPrefix(name, "ragpipe.replay.")
}

// IsDeadLetterHeader reports whether a header name is one of those that
// DeadLetter appends (ragpipe.dlq.* and __connect.errors.*).
func IsDeadLetterHeader(name string) bool {
	return strings.HasPrefix(name, "ragpipe.dlq.") || strings.HasPrefix(name, "__connect.errors.")
}

// NewID returns a random id (a version 4 UUID) for a replay or ingest run.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
