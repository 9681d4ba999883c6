package fault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Class is the kind of failure; see the package documentation.
type Class int

const (
	// ClassServer is a failure of the server or the network: retry later.
	ClassServer Class = iota
	// ClassRecord is a failure caused by one record's content.
	ClassRecord
	// ClassBatch is a failure caused by the size of a request: split it.
	ClassBatch
	// ClassFatal is a failure no retry can fix (rejected credentials, a
	// wrong URL): the worker stops with a clear message.
	ClassFatal
)

// String returns the name used in logs, metrics and dead-letter headers.
func (c Class) String() string {
	switch c {
	case ClassRecord:
		return "record"
	case ClassBatch:
		return "batch"
	case ClassFatal:
		return "fatal"
	default:
		return "server"
	}
}

// Error is a classified error.
type Error struct {
	Class Class
	// RetryAfter is the server's requested delay before the next try, when
	// it gave one (HTTP Retry-After). Zero means no hint.
	RetryAfter time.Duration
	// Index is the position of the offending input within a batch request,
	// or -1 when the server did not say which input was at fault.
	Index int
	Err   error
}

func (e *Error) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("%s error (input %d): %v", e.Class, e.Index, e.Err)
	}
	return fmt.Sprintf("%s error: %v", e.Class, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Record marks err as caused by one record's content.
func Record(err error) error { return wrap(ClassRecord, -1, err) }

// RecordAt marks err as caused by the input at position index of a batch.
func RecordAt(index int, err error) error { return wrap(ClassRecord, index, err) }

// Fatal marks err as one that no retry can fix.
func Fatal(err error) error { return wrap(ClassFatal, -1, err) }

// Batch marks err as caused by the size of a request.
func Batch(err error) error { return wrap(ClassBatch, -1, err) }

// Server marks err as a failure of the server; retryAfter may be zero.
func Server(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return &Error{Class: ClassServer, RetryAfter: retryAfter, Index: -1, Err: err}
}

func wrap(c Class, index int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: c, Index: index, Err: err}
}

// ClassOf returns the class of err. Unclassified errors, including context
// cancellation, are ClassServer: they are retried, never dead-lettered.
func ClassOf(err error) Class {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Class
	}
	return ClassServer
}

// RetryAfterOf returns the server's Retry-After hint carried by err, if any.
func RetryAfterOf(err error) time.Duration {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.RetryAfter
	}
	return 0
}

// IndexOf returns the batch position named by a record error, or -1.
func IndexOf(err error) int {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Index
	}
	return -1
}

// IsCanceled reports whether err comes from a canceled or expired context,
// which is neither the record's nor the server's fault.
func IsCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// IsFatal reports whether err is of ClassFatal: no retry can fix it, and
// the worker must stop (see the package documentation).
func IsFatal(err error) bool { return ClassOf(err) == ClassFatal }
