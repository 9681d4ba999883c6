package event

import (
	"bytes"
	"strconv"
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
